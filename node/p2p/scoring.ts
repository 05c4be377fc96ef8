// Gossipsub peer scoring for the validator mesh (pure: the standing of a peer and gossipsub's own
// IP-colocation term are passed in). Gossipsub computes per peer
//   score = min(cap, sum over topics of weight x (P1 + P2 + P3 + P3b + P4)) + P5 + P6 + P7
// and acts on thresholds: below 0 a peer is pruned from the topic mesh, below `gossipThreshold` it
// gets no gossip (IHAVE), below `publishThreshold` no flood-published messages, below
// `graylistThreshold` every RPC it sends is dropped unread. The choices (docs/p2p.md, "Peer scoring"):
//
// - P5, application score: +VALIDATOR_BONUS for a peer admitted by stake (a binding of a validator
//   hotkey). It keeps honest validators above 0 in quiet periods and is small enough that P4 wins.
// - P6, IP colocation: gossipsub's default (-5 x (peers on one IP - 10)^2) stays on, but P5 cancels it
//   exactly for admitted validators and for peers still in their admission grace: admission is by
//   stake, not by address, and 64 validators on one host, NAT or devnet must not fall below the
//   graylist (gossip stopped silently before); a peer in its grace window exchanges subscriptions
//   with gossipsub while its hello is in flight, and a graylisted peer's subscriptions are dropped
//   for good. Everyone else (a refused or never-admitted peer) carries the full P6 penalty.
// - P4, invalid messages, on every topic: a message that fails a signature or schema check (the
//   mesh's `strike` verdicts: bad envelope or report signature, undecodable envelope, report,
//   consensus message or binding, impersonation) costs weight x count^2: one such message takes a
//   validator below 0, two below `publishThreshold`, three below `graylistThreshold`. Verdicts an
//   honest forwarder can produce (an author not yet known here, a stale run) are `ignore`, not P4.
// - P3, mesh message deliveries, on the consensus topic only: every member sends at least three
//   consensus messages per run (its report, a prepare and a commit vote), so a mesh peer that
//   delivered less than one message over ~1.2 run intervals is withholding or cut off; it goes just
//   below 0 (pruned from the mesh, still above `gossipThreshold`, still reached by flood publishing).
//   Windows and decays are sized to the run interval (`runIntervalMs`, tempo + 1 blocks). The reports
//   topic carries one message per author per run and bindings one a minute: too few for P3.
// - P1/P2 reward time in the mesh and first deliveries a little (capped by topicScoreCap).
// - P7 (broken IWANT promises, GRAFT floods): gossipsub's defaults.
import type { GossipKind } from '../../proto/gossip.ts';

export const VALIDATOR_BONUS = 5;
export const P4_WEIGHT = -20;
export const P3_WEIGHT = -8;

/** Peers scored as validators (admitted by stake), peers within their admission grace, and the rest. */
export type Standing = 'validator' | 'pending' | 'other';

export interface ScoringInputs {
  /** Topic name of each gossip kind (this netuid's). */
  topics: Record<GossipKind, string>;
  /** Expected time between runs (tempo + 1 blocks). */
  runIntervalMs: number;
  standing(peer: string): Standing;
  /** Gossipsub's P6 term for `peer` as it computes it (0 or negative). */
  colocation(peer: string): number;
}

export const SCORE_THRESHOLDS = {
  gossipThreshold: -10,
  publishThreshold: -50,
  graylistThreshold: -80,
  // peer exchange is off (doPX false); never take PX from anyone
  acceptPXThreshold: 1_000,
  opportunisticGraftThreshold: 3,
};

/** Per-second decay factor that takes a counter from `from` down to `to` in `ms`. */
export function decayOver(ms: number, from: number, to: number): number {
  const steps = Math.max(1, ms / 1000);
  return Math.min(0.9999, Math.max(0.01, (to / from) ** (1 / steps)));
}

const zeroP3 = { meshMessageDeliveriesWeight: 0, meshFailurePenaltyWeight: 0 };

export function peerScoreParams(x: ScoringInputs): Record<string, unknown> {
  const run = Math.max(10_000, x.runIntervalMs);
  const invalid = { invalidMessageDeliveriesWeight: P4_WEIGHT, invalidMessageDeliveriesDecay: decayOver(10 * 60_000, 10, 0.1) };
  const common = {
    timeInMeshWeight: 0.01, timeInMeshQuantum: 1000, timeInMeshCap: 100,
    firstMessageDeliveriesWeight: 0.5, firstMessageDeliveriesDecay: decayOver(run, 10, 1), firstMessageDeliveriesCap: 10,
    meshMessageDeliveriesDecay: 0.5, meshMessageDeliveriesCap: 10, meshMessageDeliveriesThreshold: 1,
    meshMessageDeliveriesWindow: 100, meshMessageDeliveriesActivation: run, meshFailurePenaltyDecay: 0.5,
    ...invalid,
  };
  const consensusP3 = {
    meshMessageDeliveriesWeight: P3_WEIGHT,
    meshMessageDeliveriesThreshold: 1,
    meshMessageDeliveriesCap: 20,
    // three deliveries a run fall to the threshold after 1.2 run intervals
    meshMessageDeliveriesDecay: decayOver(1.2 * run, 3, 1),
    meshMessageDeliveriesActivation: Math.round(1.2 * run),
    // (loaded hosts) a forward this long after the first copy still counts as a mesh delivery
    meshMessageDeliveriesWindow: 100,
    meshFailurePenaltyWeight: -2,
    meshFailurePenaltyDecay: decayOver(1.2 * run, 3, 1),
  };
  return {
    topics: {
      [x.topics.report]: { topicWeight: 1, ...common, ...zeroP3 },
      [x.topics.consensus]: { topicWeight: 1, ...common, ...consensusP3 },
      [x.topics.binding]: { topicWeight: 0.5, ...common, ...zeroP3 },
    },
    topicScoreCap: 20,
    appSpecificWeight: 1,
    appSpecificScore: (peer: string) => appScore(x.standing(peer), x.colocation(peer)),
    // gossipsub's defaults, stated: for peers that are neither validators nor pending
    IPColocationFactorWeight: -5,
    IPColocationFactorThreshold: 10,
    decayInterval: 1000,
    decayToZero: 0.01,
  };
}

/** P5: the validator bonus, plus the exact opposite of gossipsub's P6 for validators and pending peers. */
export function appScore(standing: Standing, colocation: number): number {
  if (standing === 'validator') return VALIDATOR_BONUS - colocation;
  if (standing === 'pending') return -colocation;
  return 0;
}

/**
 * Gossipsub's P6 for `peer` from its `peerIPs` table (ip → peers): weight x (peers on the ip − threshold)^2
 * summed over the peer's IPs, as gossipsub's computeScore does.
 */
export function colocationTerm(peer: string, peerIPs: Map<string, Set<string>>, weight = -5, threshold = 10): number {
  let p6 = 0;
  for (const peers of peerIPs.values()) {
    if (!peers.has(peer)) continue;
    const surplus = peers.size - threshold;
    if (surplus > 0) p6 += weight * surplus * surplus;
  }
  return p6;
}

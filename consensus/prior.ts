// Verification of a certified run (a commit certificate plus the bindings of its voters) with chain
// data alone: the validator set at the run's start block. Used by a member that lacks the certificate
// a proposal takes its incumbent from, by the simulator, and by `conclave audit`.
//
// Every vote must be a commit vote for the certificate's decision, signed by a node key that a valid
// binding (hotkey signature + node-key countersignature, on this chain and subnet) attributes to a
// member; one vote per member; the members behind the votes hold more than the threshold of the
// validator set's stake.
import { decisionHash, type CertifiedRun, type Decision } from '../proto/consensus.ts';
import { normaliseGenesisHash, verifyBindingSignatures, type BindingRecord } from '../proto/binding.ts';
import type { Verifier } from './equivocation.ts';
import { verifyVoteSignature } from './equivocation.ts';
import { meetsThreshold, type Threshold } from './validator-set.ts';

export interface CertifiedRunContext {
  netuid: number;
  genesisHash: string;
  /** The validator set at the certified run's start block (permit, stake >= min stake). */
  members: readonly { hotkey: string; stake: bigint }[];
  threshold: Threshold;
}

export type CertifiedRunCheck =
  | { ok: true; runId: number; decision: Decision; decisionHash: string; voters: { hotkey: string; nodeKey: string; stake: bigint }[]; power: bigint; total: bigint }
  | { ok: false; reason: string };

/**
 * Checks a certified run. Bindings are checked for signatures and scope only, not for expiry: a
 * binding attributes a node key to a hotkey, and the run may be long past. `bindingCheck` lets a
 * caller memoise or count the (sr25519 + ed25519) binding checks; it defaults to the real check.
 */
export function verifyCertifiedRun(x: CertifiedRun, ctx: CertifiedRunContext, verifier: Verifier, bindingCheck: (b: BindingRecord) => boolean = (b) => verifyBindingSignatures(b).ok): CertifiedRunCheck {
  const cert = x.certificate;
  if (cert.phase !== 'commit') return { ok: false, reason: 'not a commit certificate' };
  const d = cert.decision;
  if (d.netuid !== ctx.netuid) return { ok: false, reason: `certificate is for netuid ${d.netuid}, expected ${ctx.netuid}` };
  let genesis: string;
  try {
    genesis = normaliseGenesisHash(ctx.genesisHash);
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  let hash: string;
  try {
    hash = decisionHash(d);
  } catch (err) {
    return { ok: false, reason: `decision does not encode: ${(err as Error).message}` };
  }
  const stakeOf = new Map(ctx.members.map((m) => [m.hotkey, m.stake]));
  const total = ctx.members.reduce((s, m) => s + m.stake, 0n);
  // node key -> hotkey, from the bindings that verify; a node key bound to two hotkeys attributes nothing
  const byNode = new Map<string, string | null>();
  for (const b of x.bindings) {
    if (b.genesisHash !== genesis || b.netuid !== ctx.netuid) continue;
    const prev = byNode.get(b.nodePublicKey);
    if (prev === null || prev === b.hotkey) continue;
    if (!bindingCheck(b)) continue;
    byNode.set(b.nodePublicKey, prev === undefined ? b.hotkey : null);
  }
  const seen = new Set<string>();
  const voters: { hotkey: string; nodeKey: string; stake: bigint }[] = [];
  let power = 0n;
  for (const v of cert.votes) {
    if (v.phase !== 'commit' || v.view !== cert.view || v.decisionHash !== hash || v.netuid !== d.netuid || v.runId !== d.runId) {
      return { ok: false, reason: `vote by ${v.voter.slice(0, 16)}… is not a commit vote for this decision` };
    }
    const hotkey = byNode.get(v.voter);
    if (hotkey === undefined) return { ok: false, reason: `no valid binding on this chain and subnet attributes voter node key ${v.voter.slice(0, 16)}… to a hotkey` };
    if (hotkey === null) return { ok: false, reason: `voter node key ${v.voter.slice(0, 16)}… is bound to two hotkeys (equivocation): its vote attributes to neither` };
    const stake = stakeOf.get(hotkey);
    if (stake === undefined) return { ok: false, reason: `voter ${hotkey} was not a member of the validator set at block ${d.runId}` };
    if (seen.has(hotkey)) return { ok: false, reason: `two votes attributed to ${hotkey}` };
    if (!verifyVoteSignature(v, verifier)) return { ok: false, reason: `vote signature of ${hotkey} does not verify` };
    seen.add(hotkey);
    voters.push({ hotkey, nodeKey: v.voter, stake });
    power += stake;
  }
  if (!meetsThreshold(power, total, ctx.threshold)) {
    return { ok: false, reason: `votes hold ${power} of ${total} stake: not more than ${ctx.threshold.num}/${ctx.threshold.den}` };
  }
  return { ok: true, runId: d.runId, decision: d, decisionHash: hash, voters, power, total };
}

// Byzantine behaviours of the scale harness, acting on a running node from outside through the mesh's
// public API with the node's own keys (the node itself runs unmodified code). They stay dormant until
// the orchestrator switches them on, so one network serves honest and Byzantine runs:
//   equivocate  every reveal it publishes is followed by a second reveal of a different report signed by
//               the same hotkey (it cannot open the salted commitment on chain), and every prepare/commit
//               vote by a second vote for another decision (same view and phase), signed by the same
//               node key;
//   withhold    commits its salted report commitment on chain (the node does), then never reveals the
//               report and never sends a consensus message (like dev.fault = "silent", but switchable);
//   flood       on the orchestrator's word, sends `rate` invalid messages a second on the reports topic
//               (bit-flipped envelope signatures, undecodable bytes): gossipsub P4 and the mesh's
//               strikes must push it out while honest peers stay in the mesh.
import { randomBytes } from 'node:crypto';
import type { Mesh } from '../../node/p2p/mesh.ts';
import { decodeMessage, encodeMessage, signVote } from '../../proto/consensus.ts';
import { signScoreReport } from '../../proto/score-report.ts';
import { decodeReveal, encodeReveal } from '../../proto/reveal.ts';
import type { Ed25519Signer, Sr25519Signer } from '../../proto/signer.ts';

export interface ByzantineStats {
  secondReports: number;
  conflictingVotes: number;
  withheld: number;
  floodSent: number;
}

/** Switched by the orchestrator: Byzantine behaviour happens only while `active`. */
export const byzantineSwitch = { active: false };

/** Wraps the mesh's publish calls so that each report and vote is followed by a conflicting twin. */
export function equivocate(mesh: Mesh, hotkey: Sr25519Signer, nodeKey: Ed25519Signer, stats: ByzantineStats): void {
  const publishReport = mesh.publishReport.bind(mesh);
  const publishConsensus = mesh.publishConsensus.bind(mesh);
  mesh.publishReport = async (bytes) => {
    const out = await publishReport(bytes);
    if (!byzantineSwitch.active) return out;
    const { salt, signed } = decodeReveal(bytes);
    const twin = { ...signed.report, entries: signed.report.entries.map((e) => (e.status === 'scored' ? { ...e, score: e.score + 1 + (e.uid % 7) } : e)), issuedAt: signed.report.issuedAt + 1 };
    await publishReport(encodeReveal({ salt, signed: signScoreReport(twin, hotkey) })).then(() => stats.secondReports++, () => undefined);
    return out;
  };
  /** The same vote for another decision (same view and phase), signed by the same node key; null for other messages. */
  const twinOf = (payload: Uint8Array): Uint8Array | null => {
    let msg;
    try {
      msg = decodeMessage(payload);
    } catch {
      return null;
    }
    if (msg.type !== 'vote' || msg.vote.phase === 'propose') return null;
    const { phase, netuid, runId: run, view } = msg.vote;
    return encodeMessage({ type: 'vote', vote: signVote({ phase, netuid, runId: run, view, decisionHash: randomBytes(32).toString('hex') }, nodeKey) });
  };
  mesh.publishConsensus = async (payload, runId) => {
    const out = await publishConsensus(payload, runId);
    const twin = byzantineSwitch.active ? twinOf(payload) : null;
    if (twin) await publishConsensus(twin, runId).then(() => stats.conflictingVotes++, () => undefined);
    return out;
  };
  // votes go to the view's collector alone (direct delivery): the twin goes the same way
  const sendConsensusTo = mesh.sendConsensusTo.bind(mesh);
  mesh.sendConsensusTo = async (to, payload, runId) => {
    const out = await sendConsensusTo(to, payload, runId);
    const twin = byzantineSwitch.active ? twinOf(payload) : null;
    if (twin) await sendConsensusTo(to, twin, runId).then(() => stats.conflictingVotes++, () => undefined);
    return out;
  };
}

/** While active, nothing this node publishes leaves it (its report hash is still committed on chain). */
export function withhold(mesh: Mesh, stats: ByzantineStats): void {
  // while active, a send is counted and answered as if queued, and nothing leaves
  const held = <A extends unknown[], R>(send: (...args: A) => Promise<R>) => async (...args: A): Promise<R | { hash: string; recipients: number; queued: boolean }> => {
    if (!byzantineSwitch.active) return send(...args);
    stats.withheld++;
    return { hash: '', recipients: 0, queued: true };
  };
  mesh.publishReport = held(mesh.publishReport.bind(mesh));
  mesh.publishConsensus = held(mesh.publishConsensus.bind(mesh));
  mesh.sendConsensusTo = held(mesh.sendConsensusTo.bind(mesh));
}

/** Sends `rate` invalid messages a second for `durationMs`; returns a stop function. */
export function flood(mesh: Mesh, runId: number, rate: number, durationMs: number, stats: ByzantineStats): () => void {
  const until = Date.now() + durationMs;
  let n = 0;
  const timer = setInterval(() => {
    if (Date.now() > until) return clearInterval(timer);
    for (let k = 0; k < Math.max(1, Math.round(rate / 10)); k++) {
      let bytes: Uint8Array;
      if (n++ % 2 === 0) {
        // a well-formed envelope whose ed25519 signature does not verify (schema ok, signature bad)
        bytes = mesh.envelope('report', runId, randomBytes(2048));
        bytes[bytes.length - 1] ^= 0xff;
      } else {
        bytes = randomBytes(512); // undecodable
      }
      void mesh.publishRaw('report', bytes).then(() => stats.floodSent++, () => undefined);
    }
  }, 100);
  timer.unref();
  return () => clearInterval(timer);
}

// PBFT reducer, the certified run the incumbent comes from. A decision names the latest certified run
// before it (by decision hash); a member that lacks that run asks the proposer for its certificate,
// and hands what it receives to the node, which verifies it against chain data (the validator set at
// that run's start block, consensus/prior.ts) and feeds it back as 'verified-prior'. A member that
// knows a more recent certified run than a proposal refuses it and answers with that run's evidence.
// So the incumbent never rests on one node's memory, and a member that missed runs catches up.
import { decisionHash, type CertifiedRun } from '../../proto/consensus.ts';
import { sameRun, type Ctx } from './context.ts';
import { retryPending, tryPropose } from './proposal.ts';

const key = (runId: number, hash: string) => `${runId}:${hash}`;

/** Asks `to` (the proposer that referenced it) for the certified run `runId` with decision `hash`; once. */
export function requestPrior(c: Ctx, to: number, runId: number, hash: string): void {
  const k = key(runId, hash);
  if (c.s.priorAsked[k]) return;
  c.s.priorAsked[k] = true;
  const ctx = c.setup.context;
  c.send(to, { type: 'request-prior', netuid: ctx.netuid, runId: ctx.runId, priorRunId: runId, decisionHash: hash });
}

export function onPriorRequest(c: Ctx, m: { netuid: number; runId: number; priorRunId: number; decisionHash: string }, from: number): void {
  if (!sameRun(c, m.netuid, m.runId)) return c.reject(from, 'certified-run request for another run');
  if (from < 0 || from >= c.setup.members.length || from === c.self) return;
  const p = c.s.prior;
  if (p && p.evidence && p.runId === m.priorRunId && p.decisionHash === m.decisionHash) c.send(from, { type: 'prior', evidence: p.evidence });
}

/** A certified run from a peer: if newer than what this member holds, the node verifies it. */
export function onPrior(c: Ctx, ev: CertifiedRun, from: number): void {
  const d = ev.certificate.decision;
  if (d.netuid !== c.setup.context.netuid) return c.reject(from, 'certified run of another subnet');
  if (d.runId >= c.setup.context.runId) return c.reject(from, `certified run ${d.runId} is not before run ${c.setup.context.runId}`);
  if (c.s.prior && c.s.prior.runId >= d.runId) return;
  let hash: string;
  try {
    hash = decisionHash(d);
  } catch (err) {
    return c.reject(from, `certified run: ${(err as Error).message}`);
  }
  const k = `verify:${key(d.runId, hash)}`;
  if (c.s.priorAsked[k]) return;
  c.s.priorAsked[k] = true;
  c.out.push({ type: 'verify-prior', evidence: ev, from });
}

/** The node verified a certified run (chain data): adopt it when it is newer, and retry what waited for it. */
export function onVerifiedPrior(c: Ctx, ev: CertifiedRun): void {
  const d = ev.certificate.decision;
  if (d.netuid !== c.setup.context.netuid || d.runId >= c.setup.context.runId) return;
  if (c.s.prior && c.s.prior.runId >= d.runId) return;
  c.s.prior = { runId: d.runId, decisionHash: decisionHash(d), decision: d, evidence: ev };
  retryPending(c);
  tryPropose(c);
}

/** Answer to a proposal that ignored this member's more recent certified run: everyone gets its evidence (once per view). */
export function answerWithPrior(c: Ctx, view: number): void {
  const p = c.s.prior;
  if (!p?.evidence || c.s.priorAnswered[view]) return;
  c.s.priorAnswered[view] = true;
  c.broadcast({ type: 'prior', evidence: p.evidence });
}

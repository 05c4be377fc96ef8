// PBFT reducer, equivocation: the first vote seen per (phase, view, voter), a second one that differs
// proves equivocation; proofs from peers are checked; a proven equivocator is excluded for the run.
import type { EquivocationProof, Vote } from '../../proto/consensus.ts';
import { verifyEquivocationProof } from '../equivocation.ts';
import { sameRun, type Ctx } from './context.ts';

export function markEquivocator(c: Ctx, hotkey: string, proof: EquivocationProof, broadcast: boolean): void {
  if (c.s.equivocators[hotkey]) return;
  c.s.equivocators[hotkey] = true;
  c.out.push({ type: 'equivocation', proof, offender: hotkey });
  if (broadcast) c.broadcast({ type: 'equivocation', proof });
}

export function recordVote(c: Ctx, vote: Vote): boolean {
  const key = `${vote.phase}:${vote.view}:${vote.voter}`;
  const first = c.s.votesSeen[key];
  if (!first) {
    c.s.votesSeen[key] = vote;
    return true;
  }
  if (first.decisionHash === vote.decisionHash) return true;
  const i = c.d.byNodeKey.get(vote.voter)!;
  const hotkey = c.setup.members[i].hotkey;
  const binding = c.setup.bindings?.[vote.voter] ?? null;
  markEquivocator(c, hotkey, { kind: 'vote', a: first, b: vote, binding }, true);
  return false;
}

export function onProof(c: Ctx, proof: EquivocationProof, from: number): void {
  // a node key bound to two hotkeys is the admission layer's business (node/p2p), not this run's
  if (proof.kind === 'binding') return c.reject(from, 'binding equivocation proofs are handled by admission, not by a run');
  const offenderHotkey = proof.kind === 'report' ? proof.a.report.validatorHotkey : (() => {
    const i = c.d.byNodeKey.get(proof.a.voter);
    return i === undefined ? null : c.setup.members[i].hotkey;
  })();
  if (offenderHotkey === null) return c.reject(from, 'equivocation proof against a key outside this run');
  if (c.s.equivocators[offenderHotkey]) return;
  // Attribution comes from this run's member table (bindings verified when the set was built),
  // so the attached binding is not re-verified here; offline verifiers check it.
  const check = verifyEquivocationProof(proof.kind === 'vote' ? { ...proof, binding: null } : proof, c.env.verifier);
  if (!check.ok) return c.reject(from, `invalid equivocation proof: ${check.reason}`);
  if (!sameRun(c, check.netuid, check.runId)) return c.reject(from, 'equivocation proof for another run');
  if (check.offender.hotkey !== null && check.offender.hotkey !== offenderHotkey) return c.reject(from, 'equivocation proof binding names another hotkey');
  markEquivocator(c, offenderHotkey, proof, false);
}

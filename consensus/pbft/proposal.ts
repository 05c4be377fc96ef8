// PBFT reducer, proposals: the proposer of a view proposes (in view 0 from the reveals it holds, later
// the highest lock among the view changes, if any); members check a proposal and send their prepare
// vote to its proposer, the collector of the view.
import { decisionHash, signVote, type Decision, type Proposal, type ViewChange } from '../../proto/consensus.ts';
import { computeDecision, countingPower } from '../decision.ts';
import { meetsThreshold } from '../validator-set.ts';
import { help } from './certificate.ts';
import { rules, sameRun, type Ctx } from './context.ts';
import { recordVote } from './equivocators.ts';
import { countable } from './reports.ts';
import { enterView } from './timers.ts';
import { checkContent, lateProposalProblem, proposalJustified, proposalSigned } from './validate.ts';
import { highestLock } from './view-change.ts';
import { collectVote } from './votes.ts';

/** The decision this member would propose from what it holds now, or null below the quorum. */
function freeDecision(c: Ctx, requireAll: boolean): Decision | null {
  const r = rules(c);
  const { excluded } = countingPower(r);
  const counted = countable(c, new Set(excluded));
  if (requireAll && counted.length < c.setup.members.length - excluded.length) return null;
  const d = computeDecision(r, counted);
  return meetsThreshold(d.countedPower, d.totalPower, c.setup.threshold) ? d : null;
}

export function tryPropose(c: Ctx): void {
  const s = c.s;
  const v = s.view;
  if (s.decided || !s.started || c.proposerOf(v) !== c.self || s.myProposals[v]) return;
  let decision: Decision | null = null;
  let justification: ViewChange[] = [];
  if (v === 0) {
    // every counting member's reveal, or after proposeDelayMs whatever reaches the quorum
    decision = freeDecision(c, !s.proposeReady);
    if (!decision) return;
  } else {
    const vcs = s.viewChanges[v] ?? {};
    const voters = Object.keys(vcs).map((k) => c.d.byNodeKey.get(k)!);
    if (!c.quorum(voters)) return;
    justification = Object.keys(vcs).sort().map((k) => vcs[k]);
    const forced = highestLock(justification);
    decision = forced ? forced.decision : freeDecision(c, false);
    if (!decision) return;
  }
  const hash = decisionHash(decision);
  const ctx = c.setup.context;
  const vote = signVote({ phase: 'propose', netuid: ctx.netuid, runId: ctx.runId, view: v, decisionHash: hash }, c.env.signer);
  const proposal: Proposal = { vote, decision, justification };
  s.myProposals[v] = decision;
  c.broadcast({ type: 'proposal', proposal });
  onProposal(c, proposal, c.self, true);
}

export function onProposal(c: Ctx, p: Proposal, from: number, own = false): void {
  const s = c.s;
  const v = p.vote.view;
  if (!sameRun(c, p.vote.netuid, p.vote.runId)) return c.reject(from, `proposal for run ${p.vote.runId} (stale or replayed)`);
  if (s.decided) {
    const late = own ? null : lateProposalProblem(c, p);
    if (late) c.reject(from, late);
    return help(c, from, v);
  }
  if (v < s.view) return;
  const proposer = c.proposerOf(v);
  const signed = proposalSigned(c, p, own);
  if (typeof signed === 'string') return c.reject(from, signed);
  const hash = signed.hash;
  if (!recordVote(c, p.vote)) return c.reject(from, `conflicting proposal from member ${proposer} in view ${v}`);
  if (s.prepared[v] !== undefined) return;
  const justified = proposalJustified(c, p, hash);
  if (typeof justified === 'string') return c.reject(from, justified);
  const forced = justified.forced;
  // A forced (locked) value is re-proposed whatever this member holds: more than the threshold
  // prepared it after checking it, and safety across views rests on re-proposing it.
  if (!forced && !own) {
    const problem = checkContent(c, p, from);
    if (problem === 'pending') return;
    if (problem) return c.reject(from, `proposal for view ${v}: ${problem}`);
  }
  if (v > s.view) enterView(c, v);
  s.prepared[v] = hash;
  if (s.pending && s.pending.proposal.vote.view <= v) s.pending = null;
  const ctx = c.setup.context;
  const vote = signVote({ phase: 'prepare', netuid: ctx.netuid, runId: ctx.runId, view: v, decisionHash: hash }, c.env.signer);
  if (proposer === c.self) collectVote(c, vote);
  else c.send(proposer, { type: 'vote', vote });
}

/** Re-checks a parked proposal once what it waited for (reveals, the certified run it names) is here. */
export function retryPending(c: Ctx): void {
  const p = c.s.pending;
  if (!p) return;
  const d = p.proposal.decision;
  if (!d.reportHashes.every((h) => c.s.reports[h])) return;
  if (d.previous && !(c.s.prior && c.s.prior.runId >= d.previous.runId)) return;
  c.s.pending = null;
  onProposal(c, p.proposal, p.from);
}

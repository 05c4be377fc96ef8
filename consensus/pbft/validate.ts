// PBFT reducer, validation of what peers send: a decision fits this run, a proposal's content
// is complete and recomputes from its counted reports, a justification holds a quorum of valid view changes, a view
// change and a certificate verify. Each returns null when valid, else the reason.
import { fromHex } from '../../proto/codec.ts';
import { decisionHash, viewChangeSigningBytes, type Certificate, type Decision, type Proposal, type ViewChange } from '../../proto/consensus.ts';
import { computeDecision, countingPower, type CountedInput } from '../decision.ts';
import { verifyVoteSignature } from '../equivocation.ts';
import { meetsThreshold } from '../validator-set.ts';
import { myBasis, rules, sameRun, type Ctx } from './context.ts';
import { answerWithPrior, requestPrior } from './prior.ts';
import { answerWithReveals, onTimeHashes } from './reports.ts';
import { highestLock } from './view-change.ts';

export function decisionFitsRun(c: Ctx, d: Decision): string | null {
  const ctx = c.setup.context;
  if (d.netuid !== ctx.netuid || d.runId !== ctx.runId) return 'decision is for another run';
  if (d.rosterHash !== ctx.rosterHash || d.policyHash !== ctx.policyHash || d.hardwareClass !== ctx.hardwareClass) return 'decision names another roster, policy or hardware class';
  if (d.totalPower > c.d.total) return 'decision uses another validator set (counting power above the set\'s)';
  return null;
}

/**
 * Checks a freely chosen proposal against what this member holds: the certified run it takes its
 * incumbent from, every on-time reveal this member holds (none may be left out), every counted
 * report (valid, opening its commitment, one per member, none excluded), and the decision recomputed
 * from them. 'pending' when reveals or the named certified run are still missing (asked for).
 */
export function checkContent(c: Ctx, p: Proposal, from: number): string | null | 'pending' {
  const s = c.s;
  const d = p.decision;
  const view = p.vote.view;
  const proposer = c.proposerOf(view);
  const mine = s.prior;
  const ref = d.previous;
  if (ref === null && mine) {
    answerWithPrior(c, view);
    return `takes its incumbent from chain weights, but run ${mine.runId} is certified (its evidence sent)`;
  }
  if (ref !== null) {
    if (mine && ref.runId < mine.runId) {
      answerWithPrior(c, view);
      return `takes its incumbent from run ${ref.runId}, but the later run ${mine.runId} is certified (its evidence sent)`;
    }
    if (mine && ref.runId === mine.runId && ref.decisionHash !== mine.decisionHash) return `names decision ${ref.decisionHash.slice(0, 12)}… for run ${ref.runId}, whose certified decision is ${mine.decisionHash.slice(0, 12)}…`;
    if (!mine || ref.runId > mine.runId) {
      s.pending = { proposal: p, from };
      requestPrior(c, proposer, ref.runId, ref.decisionHash);
      return 'pending';
    }
  }
  const r = rules(c, myBasis(c));
  const { excluded } = countingPower(r);
  const excludedSet = new Set(excluded);
  const left = leftOut(c, d, excludedSet);
  if (left.length > 0) {
    answerWithReveals(c, left);
    return `${leavesOut(c, left)}; answered with them`;
  }
  const missing = d.reportHashes.filter((h) => !s.reports[h]);
  if (missing.length > 0) {
    s.pending = { proposal: p, from };
    const ask = missing.filter((h) => !s.requested[h]);
    if (ask.length > 0) {
      for (const h of ask) s.requested[h] = true;
      const ctx = c.setup.context;
      c.send(proposer, { type: 'request-reports', netuid: ctx.netuid, runId: ctx.runId, hashes: ask });
    }
    return 'pending';
  }
  const counted: CountedInput[] = [];
  const seen = new Set<string>();
  for (const h of d.reportHashes) {
    const rep = s.reports[h];
    if (!rep.countable) return `counts report ${h.slice(0, 12)}… that does not open ${rep.hotkey}'s on-chain commitment`;
    if (excludedSet.has(rep.hotkey)) return `counts the report of ${rep.hotkey}, excluded from this run for missed reveals`;
    if (seen.has(rep.hotkey)) return `counts two reports by ${rep.hotkey}`;
    seen.add(rep.hotkey);
    counted.push({ report: rep.reveal.signed.report, hash: h, power: c.setup.members[c.d.byHotkey.get(rep.hotkey)!].stake });
  }
  const recomputed = computeDecision(r, counted);
  if (!meetsThreshold(recomputed.countedPower, recomputed.totalPower, c.setup.threshold)) return 'counted reports do not reach the quorum';
  if (decisionHash(recomputed) !== p.vote.decisionHash) return 'decision differs from the one recomputed from its counted reports';
  return null;
}

/** The on-time countable reports this member holds that `d` does not list (excluded members aside). */
function leftOut(c: Ctx, d: Decision, excluded: ReadonlySet<string>): string[] {
  const listed = new Set(d.reportHashes);
  return onTimeHashes(c).filter((h) => !listed.has(h) && !excluded.has(c.s.reports[h].hotkey));
}

function leavesOut(c: Ctx, left: readonly string[]): string {
  return `leaves out ${left.length} valid report(s) revealed on time (${left.map((h) => c.s.reports[h].hotkey).join(', ')})`;
}

/** A proposal signed by its view's proposer (the signature unchecked for this member's own), for the decision it carries: its hash, else the reason. */
export function proposalSigned(c: Ctx, p: Proposal, own: boolean): { hash: string } | string {
  const v = p.vote.view;
  const proposer = c.proposerOf(v);
  if (p.vote.voter !== c.setup.members[proposer].nodeKey) return `proposal for view ${v} not signed by its proposer (member ${proposer})`;
  const hash = decisionHash(p.decision);
  if (hash !== p.vote.decisionHash) return 'proposal vote does not match its decision';
  if (!own && !verifyVoteSignature(p.vote, c.env.verifier)) return 'proposal signature does not verify';
  return { hash };
}

/**
 * A proposal's decision fits this run and, past view 0, its justification holds view changes from a
 * quorum and it re-proposes their highest lock, if any: that lock (null when free), else the reason.
 */
export function proposalJustified(c: Ctx, p: Proposal, hash: string): { forced: Certificate | null } | string {
  const v = p.vote.view;
  const misfit = decisionFitsRun(c, p.decision);
  if (misfit) return `proposal: ${misfit}`;
  if (v === 0) return { forced: null };
  const j = checkJustification(c, p.justification, v);
  if (typeof j === 'string') return `proposal for view ${v}: ${j}`;
  if (j.forced && decisionHash(j.forced.decision) !== hash) return `proposal for view ${v} ignores the highest lock in its justification`;
  return j;
}

/**
 * A proposal reaching a member that already decided gets no vote, but one no honest proposer could
 * make (not its proposer's, a justification without a quorum, a free decision leaving out an on-time
 * report this member holds) is still refused: a Byzantine proposer that lost the race to the
 * certificate leaves the same evidence (a refusal with its reason) as one that did not. The same
 * checks as before a vote (proposalSigned, proposalJustified, checkContent's completeness), without
 * their state changes; the caller answers with the certificate either way.
 */
export function lateProposalProblem(c: Ctx, p: Proposal): string | null {
  const signed = proposalSigned(c, p, false);
  if (typeof signed === 'string') return signed;
  if (signed.hash === c.s.decided?.hash) return null;
  const justified = proposalJustified(c, p, signed.hash);
  if (typeof justified === 'string') return justified;
  if (justified.forced) return null;
  const left = leftOut(c, p.decision, new Set(countingPower(rules(c, myBasis(c))).excluded));
  return left.length > 0 ? `proposal for view ${p.vote.view}: ${leavesOut(c, left)}` : null;
}

export function checkJustification(c: Ctx, vcs: readonly ViewChange[], v: number): { forced: Certificate | null } | string {
  const voters = new Set<number>();
  for (const vc of vcs) {
    if (!sameRun(c, vc.netuid, vc.runId) || vc.newView !== v) return 'justification holds a view change for another run or view';
    const i = c.d.byNodeKey.get(vc.voter);
    if (i === undefined) return 'justification holds a view change from a non-member';
    if (voters.has(i)) return 'justification holds two view changes from one member';
    const why = checkViewChange(c, vc);
    if (why) return `justification: ${why}`;
    voters.add(i);
  }
  if (!c.quorum(voters)) return 'justification lacks view changes from a quorum of voting power';
  return { forced: highestLock(vcs) };
}

export function checkViewChange(c: Ctx, vc: ViewChange): string | null {
  let ok = false;
  try {
    ok = c.env.verifier.ed25519(viewChangeSigningBytes(vc), fromHex(vc.signature, 64), fromHex(vc.voter, 32));
  } catch {
    ok = false;
  }
  if (!ok) return 'view change signature does not verify';
  if (vc.prepared) {
    if (vc.prepared.phase !== 'prepare' || vc.prepared.view >= vc.newView) return 'view change carries a lock from a later view';
    const why = checkCertificate(c, vc.prepared);
    if (why) return `view change lock: ${why}`;
  }
  return null;
}

export function certKey(phase: string, view: number, hash: string): string {
  return `${phase}:${view}:${hash}`;
}

/** Signature and power checks of a certificate; a certificate already checked is remembered by (phase, view, hash). */
export function checkCertificate(c: Ctx, cert: Certificate): string | null {
  const hash = decisionHash(cert.decision);
  const key = certKey(cert.phase, cert.view, hash);
  if (c.s.validCerts[key]) return null;
  const misfit = decisionFitsRun(c, cert.decision);
  if (misfit) return misfit;
  const voters: number[] = [];
  for (const v of cert.votes) {
    if (v.phase !== cert.phase || v.view !== cert.view || v.decisionHash !== hash || !sameRun(c, v.netuid, v.runId)) return 'certificate holds a vote for something else';
    const i = c.d.byNodeKey.get(v.voter);
    if (i === undefined) return 'certificate holds a vote from a non-member';
    voters.push(i);
  }
  if (!c.quorum(voters)) return 'certificate votes do not reach the quorum';
  for (const v of cert.votes) if (!verifyVoteSignature(v, c.env.verifier)) return 'certificate holds a vote whose signature does not verify';
  c.s.validCerts[key] = true;
  return null;
}

// PBFT reducer, reveals: store each member's revealed report (checked against the run and against
// its author's salted on-chain commitment), detect two reports from one author, serve reveals a peer
// asks for, and tell a collector which reveals this member holds (inventory).
//
// The counted set is fixed by the chain, not chosen: a report counts when its reveal opens its
// author's commitment (sha256(salt || report) on chain by the commit deadline) and its author is a
// member not excluded for this run. Reveals held when consensus starts (the reveal deadline) are
// "on time": a member refuses a proposal that leaves one out. A reveal arriving later may still be
// counted — it proves itself against the chain — but never forces a refusal, so a withheld reveal
// cannot be used to stall a view.
import type { EquivocationProof } from '../../proto/consensus.ts';
import { revealCommitment, type Reveal } from '../../proto/reveal.ts';
import { scoreReportHash } from '../../proto/score-report.ts';
import { reportMismatch } from '../aggregate.ts';
import type { CountedInput } from '../decision.ts';
import { verifyEncodedReport, verifyReportSignature } from '../equivocation.ts';
import { sameRun, type Ctx } from './context.ts';
import { markEquivocator } from './equivocators.ts';
import { retryPending, tryPropose } from './proposal.ts';

export function ingestReveal(c: Ctx, reveal: Reveal, from: number, own: boolean, canonical?: { raw: Uint8Array; hash: string }): void {
  const s = c.s;
  const signed = reveal.signed;
  const report = signed.report;
  const why = reportMismatch(report, c.setup.context, c.d.roster);
  if (why) return c.reject(from, why);
  const member = c.d.byHotkey.get(report.validatorHotkey);
  if (member === undefined) return c.reject(from, `report signed by ${report.validatorHotkey}, which is not a member of this run's validator set`);
  const hash = canonical ? canonical.hash : scoreReportHash(report);
  const stored = s.reports[hash];
  if (stored?.countable) return;
  const commitments = c.setup.commitments;
  let countable = commitments === null;
  if (!countable) {
    let opened: string | null = null;
    try {
      opened = revealCommitment(reveal);
    } catch {
      opened = null;
    }
    countable = opened !== null && commitments![report.validatorHotkey] === opened;
  }
  // The salt is not signed: anyone holding a report can attach a wrong one. A wrong-salt copy never
  // hides the right one: the reveal that opens the commitment replaces it.
  if (stored && !countable) return;
  if (!stored || stored.reveal.signed.signature !== signed.signature) {
    const sigOk = own || (canonical ? verifyEncodedReport(canonical.raw, signed, c.env.verifier) : verifyReportSignature(signed, c.env.verifier));
    if (!sigOk) return c.reject(from, `report signature does not verify for ${report.validatorHotkey}`);
  }
  s.reports[hash] = { reveal, hotkey: report.validatorHotkey, countable, onTime: stored?.onTime ?? !s.started };
  if (stored) {
    tryPropose(c);
    retryPending(c);
    return;
  }
  const list = (s.byHotkey[report.validatorHotkey] ??= []);
  list.push(hash);
  // A signed report that does not open its author's commitment may be half of an equivocation:
  // relay it to the current proposer, which holds (or will fetch) the committed one, assembles the
  // proof and broadcasts it. Relayed once per author.
  if (!own && commitments !== null && commitments[report.validatorHotkey] !== undefined && !countable && list.length === 1) {
    c.send(c.proposerOf(s.view), { type: 'reveal', reveal });
  }
  if (list.length === 2) {
    const proof: EquivocationProof = { kind: 'report', a: s.reports[list[0]].reveal.signed, b: signed };
    markEquivocator(c, report.validatorHotkey, proof, true);
  }
  tryPropose(c);
  retryPending(c);
}

/** The counted report of each member that has one (the one opening its commitment), excluded members left out. */
export function countable(c: Ctx, excluded: ReadonlySet<string>): CountedInput[] {
  const s = c.s;
  const out: CountedInput[] = [];
  for (const [hotkey, hashes] of Object.entries(s.byHotkey)) {
    if (excluded.has(hotkey)) continue;
    const h = hashes.find((x) => s.reports[x].countable);
    if (h === undefined) continue;
    out.push({ report: s.reports[h].reveal.signed.report, hash: h, power: c.setup.members[c.d.byHotkey.get(hotkey)!].stake });
  }
  return out;
}

/** Hashes of the countable reveals this member held when consensus started. */
export function onTimeHashes(c: Ctx): string[] {
  return Object.entries(c.s.reports).filter(([, r]) => r.countable && r.onTime).map(([h]) => h).sort();
}

export function sendInventory(c: Ctx, to: number): void {
  if (to === c.self) return;
  const hashes = onTimeHashes(c);
  if (hashes.length === 0) return;
  const ctx = c.setup.context;
  c.send(to, { type: 'inventory', netuid: ctx.netuid, runId: ctx.runId, hashes: hashes.slice(0, c.setup.members.length) });
}

/** Collector: ask the sender for the reveals it holds and this member lacks. */
export function onInventory(c: Ctx, m: { netuid: number; runId: number; hashes: string[] }, from: number): void {
  if (!sameRun(c, m.netuid, m.runId)) return c.reject(from, 'inventory for another run');
  if (from < 0 || from >= c.setup.members.length || c.s.decided) return;
  const ask = m.hashes.slice(0, c.setup.members.length).filter((h) => !c.s.reports[h]?.countable);
  if (ask.length > 0) c.send(from, { type: 'request-reports', netuid: m.netuid, runId: m.runId, hashes: ask });
}

export function onRequest(c: Ctx, m: { netuid: number; runId: number; hashes: string[] }, from: number): void {
  if (!sameRun(c, m.netuid, m.runId)) return c.reject(from, 'report request for another run');
  if (from < 0 || from >= c.setup.members.length) return;
  for (const h of m.hashes.slice(0, c.setup.members.length * 2)) {
    const r = c.s.reports[h];
    if (r) c.send(from, { type: 'reveal', reveal: r.reveal });
  }
}

/** The answer to a proposal that left out reveals this member held on time: everyone gets them (once each). */
export function answerWithReveals(c: Ctx, hashes: string[]): void {
  for (const h of hashes) {
    if (c.s.answered[h]) continue;
    c.s.answered[h] = true;
    c.broadcast({ type: 'reveal', reveal: c.s.reports[h].reveal });
  }
}

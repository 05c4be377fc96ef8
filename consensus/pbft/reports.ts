// PBFT reducer, score reports: store each member's signed report (checked against the run and its
// on-chain commitment), detect two reports from one author, serve reports a peer asks for.
import type { EquivocationProof } from '../../proto/consensus.ts';
import { scoreReportHash, type SignedScoreReport } from '../../proto/score-report.ts';
import { reportMismatch } from '../aggregate.ts';
import type { CountedInput } from '../decision.ts';
import { verifyEncodedReport, verifyReportSignature } from '../equivocation.ts';
import { sameRun, type Ctx } from './context.ts';
import { markEquivocator } from './equivocators.ts';
import { retryPending, tryPropose } from './proposal.ts';

export function ingestReport(c: Ctx, signed: SignedScoreReport, from: number, own: boolean, canonical?: { raw: Uint8Array; hash: string }): void {
  const s = c.s;
  const report = signed.report;
  const why = reportMismatch(report, c.setup.context, c.d.roster);
  if (why) return c.reject(from, why);
  const member = c.d.byHotkey.get(report.validatorHotkey);
  if (member === undefined) return c.reject(from, `report signed by ${report.validatorHotkey}, which is not a member of this run's validator set`);
  const hash = canonical ? canonical.hash : scoreReportHash(report);
  if (s.reports[hash]) return;
  const sigOk = own || (canonical ? verifyEncodedReport(canonical.raw, signed, c.env.verifier) : verifyReportSignature(signed, c.env.verifier));
  if (!sigOk) return c.reject(from, `report signature does not verify for ${report.validatorHotkey}`);
  const commitments = c.setup.commitments;
  const countable = commitments === null || commitments[report.validatorHotkey] === hash;
  s.reports[hash] = { signed, hotkey: report.validatorHotkey, countable };
  const list = (s.byHotkey[report.validatorHotkey] ??= []);
  list.push(hash);
  // A signed report that contradicts its author's on-chain commitment is half of an equivocation:
  // relay it to the current proposer, which holds (or will fetch) the committed one, assembles
  // the proof, excludes the author and broadcasts the proof. Relayed once per author.
  if (!own && commitments !== null && commitments[report.validatorHotkey] !== undefined && !countable && list.length === 1) {
    c.send(c.proposerOf(s.view), { type: 'report', signed });
  }
  if (list.length === 2) {
    const proof: EquivocationProof = { kind: 'report', a: s.reports[list[0]].signed, b: signed };
    markEquivocator(c, report.validatorHotkey, proof, true);
  }
  tryPropose(c);
  retryPending(c);
}

export function countable(c: Ctx): CountedInput[] {
  const s = c.s;
  const out: CountedInput[] = [];
  for (const [hotkey, hashes] of Object.entries(s.byHotkey)) {
    if (s.equivocators[hotkey]) continue;
    const h = hashes.find((x) => s.reports[x].countable);
    if (h === undefined) continue;
    out.push({ report: s.reports[h].signed.report, hash: h, power: c.setup.members[c.d.byHotkey.get(hotkey)!].stake });
  }
  return out;
}

export function onRequest(c: Ctx, m: { netuid: number; runId: number; hashes: string[] }, from: number): void {
  if (!sameRun(c, m.netuid, m.runId)) return c.reject(from, 'report request for another run');
  if (from < 0 || from >= c.setup.members.length) return;
  for (const h of m.hashes.slice(0, c.setup.members.length * 2)) {
    const r = c.s.reports[h];
    if (r) c.send(from, { type: 'report', signed: r.signed });
  }
}

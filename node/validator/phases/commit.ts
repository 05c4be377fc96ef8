// Phases `evaluating` (its end) and `committing`: the signed score report is built from the
// evaluation cache with a fresh 32-byte salt, then sha256(salt || report) is committed on chain FIRST.
// Report and salt stay sealed on this node (store only: no gossip, API, run bundle or archive) until
// the reveal window opens. A `commit-intent` marker precedes the send; after a restart the chain is
// read before sending again.
import { encodeScoreReport, scoreReportHash, signScoreReport, type ScoreEntry, type ScoreReport } from '../../../proto/score-report.ts';
import { encodeReveal, freshSalt, reportCommitment } from '../../../proto/reveal.ts';
import { toHex } from '../../../proto/codec.ts';
import type { RunRecord } from '../store.ts';
import { chainCall, type PhaseContext } from './context.ts';
import { identicalEarlier } from './evaluate.ts';

/** Signs this node's report, salts it and stores the reveal (published later); sets `myReportHash` and `myCommitment`. */
export async function buildReport(ctx: PhaseContext, r: RunRecord): Promise<void> {
  const d = ctx.d;
  const entries: ScoreEntry[] = [];
  for (const e of r.roster) {
    if (identicalEarlier(r.roster, e)) {
      entries.push({ uid: e.uid, minerHotkey: e.minerHotkey, codeSha256: e.codeSha256, status: 'duplicate', score: 0 });
      continue;
    }
    const ev = await d.store.getEvaluation(e.codeSha256, r.policyHash);
    entries.push({ uid: e.uid, minerHotkey: e.minerHotkey, codeSha256: e.codeSha256, status: ev?.status ?? 'not-evaluated', score: ev && ev.status === 'scored' ? ev.score : 0 });
  }
  const fault = d.config.dev.fault;
  const inflate = /^inflate:(\d+):([\d.]+)$/.exec(fault);
  if (inflate) {
    const e = entries.find((x) => x.uid === Number(inflate[1]));
    if (e) Object.assign(e, { status: 'scored', score: Math.round(Math.max(e.score, 1000) * Number(inflate[2])) });
  }
  const report: ScoreReport = {
    version: 1, netuid: r.netuid, runId: r.runId, rosterHash: r.rosterHash, policyHash: r.policyHash, hardwareClass: r.hardwareClass,
    validatorHotkey: ctx.hotkey, entries, issuedAt: ctx.now(),
  };
  const signed = signScoreReport(report, d.signer);
  const salt = freshSalt();
  r.myReportHash = scoreReportHash(report);
  r.myCommitment = reportCommitment(salt, encodeScoreReport(report));
  await d.store.putReportBytes(r.runId, ctx.hotkey, toHex(encodeReveal({ salt, signed })));
  if (fault === 'mismatch-report') {
    // Byzantine test double: publish a report other than the one committed.
    const other = { ...report, entries: entries.map((e) => (e.status === 'scored' ? { ...e, score: e.score + 1 } : e)), issuedAt: report.issuedAt + 1 };
    await d.store.mark(r.runId, 'fault-published-report', toHex(encodeReveal({ salt, signed: signScoreReport(other, d.signer) })));
  }
  d.log.info('report built', { runId: r.runId, commitment: r.myCommitment, entries: entries.length });
}

/** Commits `myCommitment` on chain exactly once; on return it is committed (`myCommitBlock` set). */
export async function commitReport(ctx: PhaseContext, r: RunRecord): Promise<void> {
  const d = ctx.d;
  if (!r.myCommitment) throw new Error(`run ${r.runId}: no salted commitment recorded (report built by an older version); the run cannot commit`);
  const hash = r.myCommitment;
  const done = await d.store.marked(r.runId, 'committed');
  if (done) return;
  if (await d.store.marked(r.runId, 'commit-intent')) {
    // We may have sent it before a crash: look before sending again (no double commit).
    const best = await chainCall(ctx, 'read-commitments', () => d.chain.bestBlock());
    const onChain = (await chainCall(ctx, 'read-commitments', () => d.chain.reportCommitments(r.runId, best))).get(ctx.hotkey);
    if (onChain && onChain.hash === hash) {
      r.myCommitBlock = onChain.block;
      await d.store.mark(r.runId, 'committed', onChain.block);
      d.log.info('commitment found on chain after restart', { runId: r.runId, block: onChain.block });
      return;
    }
  }
  await d.store.mark(r.runId, 'commit-intent', hash);
  let block: number;
  try {
    ({ block } = await chainCall(ctx, 'commit', () => d.chain.commitReportHash(r.runId, hash)));
  } catch (err) {
    d.metrics.commitsTotal.inc({ result: 'failed' });
    throw err;
  }
  d.metrics.commitsTotal.inc({ result: 'committed' });
  r.myCommitBlock = block;
  await d.store.mark(r.runId, 'committed', block);
  d.log.info('report commitment on chain', { runId: r.runId, commitment: hash, block });
}

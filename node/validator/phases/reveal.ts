// Phases `committed` → `publishing`: once the commit window has closed, this node's report is
// gossiped, and peers' reports are stored as they arrive (raw bytes by run and hotkey); they are
// verified only when the reveal window closes (certify.ts).
import { decodeSignedScoreReport, type SignedScoreReport } from '../../../proto/score-report.ts';
import { fromHex, toHex } from '../../../proto/codec.ts';
import type { RunRecord } from '../store.ts';
import type { PhaseContext } from './context.ts';

export async function publishReport(ctx: PhaseContext, r: RunRecord): Promise<void> {
  const d = ctx.d;
  if (d.config.dev.fault === 'silent') return;
  const faulty = await d.store.marked(r.runId, 'fault-published-report');
  const mine = faulty ? (faulty.detail as string) : await d.store.getReportBytes(r.runId, ctx.hotkey);
  if (!mine) throw new Error(`own report for run ${r.runId} is missing from the store`);
  await d.store.mark(r.runId, 'published');
  await d.mesh.publishReport(fromHex(mine, undefined, 'own report')).catch((err) => {
    // gossip not ready yet is not fatal: peers fetch by request, and we republish next run step
    d.log.warn('publish failed', { runId: r.runId, error: (err as Error).message });
  });
  d.log.info('report published', { runId: r.runId, peers: d.mesh.peerCount() });
}

/** Stores a batch of peer reports for the live runs (`isLive`); the first report per hotkey wins. */
export async function storePeerReports(ctx: PhaseContext, batch: Uint8Array[], isLive: (runId: number) => boolean): Promise<void> {
  const d = ctx.d;
  for (const bytes of batch) {
    let signed: SignedScoreReport;
    try {
      signed = decodeSignedScoreReport(bytes);
    } catch {
      d.metrics.reportsReceived.inc({ verdict: 'undecodable' });
      continue;
    }
    const runId = signed.report.runId;
    if (!isLive(runId)) {
      d.metrics.reportsReceived.inc({ verdict: 'wrong-run' });
      continue;
    }
    if (signed.report.validatorHotkey === ctx.hotkey) continue;
    const hex = toHex(bytes);
    const prev = await d.store.getReportBytes(runId, signed.report.validatorHotkey);
    if (prev !== undefined && prev !== hex) {
      // two different reports from one key: keep the first, record the second as evidence
      await d.store.mark(runId, `second-report/${signed.report.validatorHotkey}`, hex);
      continue;
    }
    await d.store.putReportBytes(runId, signed.report.validatorHotkey, hex);
  }
}

// Phases `committed` → `publishing`: once the commit window has closed, this node's reveal (salt +
// signed report) is gossiped and archived — never before: the report stays sealed in the store
// until then. Peers' reveals are stored as they arrive (raw bytes by run and hotkey, with the block
// they arrived at); they are verified only when the reveal window closes (certify.ts), and one
// arriving after that is handed to the run's consensus session as a late reveal.
import { decodeReveal, type Reveal } from '../../../proto/reveal.ts';
import { fromHex, toHex } from '../../../proto/codec.ts';
import type { RunRecord } from '../store.ts';
import type { PhaseContext } from './context.ts';
import { archiveReveal } from '../evidence.ts';

export async function publishReport(ctx: PhaseContext, r: RunRecord): Promise<void> {
  const d = ctx.d;
  if (d.config.dev.fault === 'silent') return;
  const faulty = await d.store.marked(r.runId, 'fault-published-report');
  const mine = faulty ? (faulty.detail as string) : await d.store.getReportBytes(r.runId, ctx.hotkey);
  if (!mine) throw new Error(`own report for run ${r.runId} is missing from the store`);
  const bytes = fromHex(mine, undefined, 'own reveal');
  await d.store.mark(r.runId, 'published', ctx.lastBlock);
  if (d.archive?.putReveal) await d.archive.putReveal(decodeReveal(bytes), ctx.lastBlock).catch((err) => d.log.warn('archive refused own reveal', { error: (err as Error).message }));
  await d.mesh.publishReport(bytes).catch((err) => {
    // gossip not ready yet is not fatal: peers fetch by request, and we republish next run step
    d.log.warn('publish failed', { runId: r.runId, error: (err as Error).message });
  });
  d.log.info('report published', { runId: r.runId, peers: d.mesh.peerCount() });
}

/**
 * Stores a batch of peer reveals for the live runs (`isLive`); the first reveal per hotkey wins, a
 * second different one is kept as evidence. Returns the reveals it stored, for a session already running.
 */
export async function storePeerReports(ctx: PhaseContext, batch: Uint8Array[], isLive: (runId: number) => boolean): Promise<{ runId: number; bytes: Uint8Array }[]> {
  const d = ctx.d;
  const stored: { runId: number; bytes: Uint8Array }[] = [];
  for (const bytes of batch) {
    let reveal: Reveal;
    try {
      reveal = decodeReveal(bytes);
    } catch {
      d.metrics.reportsReceived.inc({ verdict: 'undecodable' });
      continue;
    }
    const signed = reveal.signed;
    const runId = signed.report.runId;
    if (!isLive(runId)) {
      d.metrics.reportsReceived.inc({ verdict: 'wrong-run' });
      continue;
    }
    if (signed.report.validatorHotkey === ctx.hotkey) continue;
    const hex = toHex(bytes);
    const prev = await d.store.getReportBytes(runId, signed.report.validatorHotkey);
    if (prev !== undefined && prev !== hex) {
      // two different reveals from one key: keep the first, record the second as evidence
      // (a copy of the same report with another salt is no equivocation: certify.ts keeps the one that opens the commitment)
      await d.store.mark(runId, `second-report/${signed.report.validatorHotkey}`, hex);
      continue;
    }
    if (prev === undefined) await d.store.mark(runId, `received/${signed.report.validatorHotkey}`, ctx.lastBlock);
    await d.store.putReportBytes(runId, signed.report.validatorHotkey, hex);
    stored.push({ runId, bytes });
  }
  return stored;
}

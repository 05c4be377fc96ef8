// Phases `committed` → `publishing`: once the commit window has closed, this node's reveal (salt +
// signed report) is gossiped and archived — never before: the report stays sealed in the store
// until then. Peers' reveals are stored as they arrive (raw bytes by run and hotkey, with the block
// they arrived at); they are verified when consensus starts (certify.ts: at the reveal window's end,
// or earlier once every committed reveal is held), and one arriving after that is handed to the run's
// consensus session as a late reveal.
import { decodeReveal, revealCommitment, type Reveal } from '../../../proto/reveal.ts';
import { fromHex, toHex } from '../../../proto/codec.ts';
import type { RunRecord } from '../store.ts';
import { chainCall, type LiveRun, type PhaseContext } from './context.ts';
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
  const gossiped = await d.mesh.publishReport(bytes).then(() => true, (err) => {
    // gossip not ready yet is not fatal: consensus sends the reveal to each collector, and peers fetch by request
    d.log.warn('publish failed', { runId: r.runId, error: (err as Error).message });
    return false;
  });
  if (gossiped) await d.store.mark(r.runId, 'gossiped', ctx.lastBlock);
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

/**
 * Whether this node holds, for every hotkey with a report commitment on chain by the commit deadline,
 * the reveal that opens it (its own included). Then nothing still to come in the reveal window can
 * count — a reveal counts only by opening its author's commitment, and each commitment has one
 * opening — and consensus may start before the window closes: every reveal is on time for this node,
 * and a proposal that leaves none out is what every other member will accept. Waiting for the window's
 * last block added the whole window to every certificate. A failed chain read answers false (the node
 * starts at the deadline as before).
 */
export async function holdsEveryCommittedReveal(ctx: PhaseContext, l: LiveRun, commitEnd: number): Promise<boolean> {
  const d = ctx.d;
  const r = l.record;
  if (!l.committed) {
    try {
      l.committed = await chainCall(ctx, 'read-commitments', () => d.chain.reportCommitments(r.runId, commitEnd));
    } catch {
      return false;
    }
  }
  if (l.committed.size === 0 || !l.committed.has(ctx.hotkey)) return false;
  const opened = (l.opened ??= new Set());
  for (const [hotkey, { hash }] of l.committed) {
    if (opened.has(hotkey)) continue;
    const hex = await d.store.getReportBytes(r.runId, hotkey);
    if (hex === undefined) return false;
    try {
      if (revealCommitment(decodeReveal(fromHex(hex))) !== hash) return false;
    } catch {
      return false;
    }
    opened.add(hotkey);
  }
  return true;
}


// What a batch of prepared reports does to their slots: the rules that keep a slot's first report
// and every equivocation proof from ever being overwritten. Pure: the archive reads the slots'
// current values and the proofs already kept, then writes the planned entries in one batch.
import { bytesEqual, toHex } from '../../proto/codec.ts';
import { reportBytesOfSigned } from '../../proto/score-report.ts';
import { decodes, type Prepared } from './stored-report.ts';
import type { PutReportResult } from './types.ts';

/** One planned write: a first report, an equivocation proof, or unreadable slot bytes kept aside (kv:corrupt-reports). */
export type SlotWrite =
  | { to: 'reports' | 'equivocations'; key: string; value: Uint8Array }
  | { to: 'corrupt-reports'; key: string; value: string };

/**
 * Per report, in order: 'stored' (first for its slot), 'duplicate' (same report content already
 * there, or the same equivocation already kept), 'equivocation' (different content: kept beside
 * the first), 'invalid' (refused when prepared). `current` (slot → stored value) and `proofs`
 * (`<slot>/<hash>` of kept proofs) are updated as the batch proceeds.
 */
export function planReportWrites(
  prepared: readonly Prepared[],
  current: Map<string, Uint8Array | undefined>,
  proofs: Set<string>,
): { writes: SlotWrite[]; results: PutReportResult[] } {
  const writes: SlotWrite[] = [];
  const results: PutReportResult[] = [];
  for (const p of prepared) {
    if (p.slot === undefined) { results.push({ status: 'invalid', reason: p.error }); continue; }
    const prev = current.get(p.slot);
    const prevReport = prev && reportBytesOfSigned(prev);
    if (!prev) {
      writes.push({ to: 'reports', key: p.slot, value: p.value });
      current.set(p.slot, p.value);
      results.push({ status: 'stored', hash: p.hash });
    } else if (prevReport && bytesEqual(prevReport, p.reportBytes)) {
      results.push({ status: 'duplicate', hash: p.hash });
    } else if (!prevReport || !decodes(prev)) {
      // The slot holds bytes that are not a report: keep them aside, store the valid one.
      writes.push({ to: 'corrupt-reports', key: `${p.slot}/${Date.now()}`, value: JSON.stringify(toHex(prev)) });
      writes.push({ to: 'reports', key: p.slot, value: p.value });
      current.set(p.slot, p.value);
      results.push({ status: 'stored', hash: p.hash });
    } else {
      const key = `${p.slot}/${p.hash}`;
      if (proofs.has(key)) {
        results.push({ status: 'duplicate', hash: p.hash }); // this proof is already kept: never overwritten
      } else {
        writes.push({ to: 'equivocations', key, value: p.value });
        proofs.add(key);
        results.push({ status: 'equivocation', hash: p.hash });
      }
    }
  }
  return { writes, results };
}

// Format v1 → v2, in place and resumable. v1 keyed reports by <run>/<validator> only, so a validly
// signed report of another subnet (same run id, same hotkey) landed in the same slot and was kept as
// a false "equivocation". Migration re-archives every v1 entry through the v2 put logic, which takes
// the netuid from the signed report itself: such a report becomes the first report of its own
// subnet's slot, real equivocations stay proofs. v1 did not record the chain: entries go to the
// opener's chain (a node passes its genesis hash), else UNKNOWN_CHAIN.
//
// Each chunk is one atomic batch that writes the v2 entries and deletes the v1 keys, so a crash
// between chunks leaves every entry in exactly one of the two schemas and the next open resumes.
import { toHex } from '../../proto/codec.ts';
import { certificateRunOf } from '../../proto/consensus.ts';
import { decodeSignedScoreReport, type SignedScoreReport } from '../../proto/score-report.ts';
import { fault } from './fault.ts';
import { runPrefix } from './keys.ts';
import type { Bin } from './open.ts';

export const V1_SUBLEVELS = ['reports', 'equivocations', 'certificates', 'runs'] as const;

const CHUNK = 500;

type Op = { type: 'put'; sublevel: unknown; key: string; value: unknown } | { type: 'del'; sublevel: unknown; key: string };
type Prepared = { slot: string } | { slot?: undefined; error: string };

export interface MigrationPort {
  db: Bin;
  chain: string;
  prepare(s: SignedScoreReport): Prepared;
  apply(p: Prepared[], extra: Op[]): Promise<unknown>;
  certificates: unknown;
  kvSub(name: string): unknown;
  formatOp: Op;
}

function binSub(db: Bin, name: string) {
  return db.sublevel<string, Uint8Array>(name, { keyEncoding: 'utf8', valueEncoding: 'view' });
}

export async function migrateV1(p: MigrationPort): Promise<void> {
  const aside = p.kvSub('corrupt-reports');
  for (const name of ['reports', 'equivocations'] as const) {
    const sub = binSub(p.db, name);
    for (;;) {
      const entries = await sub.iterator({ limit: CHUNK }).all();
      if (entries.length === 0) break;
      const prepared: Prepared[] = [];
      const extra: Op[] = [];
      for (const [key, value] of entries) {
        extra.push({ type: 'del', sublevel: sub, key });
        let signed: SignedScoreReport | undefined;
        try {
          signed = decodeSignedScoreReport(value as Uint8Array);
        } catch {
          signed = undefined;
        }
        const prep = signed && p.prepare(signed);
        if (prep && prep.slot !== undefined) prepared.push(prep);
        else extra.push({ type: 'put', sublevel: aside, key: `v1/${name}/${key}`, value: JSON.stringify(toHex(value as Uint8Array)) });
      }
      await p.apply(prepared, extra);
      fault('migrate:chunk');
    }
  }
  // Certificates: their decision names the subnet; one that does not decode is kept aside as it was.
  const certs = binSub(p.db, 'certificates');
  const legacyCerts = p.kvSub('legacy-certificates');
  for (;;) {
    const entries = await certs.iterator({ limit: CHUNK }).all();
    if (entries.length === 0) break;
    const extra: Op[] = [];
    const seen = new Set<string>();
    for (const [key, value] of entries) {
      extra.push({ type: 'del', sublevel: certs, key });
      let target: string | undefined;
      // v1 archives hold certificates of decision version 1: their header still names the run
      const d = certificateRunOf(value as Uint8Array);
      target = d ? runPrefix({ chain: p.chain, netuid: d.netuid, runId: d.runId }) : undefined;
      const exists = target !== undefined && (seen.has(target) || (await binSub(p.db, 'v2-certificates').get(target)) !== undefined);
      if (target !== undefined && !exists) {
        extra.push({ type: 'put', sublevel: p.certificates, key: target, value: Uint8Array.from(value as Uint8Array) });
        seen.add(target);
      } else {
        extra.push({ type: 'put', sublevel: legacyCerts, key: `v1/${key}`, value: JSON.stringify(toHex(value as Uint8Array)) });
      }
    }
    await p.apply([], extra);
    fault('migrate:chunk');
  }
  // v1 run metadata had no subnet in its key: kept as it was under kv:legacy-run-meta.
  const runs = p.db.sublevel<string, string>('runs', { keyEncoding: 'utf8', valueEncoding: 'utf8' });
  const legacyRuns = p.kvSub('legacy-run-meta');
  for (;;) {
    const entries = await runs.iterator({ limit: CHUNK }).all();
    if (entries.length === 0) break;
    const extra: Op[] = entries.flatMap(([key, value]) => [
      { type: 'del' as const, sublevel: runs, key },
      { type: 'put' as const, sublevel: legacyRuns, key: `v1/${key}`, value },
    ]);
    await p.apply([], extra);
  }
  await p.apply([], [p.formatOp]);
  fault('migrate:done');
}

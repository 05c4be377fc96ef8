// The evidence of a run in the node archive (node/archive.ts), as auditors and catching-up members
// need it: reveals (the signed report + the salt that opens its author's on-chain commitment) and the
// certified run (the commit certificate + the bindings that attribute its voters to hotkeys).
// The archive keeps signed reports and certificates (by chain, netuid and run); salts go to its
// `reveals` store (by chain, netuid, run and report hash) and bindings to its `bindings` store (by
// node key and hotkey: a binding attributes a node key whatever the run).
import { fromHex, toHex } from '../../proto/codec.ts';
import { decodeBinding, encodeBinding, type BindingRecord } from '../../proto/binding.ts';
import { decodeCertificate, encodeCertificate, encodeCertifiedRun, type CertifiedRun } from '../../proto/consensus.ts';
import { encodeRevealBytes, type Reveal } from '../../proto/reveal.ts';
import { scoreReportHash, type SignedScoreReport } from '../../proto/score-report.ts';
import type { RunArchiveReader } from '../p2p/run-bundle.ts';

/** A run in the archive: netuid and run id, on the archive's chain unless `chain` names another. */
export interface EvidenceRun {
  netuid: number;
  runId: number;
  chain?: string;
}

/** The slice of node/archive.ts `Archive` this module uses (structural). */
export interface EvidenceArchive {
  putReport(signed: SignedScoreReport, opts?: { verified?: boolean; chain?: string }): Promise<{ status: string }>;
  /** The run's reports as stored (canonical signed bytes, the report's bytes and hash), not decoded. */
  reportBytesOfRun(run: EvidenceRun): Promise<{ items: { value: Uint8Array; hash: string }[]; corrupt: { key: string; reason: string }[] }>;
  putCertificate(run: EvidenceRun, bytes: Uint8Array): Promise<'stored' | 'duplicate' | 'conflict'>;
  getCertificate(run: EvidenceRun): Promise<Uint8Array | undefined>;
  /** The genesis hash (64 hex) the archive reads and writes by default. */
  readonly chain?: string;
  kv(name: string): {
    get(key: string): Promise<unknown | undefined>;
    put(key: string, value: unknown): Promise<void>;
    entries(opts?: { prefix?: string; limit?: number }): Promise<{ items: { key: string; value: unknown }[] }>;
  };
}

const revealKey = (a: EvidenceArchive, run: EvidenceRun, reportHash: string) =>
  `${(run.chain ?? a.chain ?? '').replace(/^0x/, '').toLowerCase()}/${run.netuid}/${String(run.runId).padStart(16, '0')}/${reportHash}`;

/** Archives a reveal (verified by the caller); `at` is when this node received it (block), for the record. */
export async function archiveReveal(archive: EvidenceArchive, reveal: Reveal, at: { block?: number; chain?: string } = {}): Promise<string> {
  const r = await archive.putReport(reveal.signed, { verified: true, ...(at.chain ? { chain: at.chain } : {}) });
  const report = reveal.signed.report;
  await archive.kv('reveals').put(revealKey(archive, { netuid: report.netuid, runId: report.runId, chain: at.chain }, scoreReportHash(report)), { salt: reveal.salt, ...(at.block !== undefined ? { block: at.block } : {}) });
  return r.status;
}

/**
 * The run's archived reports that have a salt, as encoded reveals (a report without one is not evidence
 * of a commitment). Built from the stored bytes, which are the canonical signed encoding, so nothing is
 * decoded or re-encoded here: whoever reads the reveals decodes and verifies them.
 */
export async function revealsOfRun(archive: EvidenceArchive, run: EvidenceRun): Promise<Uint8Array[]> {
  const list = await archive.reportBytesOfRun(run);
  const out: Uint8Array[] = [];
  const store = archive.kv('reveals');
  for (const stored of list.items) {
    const meta = (await store.get(revealKey(archive, run, stored.hash))) as { salt?: unknown } | undefined;
    if (typeof meta?.salt !== 'string' || !/^[0-9a-f]{64}$/.test(meta.salt)) continue;
    out.push(encodeRevealBytes(meta.salt, stored.value));
  }
  return out;
}

/** Archives a certified run: its certificate (first wins) and the bindings of its voters. */
export async function archiveCertifiedRun(archive: EvidenceArchive, run: EvidenceRun, x: CertifiedRun): Promise<'stored' | 'duplicate' | 'conflict'> {
  const status = await archive.putCertificate(run, encodeCertificate(x.certificate));
  const store = archive.kv('bindings');
  for (const b of x.bindings) await store.put(`${b.nodePublicKey}/${b.hotkey}`, { hex: toHex(encodeBinding(b)), issuedAt: b.issuedAt });
  return status;
}

/** The archived certified run (certificate + the archived bindings of its voters), or null. */
export async function certifiedRunOf(archive: EvidenceArchive, run: EvidenceRun): Promise<CertifiedRun | null> {
  const bytes = await archive.getCertificate(run);
  if (!bytes) return null;
  const certificate = decodeCertificate(bytes);
  if (certificate.phase !== 'commit') return null;
  const bindings: BindingRecord[] = [];
  const store = archive.kv('bindings');
  for (const v of certificate.votes) {
    for (const item of (await store.entries({ prefix: `${v.voter}/` })).items) {
      try {
        bindings.push(decodeBinding(fromHex((item.value as { hex: string }).hex)));
      } catch {
        // an unreadable binding is skipped; the verifier names the vote it cannot attribute
      }
    }
  }
  return { certificate, bindings };
}

/** What the run-bundle protocol serves (reveals and the certified run), read from the archive. */
export function archiveEvidenceReader(archive: EvidenceArchive): RunArchiveReader {
  return {
    reveals: (run) => revealsOfRun(archive, run),
    certifiedRun: async (run) => {
      const x = await certifiedRunOf(archive, run);
      return x ? encodeCertifiedRun(x) : null;
    },
  };
}

// Shared by the report-bytes tests (report-bytes.test.ts, archive-report-bytes.test.ts): seeded random
// valid reports and signers, byte helpers, and the offsets of the canonical report encoding.
import assert from 'node:assert/strict';
import { CodecError, toHex } from '../../proto/codec.ts';
import { SCORE_STATUSES, signScoreReport, type ScoreEntry, type ScoreReport, type SignedScoreReport } from '../../proto/score-report.ts';
import { hotkeyToPublicKey, publicKeyToHotkey, sr25519SignerFromSeed, type Sr25519Signer } from '../../proto/signer.ts';
import { prng } from '../prng.ts';

export type Rng = () => number;
export const int = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1)); // inclusive
export const bytes = (rng: Rng, n: number) => Uint8Array.from({ length: n }, () => int(rng, 0, 255));
export const hex32 = (rng: Rng) => toHex(bytes(rng, 32));
const HW_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:+-';
export const hardwareClass = (rng: Rng, len: number) => Array.from({ length: len }, () => HW_CHARS[int(rng, 0, HW_CHARS.length - 1)]).join('');

/** A random valid report: `n` entries with strictly ascending uids, any statuses, scores 0 unless scored. */
export function randomReport(rng: Rng, opts: { entries: number; hwLength: number; validatorHotkey?: string; netuid?: number; runId?: number }): ScoreReport {
  const n = opts.entries;
  const step = Math.max(1, Math.floor(0xffff / Math.max(1, n)));
  let uid = int(rng, 0, step - 1);
  const entries: ScoreEntry[] = [];
  for (let i = 0; i < n; i++) {
    const status = SCORE_STATUSES[int(rng, 0, SCORE_STATUSES.length - 1)];
    entries.push({
      uid,
      minerHotkey: publicKeyToHotkey(bytes(rng, 32)),
      codeSha256: hex32(rng),
      score: status === 'scored' ? int(rng, 0, 2_000_000) : 0,
      status,
    });
    uid += int(rng, 1, step);
  }
  return {
    version: 1,
    netuid: opts.netuid ?? int(rng, 0, 0xffff),
    runId: opts.runId ?? (rng() < 0.2 ? Number.MAX_SAFE_INTEGER - int(rng, 0, 1000) : int(rng, 0, 2 ** 40)),
    rosterHash: hex32(rng),
    policyHash: hex32(rng),
    hardwareClass: hardwareClass(rng, opts.hwLength),
    validatorHotkey: opts.validatorHotkey ?? publicKeyToHotkey(bytes(rng, 32)),
    entries,
    issuedAt: int(rng, 0, 2 ** 45),
  };
}

export function signerFromSeed(i: number): Sr25519Signer {
  const seed = bytes(prng(0x5eed0000 + i), 32);
  return sr25519SignerFromSeed(seed);
}

export function signedReport(signer: Sr25519Signer, rng: Rng, opts: { entries?: number; netuid?: number; runId?: number } = {}): SignedScoreReport {
  const report = randomReport(rng, { entries: opts.entries ?? int(rng, 0, 20), hwLength: int(rng, 1, 64), validatorHotkey: signer.hotkey, netuid: opts.netuid, runId: opts.runId });
  return signScoreReport(report, signer);
}

export const pubHex = (hotkey: string) => toHex(hotkeyToPublicKey(hotkey));
export const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};
export const u32 = (v: number) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v); return b; };
/** A copy of `b` placed at a nonzero offset inside a larger buffer (catches readers that ignore byteOffset). */
export const offsetCopy = (b: Uint8Array, pad = 13) => { const big = new Uint8Array(pad + b.length + 7).fill(0xee); big.set(b, pad); return big.subarray(pad, pad + b.length); };

// Offsets in the canonical report encoding (see proto/score-report.ts).
export const HW_LEN_AT = 1 + 2 + 8 + 32 + 32; // 75
export const countAt = (hwLength: number) => HW_LEN_AT + 4 + hwLength + 32;

export function throwsCodec(fn: () => unknown, re: RegExp, what: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CodecError, `${what}: expected CodecError, got ${(err as Error)?.name}: ${(err as Error)?.message}`);
    assert.match(err.message, re, what);
    return true;
  }, what);
}

// Commitment formats (pure).
//
// Miner commitment (what a miner puts in Commitments.set_commitment):  `<sha256 hex of the code>:<url>`
//   - exactly 64 lowercase hex chars, one ':', then an absolute http:// or https:// URL without whitespace,
//     at most 1024 chars; anything else is malformed and that miner is skipped with the reason.
// Score commitment (what a Conclave validator commits):  `conclave/v2:<runId>:<commitment hex>`
//   - commitment = sha256(salt || canonical report bytes) with a fresh 32-byte salt (proto/reveal.ts),
//     revealed with the report once the commit window closes: unguessable, unlike the v1 unsalted
//     sha256 of a report whose scores repeat across runs;
//   - runId in decimal without leading zeros (a block number); at most 12 + 16 + 1 + 64 = 93 bytes,
//     which fits one `Raw` field of the commitments pallet (Raw0..Raw128);
//   - `conclave/v1:` (unsalted) commitments are refused by name.
import type { CommitmentRecord, Neuron, RosterEntry } from './types.ts';

export const SCORE_COMMITMENT_PREFIX = 'conclave/v2:';
const V1_PREFIX = 'conclave/v1:';
export const MAX_RAW_FIELD = 128;
const HEX64 = /^[0-9a-f]{64}$/;

export type Parsed<T> = ({ ok: true } & T) | { ok: false; reason: string };

export function parseMinerCommitment(text: string): Parsed<{ sha256: string; url: string }> {
  const i = text.indexOf(':');
  if (i < 0) return { ok: false, reason: 'commitment is not "<sha256 hex>:<url>" (no ":")' };
  const sha256 = text.slice(0, i);
  const url = text.slice(i + 1);
  if (!HEX64.test(sha256)) return { ok: false, reason: `commitment hash "${sha256.slice(0, 80)}" is not 64 lowercase hex characters` };
  if (url.length === 0 || url.length > 1024) return { ok: false, reason: 'commitment url is empty or longer than 1024 characters' };
  if (/\s/.test(url)) return { ok: false, reason: 'commitment url contains whitespace' };
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { ok: false, reason: `commitment url "${url.slice(0, 200)}" is not an absolute URL` };
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return { ok: false, reason: `commitment url scheme ${u.protocol} is not http(s)` };
  return { ok: true, sha256, url };
}

/** `conclave/v2:<runId>:<commitment>`, commitment = sha256(salt || report) (proto/reveal.ts reportCommitment). */
export function formatScoreCommitment(runId: number, commitment: string): string {
  if (!Number.isSafeInteger(runId) || runId < 0) throw new Error(`runId must be a non-negative safe integer, got ${runId}`);
  if (!HEX64.test(commitment)) throw new Error('score commitment must be 64 lowercase hex characters');
  return `${SCORE_COMMITMENT_PREFIX}${runId}:${commitment}`;
}

/** The run and salted commitment of a v2 score commitment; `sha256` is sha256(salt || report). */
export function parseScoreCommitment(text: string): Parsed<{ runId: number; sha256: string }> {
  if (text.startsWith(V1_PREFIX)) return { ok: false, reason: 'conclave/v1 score commitment (an unsalted report hash) is refused: this network needs conclave/v2 salted commitments; upgrade the validator' };
  if (!text.startsWith(SCORE_COMMITMENT_PREFIX)) return { ok: false, reason: 'not a conclave/v2 score commitment' };
  const m = /^(0|[1-9][0-9]{0,15}):([0-9a-f]{64})$/.exec(text.slice(SCORE_COMMITMENT_PREFIX.length));
  if (!m) return { ok: false, reason: 'score commitment is not "conclave/v2:<runId>:<sha256(salt || report) hex>"' };
  const runId = Number(m[1]);
  if (!Number.isSafeInteger(runId)) return { ok: false, reason: 'score commitment runId is out of range' };
  return { ok: true, runId, sha256: m[2] };
}

/**
 * Commitment text from CommitmentInfo.fields (as `toJSON()`: [{ Raw12: '0x..' }, ...]): the UTF-8 of the
 * Raw and BigRaw fields, concatenated in order. Hash-only or timelocked fields carry no text and are refused.
 */
export function commitmentText(fields: unknown): Parsed<{ text: string }> {
  if (!Array.isArray(fields) || fields.length === 0) return { ok: false, reason: 'commitment has no fields' };
  const parts: Uint8Array[] = [];
  for (const f of fields) {
    const [kind, value] = Object.entries((f ?? {}) as Record<string, unknown>)[0] ?? [];
    const k = (kind ?? '').toLowerCase();
    if (!(k.startsWith('raw') || k === 'bigraw') || typeof value !== 'string') return { ok: false, reason: `commitment field ${kind ?? '?'} is not raw text` };
    const hex = value.startsWith('0x') ? value.slice(2) : value;
    if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return { ok: false, reason: `commitment field ${kind} is not hex` };
    parts.push(new Uint8Array(Buffer.from(hex, 'hex')));
  }
  const total = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) total.set(p, o), (o += p.length);
  try {
    return { ok: true, text: new TextDecoder('utf-8', { fatal: true }).decode(total) };
  } catch {
    return { ok: false, reason: 'commitment is not valid UTF-8' };
  }
}

/** Raw field(s) for a text commitment: one RawN field when it fits (<= 128 bytes), else refused. */
export function rawCommitmentFields(text: string): { [k: string]: string }[] {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length > MAX_RAW_FIELD) throw new Error(`commitment is ${bytes.length} bytes; a Raw field holds at most ${MAX_RAW_FIELD}`);
  return [{ [`Raw${bytes.length}`]: '0x' + Buffer.from(bytes).toString('hex') }];
}


/** Miners' `<sha256>:<url>` commitments joined with the metagraph (pure): unregistered hotkeys and validators' score commitments left out, malformed ones skipped with a reason. */
export function joinMinerRoster(neurons: readonly Pick<Neuron, 'uid' | 'hotkey'>[], records: readonly CommitmentRecord[], bad: readonly { hotkey: string; reason: string }[]): { entries: RosterEntry[]; skipped: { uid: number; hotkey: string; reason: string }[] } {
  const uidOf = new Map(neurons.map((n) => [n.hotkey, n]));
  const entries: RosterEntry[] = [];
  const skipped: { uid: number; hotkey: string; reason: string }[] = [];
  for (const b of bad) {
    const n = uidOf.get(b.hotkey);
    if (n) skipped.push({ uid: n.uid, hotkey: b.hotkey, reason: b.reason });
  }
  for (const r of records) {
    const n = uidOf.get(r.hotkey);
    if (!n) continue; // deregistered hotkey: stale commitment
    if (r.text.startsWith('conclave/')) continue; // a validator's score commitment, not a submission
    const p = parseMinerCommitment(r.text);
    if (!p.ok) skipped.push({ uid: n.uid, hotkey: r.hotkey, reason: p.reason });
    else entries.push({ uid: n.uid, minerHotkey: r.hotkey, codeSha256: p.sha256, url: p.url, commitBlock: r.block });
  }
  entries.sort((a, b) => a.uid - b.uid);
  skipped.sort((a, b) => a.uid - b.uid);
  return { entries, skipped };
}

/** Validators' score commitments for `runId` among text commitments (pure): hotkey -> commitment + block. */
export function scoreCommitmentsOf(records: readonly CommitmentRecord[], runId: number): Map<string, { hash: string; block: number }> {
  const out = new Map<string, { hash: string; block: number }>();
  for (const r of records) {
    const p = parseScoreCommitment(r.text);
    if (p.ok && p.runId === runId) out.set(r.hotkey, { hash: p.sha256, block: r.block });
  }
  return out;
}

/**
 * Every text commitment by hotkey from CommitmentOf (`fields` as toJSON: [{ Raw12: '0x..' }, ...]) and
 * RevealedCommitments (the last revealed bytes of each hotkey), the newer of the two winning (pure).
 */
export function newestCommitments(
  plain: readonly { hotkey: string; fields: unknown; block: number }[],
  revealed: readonly { hotkey: string; bytes: Uint8Array; block: number }[],
): { records: CommitmentRecord[]; skipped: { hotkey: string; reason: string }[] } {
  const best = new Map<string, CommitmentRecord>();
  const skipped: { hotkey: string; reason: string }[] = [];
  for (const p of plain) {
    const t = commitmentText(p.fields);
    if (!t.ok) skipped.push({ hotkey: p.hotkey, reason: t.reason });
    else best.set(p.hotkey, { hotkey: p.hotkey, text: t.text, block: p.block, source: 'CommitmentOf' });
  }
  for (const r of revealed) {
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(r.bytes);
    } catch {
      skipped.push({ hotkey: r.hotkey, reason: 'revealed commitment is not valid UTF-8' });
      continue;
    }
    const prev = best.get(r.hotkey);
    if (!prev || r.block >= prev.block) best.set(r.hotkey, { hotkey: r.hotkey, text, block: r.block, source: 'RevealedCommitments' });
  }
  return { records: [...best.values()], skipped };
}

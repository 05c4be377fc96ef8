// Decision v2: the bytes and hash a certificate commits to (layout: ../consensus.ts).
import { CodecError, Reader, Writer, expectUint, fromHex, sha256Hex, signingBytes, toHex } from '../codec.ts';
import { hotkeyToPublicKey, publicKeyToHotkey } from '../signer.ts';
import { DECISION_DOMAIN, DECISION_VERSION, type Decision, MAX_DECISION_SCORES, MAX_MEMBERS, type PreviousRef, type Weight } from './types.ts';

function optU16(w: Writer, v: number | null, what: string): void {
  if (v === null) w.u8(0);
  else w.u8(1).u16(expectUint(v, what, 0xffff));
}

function readOptU16(r: Reader, what: string): number | null {
  const f = r.u8();
  if (f === 0) return null;
  if (f !== 1) throw new CodecError(`${what}: non-canonical presence flag ${f}`);
  return r.u16();
}

// ---- decision ----

function hotkeyKey(hotkey: string, what: string): Uint8Array {
  try {
    return hotkeyToPublicKey(hotkey);
  } catch (err) {
    throw new CodecError(`${what}: ${(err as Error).message}`);
  }
}

/** Ascending order of hotkeys as the wire sorts them (by 32-byte public key). */
export function compareHotkeys(a: string, b: string): number {
  const ka = toHex(hotkeyToPublicKey(a));
  const kb = toHex(hotkeyToPublicKey(b));
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

export function encodeDecision(d: Decision): Uint8Array {
  if (d.version !== DECISION_VERSION) throw new CodecError(`decision: unsupported version ${String(d.version)} (this node speaks version ${DECISION_VERSION})`);
  const w = new Writer();
  w.u8(DECISION_VERSION).u16(expectUint(d.netuid, 'decision netuid', 0xffff)).u64(expectUint(d.runId, 'decision runId'));
  w.fixed(fromHex(d.rosterHash, 32, 'decision rosterHash'), 32).fixed(fromHex(d.policyHash, 32, 'decision policyHash'), 32);
  w.string(d.hardwareClass, 64);
  if (d.outcome !== 'winner' && d.outcome !== 'hold') throw new CodecError(`decision outcome: expected 'winner' or 'hold'`);
  w.u8(d.outcome === 'winner' ? 0 : 1);
  optU16(w, d.winnerUid, 'decision winnerUid');
  if (d.winnerHotkey === null) w.u8(0);
  else w.u8(1).fixed(hotkeyKey(d.winnerHotkey, 'decision winnerHotkey'), 32);
  optU16(w, d.incumbentUid, 'decision incumbentUid');
  if (d.previous === null) w.u8(0);
  else {
    if (expectUint(d.previous.runId, 'decision previous runId') >= d.runId) throw new CodecError('decision previous: must be an earlier run');
    w.u8(1).u64(d.previous.runId).fixed(fromHex(d.previous.decisionHash, 32, 'decision previous decisionHash'), 32);
  }
  if (d.weights.length > MAX_DECISION_SCORES) throw new CodecError('decision: too many weights');
  w.u16(d.weights.length);
  let prev = -1;
  for (const x of d.weights) {
    if (expectUint(x.uid, 'weight uid', 0xffff) <= prev) throw new CodecError('decision weights: uids must be strictly ascending');
    prev = x.uid;
    w.u16(x.uid).u32(expectUint(x.weightPpm, 'weight ppm', 1_000_000));
  }
  if (d.scores.length > MAX_DECISION_SCORES) throw new CodecError('decision: too many scores');
  w.u16(d.scores.length);
  prev = -1;
  for (const x of d.scores) {
    if (expectUint(x.uid, 'score uid', 0xffff) <= prev) throw new CodecError('decision scores: uids must be strictly ascending');
    prev = x.uid;
    w.u16(x.uid).u64(expectUint(x.score, 'score'));
  }
  if (d.reportHashes.length > MAX_MEMBERS) throw new CodecError('decision: too many report hashes');
  w.u16(d.reportHashes.length);
  let prevHash = '';
  for (const h of d.reportHashes) {
    if (h <= prevHash) throw new CodecError('decision reportHashes: must be strictly ascending');
    prevHash = h;
    w.fixed(fromHex(h, 32, 'report hash'), 32);
  }
  w.u64(d.countedPower).u64(d.totalPower);
  if (d.missedReveals.length > MAX_MEMBERS) throw new CodecError('decision: too many missed reveals');
  w.u16(d.missedReveals.length);
  let prevKey = '';
  for (const m of d.missedReveals) {
    const k = toHex(hotkeyKey(m.hotkey, 'decision missedReveals hotkey'));
    if (k <= prevKey) throw new CodecError('decision missedReveals: hotkeys must be strictly ascending by public key');
    prevKey = k;
    w.fixed(fromHex(k, 32), 32).u32(expectUint(m.streak, 'missed-reveal streak', 0xffffffff));
  }
  if (d.excluded.length > MAX_MEMBERS) throw new CodecError('decision: too many excluded members');
  w.u16(d.excluded.length);
  prevKey = '';
  for (const h of d.excluded) {
    const k = toHex(hotkeyKey(h, 'decision excluded hotkey'));
    if (k <= prevKey) throw new CodecError('decision excluded: hotkeys must be strictly ascending by public key');
    prevKey = k;
    w.fixed(fromHex(k, 32), 32);
  }
  return w.finish();
}

function decodeDecisionFrom(r: Reader): Decision {
  const version = r.u8();
  if (version !== DECISION_VERSION) throw new CodecError(`decision: unknown version ${version} (this node speaks version ${DECISION_VERSION})`);
  const netuid = r.u16();
  const runId = r.u64();
  const rosterHash = toHex(r.fixed(32));
  const policyHash = toHex(r.fixed(32));
  const hardwareClass = r.string(64);
  const oc = r.u8();
  if (oc > 1) throw new CodecError(`decision: unknown outcome ${oc}`);
  const winnerUid = readOptU16(r, 'decision winnerUid');
  const wf = r.u8();
  if (wf > 1) throw new CodecError(`decision winnerHotkey: non-canonical presence flag ${wf}`);
  const winnerHotkey = wf === 1 ? publicKeyToHotkey(r.fixed(32)) : null;
  const incumbentUid = readOptU16(r, 'decision incumbentUid');
  const pf = r.u8();
  if (pf > 1) throw new CodecError(`decision previous: non-canonical presence flag ${pf}`);
  let previous: PreviousRef | null = null;
  if (pf === 1) {
    const prevRun = r.u64();
    if (prevRun >= runId) throw new CodecError('decision previous: must be an earlier run');
    previous = { runId: prevRun, decisionHash: toHex(r.fixed(32)) };
  }
  const weights: Weight[] = [];
  let n = r.u16();
  if (n > MAX_DECISION_SCORES) throw new CodecError('decision: too many weights');
  let prev = -1;
  for (let i = 0; i < n; i++) {
    const uid = r.u16();
    if (uid <= prev) throw new CodecError('decision weights: uids must be strictly ascending');
    prev = uid;
    const weightPpm = r.u32();
    if (weightPpm > 1_000_000) throw new CodecError('decision weight above 1e6 ppm');
    weights.push({ uid, weightPpm });
  }
  const scores: { uid: number; score: number }[] = [];
  n = r.u16();
  if (n > MAX_DECISION_SCORES) throw new CodecError('decision: too many scores');
  prev = -1;
  for (let i = 0; i < n; i++) {
    const uid = r.u16();
    if (uid <= prev) throw new CodecError('decision scores: uids must be strictly ascending');
    prev = uid;
    scores.push({ uid, score: r.u64() });
  }
  const reportHashes: string[] = [];
  n = r.u16();
  if (n > MAX_MEMBERS) throw new CodecError('decision: too many report hashes');
  let prevHash = '';
  for (let i = 0; i < n; i++) {
    const h = toHex(r.fixed(32));
    if (h <= prevHash) throw new CodecError('decision reportHashes: must be strictly ascending');
    prevHash = h;
    reportHashes.push(h);
  }
  const countedPower = r.u64big();
  const totalPower = r.u64big();
  const missedReveals: { hotkey: string; streak: number }[] = [];
  n = r.u16();
  if (n > MAX_MEMBERS) throw new CodecError('decision: too many missed reveals');
  let prevKey = '';
  for (let i = 0; i < n; i++) {
    const k = r.fixed(32);
    const kh = toHex(k);
    if (kh <= prevKey) throw new CodecError('decision missedReveals: hotkeys must be strictly ascending by public key');
    prevKey = kh;
    missedReveals.push({ hotkey: publicKeyToHotkey(k), streak: r.u32() });
  }
  const excluded: string[] = [];
  n = r.u16();
  if (n > MAX_MEMBERS) throw new CodecError('decision: too many excluded members');
  prevKey = '';
  for (let i = 0; i < n; i++) {
    const k = r.fixed(32);
    const kh = toHex(k);
    if (kh <= prevKey) throw new CodecError('decision excluded: hotkeys must be strictly ascending by public key');
    prevKey = kh;
    excluded.push(publicKeyToHotkey(k));
  }
  return {
    version: DECISION_VERSION, netuid, runId, rosterHash, policyHash, hardwareClass, outcome: oc === 0 ? 'winner' : 'hold',
    winnerUid, winnerHotkey, incumbentUid, previous, weights, scores, reportHashes, countedPower, totalPower, missedReveals, excluded,
  };
}

export function decodeDecision(bytes: Uint8Array): Decision {
  const r = new Reader(bytes, 'decision');
  const d = decodeDecisionFrom(r);
  r.end();
  return d;
}

export function decisionHash(d: Decision): string {
  return sha256Hex(signingBytes(DECISION_DOMAIN, encodeDecision(d)));
}

// Wire formats of the P2P mesh (owned by node/p2p): the gossip envelope carried on every topic,
// the admission hello exchanged on connect, and the fetch-by-hash request/response frames. The run-bundle frames are in proto/run-bundle.ts (re-exported here).
//
// GossipEnvelope v1 body:
//   u8 version=1 | u8 kind (1 report, 2 consensus, 3 binding) | u16 netuid | u64 runId | u64 issuedAt
//   | u32-len payload (<= MAX_GOSSIP_PAYLOAD_BYTES) | [32] node public key (ed25519)
// Wire form: body | [64] ed25519 signature over utf8("conclave/gossip/v1") || 0x00 || body.
// Wire form v2 (reports only): the same layout with version=2 and, as payload, the compact form of the
// reveal against the run's roster (proto/reveal-compact.ts). The signature is the v1 signature over
// the v1 body, canonical reveal included: v2 only encodes the same envelope, and decoding it expands
// the reveal against the roster the report names (a receiver without that roster cannot decode it).
// The content key of an envelope is sha256(payload) (lowercase hex): it is the gossipsub message id,
// the duplicate-suppression key and the key of the fetch protocol, so the same report published
// twice, or fetched after it was gossiped, is recognised as one message.
//
// Hello frame v1 (protocol /conclave/hello/2.0.0 since bindings are v2; one request and one response per connection):
//   u8 version=1 | u16 netuid | u8 status (0 ok, 1 refused) | u32-len utf8 reason (<= 256)
//   | u32-len binding (<= MAX_BINDING_BYTES, empty when the sender has none)
//   | u8 count (<= MAX_HELLO_KNOWN) of u32-len bindings (peer exchange: validators the sender admitted)
//
// Fetch v1 (protocol /conclave/fetch/1.0.0, one request and one response per stream):
//   request:  u8 version=1 | u8 op (1 inventory, 2 get) | u16 netuid | u64 runId
//             | u16 count (<= MAX_FETCH_HASHES) of [32] hashes (get only; inventory sends 0)
//   response: u8 version=1 | u8 status (0 ok, 1 rate-limited, 2 bad-request, 3 unavailable)
//             | u32-len utf8 message (<= 256) | u32 count (<= MAX_INVENTORY) of [32] hashes (inventory)
//             | u16 count (<= MAX_FETCH_HASHES) of items: u8 item kind (1 envelope, 2 blob) | u32-len bytes
import { CodecError, Reader, Writer, expectUint, fromHex, sha256Hex, signingBytes, toHex } from './codec.ts';
import { MAX_BINDING_BYTES } from './binding.ts';
import { compactReveal, expandReveal, type CompactRoster, type RosterLookup } from './reveal-compact.ts';
import { verifyEd25519, type Ed25519Signer } from './signer.ts';
import { MAX_FETCH_RESPONSE_BYTES, MAX_GOSSIP_PAYLOAD_BYTES, MAX_REASON_BYTES } from './frame-limits.ts';

export { MAX_FETCH_RESPONSE_BYTES, MAX_GOSSIP_PAYLOAD_BYTES, MAX_REASON_BYTES } from './frame-limits.ts';

export const GOSSIP_DOMAIN = 'conclave/gossip/v1';
export const GOSSIP_HEADER_BYTES = 1 + 1 + 2 + 8 + 8 + 4 + 32;
export const MAX_GOSSIP_ENVELOPE_BYTES = GOSSIP_HEADER_BYTES + MAX_GOSSIP_PAYLOAD_BYTES + 64;
export const MAX_HELLO_KNOWN = 64;
export const MAX_HELLO_BYTES = 1 + 2 + 1 + 4 + 256 + 4 + MAX_BINDING_BYTES + 1 + MAX_HELLO_KNOWN * (4 + MAX_BINDING_BYTES);
export const MAX_FETCH_HASHES = 64;
export const MAX_INVENTORY = 4096;
export const MAX_FETCH_REQUEST_BYTES = 1 + 1 + 2 + 8 + 2 + MAX_FETCH_HASHES * 32;

export const GOSSIP_KINDS = ['report', 'consensus', 'binding'] as const;
export type GossipKind = (typeof GOSSIP_KINDS)[number];

export interface GossipEnvelope {
  version: 1;
  kind: GossipKind;
  netuid: number;
  /** Run the message belongs to (block number of the epoch start); 0 for bindings. */
  runId: number;
  /** Unix ms at which the sender created the envelope (freshness window). */
  issuedAt: number;
  payload: Uint8Array;
  /** ed25519 node public key of the sender, 32 bytes hex. */
  nodePublicKey: string;
  /** ed25519 signature, 64 bytes hex. */
  signature: string;
}

export type UnsignedGossipEnvelope = Omit<GossipEnvelope, 'signature' | 'nodePublicKey'>;

function kindCode(kind: GossipKind): number {
  const i = GOSSIP_KINDS.indexOf(kind);
  if (i < 0) throw new CodecError(`gossip envelope: unknown kind ${JSON.stringify(kind)} (expected one of ${GOSSIP_KINDS.join(', ')})`);
  return i + 1;
}


function encodeEnvelopeBody(e: UnsignedGossipEnvelope, nodePublicKey: Uint8Array): Uint8Array {
  if (e.version !== 1) throw new CodecError(`gossip envelope: unsupported version ${String(e.version)} (this node speaks version 1)`);
  if (!(e.payload instanceof Uint8Array)) throw new CodecError('gossip envelope payload: expected bytes');
  if (e.payload.length > MAX_GOSSIP_PAYLOAD_BYTES) {
    throw new CodecError(`gossip envelope payload: ${e.payload.length} bytes exceed the limit of ${MAX_GOSSIP_PAYLOAD_BYTES}`);
  }
  const w = new Writer();
  w.u8(1).u8(kindCode(e.kind)).u16(expectUint(e.netuid, 'netuid'));
  w.u64(expectUint(e.runId, 'runId')).u64(expectUint(e.issuedAt, 'issuedAt'));
  w.bytes(e.payload);
  w.fixed(nodePublicKey, 32, 'node public key');
  return w.finish();
}

export function signGossipEnvelope(e: UnsignedGossipEnvelope, signer: Ed25519Signer): GossipEnvelope {
  const body = encodeEnvelopeBody(e, signer.publicKey);
  const signature = signer.sign(signingBytes(GOSSIP_DOMAIN, body));
  return { ...e, payload: e.payload, nodePublicKey: toHex(signer.publicKey), signature: toHex(signature) };
}

export function encodeGossipEnvelope(e: GossipEnvelope): Uint8Array {
  const body = encodeEnvelopeBody(e, fromHex(e.nodePublicKey, 32, 'gossip envelope nodePublicKey'));
  const w = new Writer();
  w.fixed(body, body.length);
  w.fixed(fromHex(e.signature, 64, 'gossip envelope signature'), 64);
  return w.finish();
}

/** The v2 wire form of a signed report envelope: its reveal compacted against `roster` (the run's). */
export function encodeCompactGossipEnvelope(e: GossipEnvelope, roster: CompactRoster): Uint8Array {
  if (e.kind !== 'report') throw new CodecError(`gossip envelope v2: only reports have a compact form, not ${e.kind}`);
  const wire = encodeGossipEnvelope({ ...e, payload: compactReveal(e.payload, roster) });
  wire[0] = 2;
  return wire;
}

/**
 * Decodes a v1 envelope, or a v2 one (a compact report) by expanding its reveal against `rosters`;
 * throws UnknownRosterError (proto/reveal-compact.ts) when the roster it names is not there.
 */
export function decodeGossipEnvelope(bytes: Uint8Array, rosters?: RosterLookup): GossipEnvelope {
  if (bytes.length > MAX_GOSSIP_ENVELOPE_BYTES) throw new CodecError(`gossip envelope: ${bytes.length} bytes exceed the limit of ${MAX_GOSSIP_ENVELOPE_BYTES}`);
  const r = new Reader(bytes, 'gossip envelope');
  const version = r.u8();
  if (version !== 1 && version !== 2) throw new CodecError(`gossip envelope: unknown version ${version} (this node speaks versions 1 and 2)`);
  const k = r.u8();
  const kind = GOSSIP_KINDS[k - 1];
  if (kind === undefined) throw new CodecError(`gossip envelope: unknown kind code ${k}`);
  if (version === 2 && kind !== 'report') throw new CodecError(`gossip envelope v2: only reports have a compact form, not ${kind}`);
  const netuid = r.u16();
  const runId = r.u64();
  const issuedAt = r.u64();
  const wirePayload = r.bytes(MAX_GOSSIP_PAYLOAD_BYTES);
  const nodePublicKey = toHex(r.fixed(32));
  const signature = toHex(r.fixed(64));
  r.end();
  const payload = version === 2 ? expandReveal(wirePayload, rosters ?? (() => undefined)) : wirePayload;
  return { version: 1, kind, netuid, runId, issuedAt, payload, nodePublicKey, signature };
}

/** Checks the ed25519 signature against the envelope's own node key (who that key belongs to is the caller's question). */
export function verifyGossipEnvelope(e: GossipEnvelope): boolean {
  let body: Uint8Array;
  try {
    body = encodeEnvelopeBody(e, fromHex(e.nodePublicKey, 32));
  } catch {
    return false;
  }
  let sig: Uint8Array;
  try {
    sig = fromHex(e.signature, 64);
  } catch {
    return false;
  }
  return verifyEd25519(signingBytes(GOSSIP_DOMAIN, body), sig, fromHex(e.nodePublicKey, 32));
}

/** Content key of an envelope: sha256 of its payload, lowercase hex. */
export function gossipContentHash(e: Pick<GossipEnvelope, 'payload'>): string {
  return sha256Hex(e.payload);
}

// ---- hello (admission handshake) ----

export type HelloStatus = 'ok' | 'refused';

export interface HelloFrame {
  version: 1;
  netuid: number;
  status: HelloStatus;
  /** Why the sender refused the other side (empty when ok). */
  reason: string;
  /** The sender's own encoded BindingRecord (empty when it has none, e.g. a pure observer). */
  binding: Uint8Array;
  /** Encoded bindings of validators the sender has admitted (peer exchange). */
  known: Uint8Array[];
}

export function encodeHello(h: HelloFrame): Uint8Array {
  if (h.known.length > MAX_HELLO_KNOWN) throw new CodecError(`hello: ${h.known.length} known bindings exceed the limit of ${MAX_HELLO_KNOWN}`);
  const w = new Writer();
  w.u8(1).u16(expectUint(h.netuid, 'netuid')).u8(h.status === 'ok' ? 0 : 1).string(h.reason.slice(0, 200), MAX_REASON_BYTES);
  if (h.binding.length > MAX_BINDING_BYTES) throw new CodecError('hello: binding too large');
  w.bytes(h.binding);
  w.u8(h.known.length);
  for (const b of h.known) {
    if (b.length > MAX_BINDING_BYTES) throw new CodecError('hello: known binding too large');
    w.bytes(b);
  }
  return w.finish();
}

export function decodeHello(bytes: Uint8Array): HelloFrame {
  if (bytes.length > MAX_HELLO_BYTES) throw new CodecError(`hello: ${bytes.length} bytes exceed the limit of ${MAX_HELLO_BYTES}`);
  const r = new Reader(bytes, 'hello');
  const version = r.u8();
  if (version !== 1) throw new CodecError(`hello: unknown version ${version} (this node speaks version 1)`);
  const netuid = r.u16();
  const s = r.u8();
  if (s > 1) throw new CodecError(`hello: unknown status code ${s}`);
  const reason = r.string(MAX_REASON_BYTES);
  const binding = r.bytes(MAX_BINDING_BYTES);
  const n = r.u8();
  if (n > MAX_HELLO_KNOWN) throw new CodecError(`hello: ${n} known bindings exceed the limit of ${MAX_HELLO_KNOWN}`);
  const known: Uint8Array[] = [];
  for (let i = 0; i < n; i++) known.push(r.bytes(MAX_BINDING_BYTES));
  r.end();
  return { version: 1, netuid, status: s === 0 ? 'ok' : 'refused', reason, binding, known };
}

// ---- fetch (request/response by content hash) ----

export type FetchOp = 'inventory' | 'get';

export interface FetchRequest {
  version: 1;
  op: FetchOp;
  netuid: number;
  /** inventory: the run to list; get: ignored by the server, 0 by convention. */
  runId: number;
  /** get: content hashes (lowercase hex, 32 bytes each); inventory: empty. */
  hashes: string[];
}

export type FetchStatus = 'ok' | 'rate-limited' | 'bad-request' | 'unavailable';
const FETCH_STATUSES: FetchStatus[] = ['ok', 'rate-limited', 'bad-request', 'unavailable'];

export interface FetchItem {
  /** envelope: a GossipEnvelope (content hash = sha256(payload)); blob: raw bytes (content hash = sha256(bytes)). */
  kind: 'envelope' | 'blob';
  bytes: Uint8Array;
}

export interface FetchResponse {
  version: 1;
  status: FetchStatus;
  message: string;
  /** inventory: content hashes the server holds for the run. */
  hashes: string[];
  /** get: the items found (missing hashes are simply absent). */
  items: FetchItem[];
}

export function encodeFetchRequest(q: FetchRequest): Uint8Array {
  if (q.hashes.length > MAX_FETCH_HASHES) throw new CodecError(`fetch request: ${q.hashes.length} hashes exceed the limit of ${MAX_FETCH_HASHES}`);
  const w = new Writer();
  w.u8(1).u8(q.op === 'inventory' ? 1 : q.op === 'get' ? 2 : 0).u16(expectUint(q.netuid, 'netuid')).u64(expectUint(q.runId, 'runId'));
  if (q.op !== 'inventory' && q.op !== 'get') throw new CodecError(`fetch request: unknown op ${JSON.stringify(q.op)}`);
  w.u16(q.hashes.length);
  for (const h of q.hashes) w.fixed(fromHex(h, 32, 'fetch hash'), 32);
  return w.finish();
}

export function decodeFetchRequest(bytes: Uint8Array): FetchRequest {
  if (bytes.length > MAX_FETCH_REQUEST_BYTES) throw new CodecError(`fetch request: ${bytes.length} bytes exceed the limit of ${MAX_FETCH_REQUEST_BYTES}`);
  const r = new Reader(bytes, 'fetch request');
  const version = r.u8();
  if (version !== 1) throw new CodecError(`fetch request: unknown version ${version}`);
  const o = r.u8();
  if (o !== 1 && o !== 2) throw new CodecError(`fetch request: unknown op code ${o}`);
  const netuid = r.u16();
  const runId = r.u64();
  const n = r.u16();
  if (n > MAX_FETCH_HASHES) throw new CodecError(`fetch request: ${n} hashes exceed the limit of ${MAX_FETCH_HASHES}`);
  const hashes: string[] = [];
  for (let i = 0; i < n; i++) hashes.push(toHex(r.fixed(32)));
  r.end();
  return { version: 1, op: o === 1 ? 'inventory' : 'get', netuid, runId, hashes };
}

export function encodeFetchResponse(s: FetchResponse): Uint8Array {
  if (s.hashes.length > MAX_INVENTORY) throw new CodecError(`fetch response: ${s.hashes.length} hashes exceed the limit of ${MAX_INVENTORY}`);
  if (s.items.length > MAX_FETCH_HASHES) throw new CodecError(`fetch response: ${s.items.length} items exceed the limit of ${MAX_FETCH_HASHES}`);
  const code = FETCH_STATUSES.indexOf(s.status);
  if (code < 0) throw new CodecError(`fetch response: unknown status ${JSON.stringify(s.status)}`);
  const w = new Writer();
  w.u8(1).u8(code).string(s.message.slice(0, 200), MAX_REASON_BYTES);
  w.u32(s.hashes.length);
  for (const h of s.hashes) w.fixed(fromHex(h, 32, 'inventory hash'), 32);
  w.u16(s.items.length);
  for (const it of s.items) {
    if (it.bytes.length > MAX_GOSSIP_ENVELOPE_BYTES) throw new CodecError('fetch response: item too large');
    w.u8(it.kind === 'envelope' ? 1 : 2).bytes(it.bytes);
  }
  const out = w.finish();
  if (out.length > MAX_FETCH_RESPONSE_BYTES) throw new CodecError(`fetch response: ${out.length} bytes exceed the limit of ${MAX_FETCH_RESPONSE_BYTES}`);
  return out;
}

export function decodeFetchResponse(bytes: Uint8Array): FetchResponse {
  if (bytes.length > MAX_FETCH_RESPONSE_BYTES) throw new CodecError(`fetch response: ${bytes.length} bytes exceed the limit of ${MAX_FETCH_RESPONSE_BYTES}`);
  const r = new Reader(bytes, 'fetch response');
  const version = r.u8();
  if (version !== 1) throw new CodecError(`fetch response: unknown version ${version}`);
  const code = r.u8();
  const status = FETCH_STATUSES[code];
  if (status === undefined) throw new CodecError(`fetch response: unknown status code ${code}`);
  const message = r.string(MAX_REASON_BYTES);
  const nh = r.u32();
  if (nh > MAX_INVENTORY) throw new CodecError(`fetch response: ${nh} hashes exceed the limit of ${MAX_INVENTORY}`);
  const hashes: string[] = [];
  for (let i = 0; i < nh; i++) hashes.push(toHex(r.fixed(32)));
  const ni = r.u16();
  if (ni > MAX_FETCH_HASHES) throw new CodecError(`fetch response: ${ni} items exceed the limit of ${MAX_FETCH_HASHES}`);
  const items: FetchItem[] = [];
  for (let i = 0; i < ni; i++) {
    const k = r.u8();
    if (k !== 1 && k !== 2) throw new CodecError(`fetch response: unknown item kind ${k}`);
    items.push({ kind: k === 1 ? 'envelope' : 'blob', bytes: r.bytes(MAX_GOSSIP_ENVELOPE_BYTES) });
  }
  r.end();
  return { version: 1, status, message, hashes, items };
}

export * from './run-bundle.ts';

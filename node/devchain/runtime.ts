// The devchain's "runtime": the storage view and event encoding the pallets share, the pool's validity
// checks and the dispatch of the calls Conclave uses (./pallets/: Commitments.set_commitment,
// SubtensorModule.set_weights / commit_timelocked_weights / serve_axon), with subtensor's checks and error
// names, and the per-block hook (epoch schedule, commit reveals). Events are encoded exactly as the real
// runtime would (so @polkadot/api decodes them).
import { u8aConcat, compactToU8a, u8aToHex, hexToU8a, u8aToU8a } from '@polkadot/util';
import { type ChainMeta, storageKey, encodeValue, decodeValue } from './metadata.ts';

export interface Overlay {
  get(key: string): string | null;
  set(key: string, value: string | null): void;
  /** keys present under `prefix` (state merged with pending writes), sorted */
  keys(prefix: string): string[];
}

/** A dispatch failure, encoded as DispatchError::Module in ExtrinsicFailed. */
export class ModuleError extends Error {
  readonly section: string;
  readonly errorName: string;
  constructor(section: string, errorName: string) {
    super(`${section}.${errorName}`);
    this.name = 'ModuleError';
    this.section = section;
    this.errorName = errorName;
  }
}

export interface EncodedEvent {
  bytes: Uint8Array;
}

function palletIndex(meta: ChainMeta, section: string): number {
  const p = meta.metadata.asLatest.pallets.find((x) => x.name.toString().toLowerCase() === section.toLowerCase());
  if (!p) throw new Error(`pallet ${section} not in metadata`);
  return p.index.toNumber();
}

export function encodeEvent(meta: ChainMeta, section: string, name: string, values: unknown[]): EncodedEvent {
  const ev = (meta.decorated.events as Record<string, Record<string, { meta: { index: { toNumber(): number }; fields: { type: unknown }[] } }>>)[section]?.[name];
  if (!ev) throw new Error(`event ${section}.${name} not in metadata`);
  const fields = ev.meta.fields.map((f, i) => meta.registry.createType(meta.registry.createLookupType(f.type as never), values[i]).toU8a());
  return { bytes: u8aConcat(Uint8Array.of(palletIndex(meta, section), ev.meta.index.toNumber()), ...fields) };
}

const DISPATCH_INFO = { weight: { refTime: 100_000_000, proofSize: 4096 }, class: 'Normal', paysFee: 'Yes' };

export function successEvent(meta: ChainMeta): EncodedEvent {
  return encodeEvent(meta, 'system', 'ExtrinsicSuccess', [DISPATCH_INFO]);
}

export function failedEvent(meta: ChainMeta, err: ModuleError): EncodedEvent {
  const e = (meta.decorated.errors as Record<string, Record<string, { meta: { index: { toNumber(): number } } }>>)[err.section]?.[err.errorName];
  if (!e) throw new Error(`error ${err.section}.${err.errorName} not in metadata`);
  const error = new Uint8Array(4);
  error[0] = e.meta.index.toNumber();
  return encodeEvent(meta, 'system', 'ExtrinsicFailed', [{ Module: { index: palletIndex(meta, err.section), error } }, DISPATCH_INFO]);
}

/** ExtrinsicFailed with DispatchError::Other, for a failure that is not a pallet error (a devchain bug). */
export function otherFailedEvent(meta: ChainMeta): EncodedEvent {
  return encodeEvent(meta, 'system', 'ExtrinsicFailed', [{ Other: null }, DISPATCH_INFO]);
}

/** Vec<EventRecord>: phase ApplyExtrinsic(i), Initialization (i = INITIALIZATION) or Finalization (other i < 0), event, no topics. */
export const INITIALIZATION = -2;
export function encodeEventRecords(records: { extrinsic: number; event: EncodedEvent }[]): string {
  const parts = records.map((r) => {
    const phase = r.extrinsic >= 0 ? u8aConcat(Uint8Array.of(0), u32le(r.extrinsic)) : Uint8Array.of(r.extrinsic === INITIALIZATION ? 2 : 1);
    return u8aConcat(phase, r.event.bytes, Uint8Array.of(0));
  });
  return u8aToHex(u8aConcat(compactToU8a(records.length), ...parts));
}

export function u32le(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

export interface CallInput {
  section: string;
  method: string;
  args: Record<string, unknown>;
}

/** The calls the devchain applies; anything else is refused at submission as InvalidTransaction::Call. */
export const SUPPORTED_CALLS = new Set([
  'commitments.setCommitment', 'subtensorModule.setWeights', 'subtensorModule.serveAxon',
  'subtensorModule.commitTimelockedWeights', 'subtensorModule.commitTimelockedMechanismWeights',
]);

export class Store {
  readonly meta: ChainMeta;
  readonly ov: Overlay;
  constructor(meta: ChainMeta, ov: Overlay) {
    this.meta = meta;
    this.ov = ov;
  }
  has(pallet: string, item: string): boolean {
    return Boolean(this.meta.decorated.query[pallet]?.[item]);
  }
  read(pallet: string, item: string, ...args: unknown[]) {
    const k = storageKey(this.meta, pallet, item, ...args);
    const v = this.ov.get(k);
    return { key: k, raw: v, value: v === null ? null : decodeValue(this.meta, pallet, item, v) };
  }
  write(pallet: string, item: string, args: unknown[], value: unknown) {
    this.ov.set(storageKey(this.meta, pallet, item, ...args), encodeValue(this.meta, pallet, item, value));
  }
  remove(pallet: string, item: string, ...args: unknown[]) {
    this.ov.set(storageKey(this.meta, pallet, item, ...args), null);
  }
  /** Default-valued read (ValueQuery): falls back to the metadata default. */
  readDefault(pallet: string, item: string, ...args: unknown[]) {
    const r = this.read(pallet, item, ...args);
    if (r.value) return r.value;
    const e = this.meta.decorated.query[pallet][item];
    return decodeValue(this.meta, pallet, item, e.meta.fallback.toHex());
  }
  num(pallet: string, item: string, ...args: unknown[]): number {
    return Number(this.readDefault(pallet, item, ...args).toString());
  }
  uidOf(netuid: number, who: string): number | null {
    const v = this.read('subtensorModule', 'uids', netuid, who).value as unknown as { isSome?: boolean; unwrap?: () => unknown } | null;
    if (v === null) return null;
    return num(v.unwrap ? v.unwrap() : v);
  }
}

export function num(v: unknown): number {
  return Number((v as { toString(): string }).toString());
}

/** Context of one block's execution: its number and the chain clock (ms). */
export interface BlockContext {
  block: number;
  nowMs: number;
}

export { hexToU8a, u8aToU8a };

// The devchain's "runtime": applies the calls Conclave uses (Commitments.set_commitment,
// SubtensorModule.set_weights / serve_axon) against storage, with subtensor's checks and error names,
// and encodes System events exactly as the real runtime would (so @polkadot/api decodes them).
import { u8aConcat, compactToU8a, u8aToHex, hexToU8a, u8aToU8a } from '@polkadot/util';
import { type ChainMeta, storageKey, encodeValue, decodeValue } from './metadata.ts';

export interface Overlay {
  get(key: string): string | null;
  set(key: string, value: string | null): void;
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

/** Vec<EventRecord>: phase ApplyExtrinsic(i) (or Finalization when i < 0), event, no topics. */
export function encodeEventRecords(records: { extrinsic: number; event: EncodedEvent }[]): string {
  const parts = records.map((r) => {
    const phase = r.extrinsic >= 0 ? u8aConcat(Uint8Array.of(0), u32le(r.extrinsic)) : Uint8Array.of(1);
    return u8aConcat(phase, r.event.bytes, Uint8Array.of(0));
  });
  return u8aToHex(u8aConcat(compactToU8a(records.length), ...parts));
}

function u32le(n: number): Uint8Array {
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
export const SUPPORTED_CALLS = new Set(['commitments.setCommitment', 'subtensorModule.setWeights', 'subtensorModule.serveAxon']);

class Store {
  readonly meta: ChainMeta;
  readonly ov: Overlay;
  constructor(meta: ChainMeta, ov: Overlay) {
    this.meta = meta;
    this.ov = ov;
  }
  read(pallet: string, item: string, ...args: unknown[]) {
    const k = storageKey(this.meta, pallet, item, ...args);
    const v = this.ov.get(k);
    return { key: k, raw: v, value: v === null ? null : decodeValue(this.meta, pallet, item, v) };
  }
  write(pallet: string, item: string, args: unknown[], value: unknown) {
    this.ov.set(storageKey(this.meta, pallet, item, ...args), encodeValue(this.meta, pallet, item, value));
  }
  /** Default-valued read (ValueQuery): falls back to the metadata default. */
  readDefault(pallet: string, item: string, ...args: unknown[]) {
    const r = this.read(pallet, item, ...args);
    if (r.value) return r.value;
    const e = this.meta.decorated.query[pallet][item];
    return decodeValue(this.meta, pallet, item, e.meta.fallback.toHex());
  }
}

function num(v: unknown): number {
  return Number((v as { toString(): string }).toString());
}

/** Applies one call for `who` at block `block`; returns the call's own events or throws ModuleError. */
export function dispatch(meta: ChainMeta, ov: Overlay, who: string, block: number, call: CallInput): EncodedEvent[] {
  const s = new Store(meta, ov);
  const id = `${call.section}.${call.method}`;
  if (id === 'commitments.setCommitment') return setCommitment(s, who, block, call.args);
  if (id === 'subtensorModule.setWeights') return setWeights(s, who, block, call.args);
  if (id === 'subtensorModule.serveAxon') return serveAxon(s, who, block, call.args);
  throw new Error(`call ${id} is not supported by the devchain`);
}

function setCommitment(s: Store, who: string, block: number, a: Record<string, unknown>): EncodedEvent[] {
  const netuid = num(a.netuid);
  if (s.read('subtensorModule', 'uids', netuid, who).value === null) throw new ModuleError('commitments', 'AccountNotAllowedCommit');
  const info = a.info as { fields: unknown[] } & { toJSON(): unknown; toU8a(): Uint8Array };
  if (info.fields.length > 3) throw new ModuleError('commitments', 'TooManyFieldsInCommitmentInfo');
  const maxSpace = num(s.readDefault('commitments', 'maxSpace'));
  if (info.toU8a().length > maxSpace) throw new ModuleError('commitments', 'SpaceLimitExceeded');
  s.ov.set(storageKey(s.meta, 'commitments', 'commitmentOf', netuid, who),
    u8aToHex(u8aConcat(s.meta.registry.createType('u64', 0).toU8a(), u32le(block), info.toU8a())));
  s.write('commitments', 'lastCommitment', [netuid, who], block);
  return [encodeEvent(s.meta, 'commitments', 'Commitment', [netuid, who])];
}

/** subtensor's max_upscale_to_u16: scale so the largest weight becomes 65535. */
export function maxUpscaleU16(weights: number[]): number[] {
  const max = Math.max(0, ...weights);
  if (max === 0) return weights.map(() => 0);
  return weights.map((w) => Math.round((w * 65535) / max));
}

function setWeights(s: Store, who: string, block: number, a: Record<string, unknown>): EncodedEvent[] {
  const netuid = num(a.netuid);
  const dests = (a.dests as unknown[]).map(num);
  const weights = (a.weights as unknown[]).map(num);
  const versionKey = BigInt((a.versionKey as { toString(): string }).toString());
  if (!s.read('subtensorModule', 'networksAdded', netuid).value?.toJSON()) throw new ModuleError('subtensorModule', 'SubnetNotExists');
  if (s.readDefault('subtensorModule', 'commitRevealWeightsEnabled', netuid).toJSON()) throw new ModuleError('subtensorModule', 'CommitRevealEnabled');
  const uidV = s.read('subtensorModule', 'uids', netuid, who).value;
  if (uidV === null) throw new ModuleError('subtensorModule', 'HotKeyNotRegisteredInSubNet');
  const uid = num((uidV as unknown as { unwrap(): unknown }).unwrap ? (uidV as unknown as { unwrap(): unknown }).unwrap() : uidV);
  if (dests.length !== weights.length) throw new ModuleError('subtensorModule', 'WeightVecNotEqualSize');
  if (versionKey < BigInt(s.readDefault('subtensorModule', 'weightsVersionKey', netuid).toString())) throw new ModuleError('subtensorModule', 'IncorrectWeightVersionKey');
  const permits = s.readDefault('subtensorModule', 'validatorPermit', netuid).toJSON() as boolean[];
  const selfOnly = dests.length === 1 && dests[0] === uid;
  if (!permits[uid] && !selfOnly) throw new ModuleError('subtensorModule', 'NeuronNoValidatorPermit');
  const lastUpdate = (s.readDefault('subtensorModule', 'lastUpdate', netuid).toJSON() as number[]).map(Number);
  const limit = num(s.readDefault('subtensorModule', 'weightsSetRateLimit', netuid));
  const last = lastUpdate[uid] ?? 0;
  if (last !== 0 && block - last < limit) throw new ModuleError('subtensorModule', 'SettingWeightsTooFast');
  const n = num(s.readDefault('subtensorModule', 'subnetworkN', netuid));
  if (new Set(dests).size !== dests.length) throw new ModuleError('subtensorModule', 'DuplicateUids');
  if (dests.some((d) => d >= n)) throw new ModuleError('subtensorModule', 'UidVecContainInvalidOne');
  const minW = num(s.readDefault('subtensorModule', 'minAllowedWeights', netuid));
  if (!selfOnly && dests.length < Math.min(minW, n)) throw new ModuleError('subtensorModule', 'WeightVecLengthIsLow');
  const scaled = maxUpscaleU16(weights);
  const pairs = dests.map((d, i) => [d, scaled[i]] as [number, number]).filter(([, w]) => w > 0).sort((x, y) => x[0] - y[0]);
  s.write('subtensorModule', 'weights', [netuid, uid], pairs);
  while (lastUpdate.length < n) lastUpdate.push(0);
  lastUpdate[uid] = block;
  s.write('subtensorModule', 'lastUpdate', [netuid], lastUpdate);
  return [encodeEvent(s.meta, 'subtensorModule', 'WeightsSet', [netuid, uid])];
}

function serveAxon(s: Store, who: string, block: number, a: Record<string, unknown>): EncodedEvent[] {
  const netuid = num(a.netuid);
  if (s.read('subtensorModule', 'uids', netuid, who).value === null) throw new ModuleError('subtensorModule', 'HotKeyNotRegisteredInNetwork');
  const ipType = num(a.ipType);
  if (ipType !== 4 && ipType !== 6) throw new ModuleError('subtensorModule', 'InvalidIpType');
  const port = num(a.port);
  if (port === 0) throw new ModuleError('subtensorModule', 'InvalidPort');
  s.write('subtensorModule', 'axons', [netuid, who], {
    block, version: num(a.version), ip: BigInt((a.ip as { toString(): string }).toString()), port, ipType,
    protocol: num(a.protocol), placeholder1: num(a.placeholder1), placeholder2: num(a.placeholder2),
  });
  return [encodeEvent(s.meta, 'subtensorModule', 'AxonServed', [netuid, who])];
}

export { hexToU8a, u8aToU8a };

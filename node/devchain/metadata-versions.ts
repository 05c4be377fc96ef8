// Serving metadata as a real node does: `state_getMetadata` / `Metadata_metadata` answer V14, and
// `Metadata_metadata_at_version` answers 14, 15 and 16 (Metadata_metadata_versions lists them). The
// devchain ships one V16 file; V15 and V14 are derived from it here: same portable type registry, same
// pallets, calls, events, errors, constants and storage; what V16 added (deprecation info, view functions,
// associated types, runtime API versions, extension versions) is dropped, and what V14/V15 carry that V16
// does not (the UncheckedExtrinsic and Runtime type ids, the extra-data tuple) is found in the registry.
//
// It also adds the stateful epoch schedule's storage items (spec >= 423) to SubtensorModule when the
// source metadata predates them, with subtensor's own hashers, types and defaults (pallets/subtensor lib.rs):
// LastEpochBlock, PendingEpochAt, SubnetEpochIndex (Identity NetUid -> u64, default 0) and
// ActivityCutoffFactorMilli (Identity NetUid -> u32, default 13_889).
import { TypeRegistry, Metadata } from '@polkadot/types';
import { u8aConcat, u8aToHex } from '@polkadot/util';

const MAGIC = Uint8Array.from([0x6d, 0x65, 0x74, 0x61]); // "meta"

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

function le(n: bigint, bytes: number): string {
  let h = '';
  for (let i = 0; i < bytes; i++, n >>= 8n) h += Number(n & 0xffn).toString(16).padStart(2, '0');
  return '0x' + h;
}

function primitiveId(lookup: Json[], prim: string): number {
  const t = lookup.find((x) => String(x.type.def.primitive ?? '').toLowerCase() === prim);
  if (t === undefined) throw new Error(`metadata registry has no ${prim}`);
  return t.id;
}

export const STATEFUL_EPOCH_ITEMS = ['LastEpochBlock', 'PendingEpochAt', 'SubnetEpochIndex', 'ActivityCutoffFactorMilli'];

/** V16 JSON with the stateful-epoch storage items added to SubtensorModule (no-op where present). */
export function withStatefulEpochItems(v16: Json): Json {
  const lookup: Json[] = v16.lookup.types;
  const u16 = primitiveId(lookup, 'u16');
  const u32 = primitiveId(lookup, 'u32');
  const u64 = primitiveId(lookup, 'u64');
  const pallet = v16.pallets.find((p: Json) => p.name === 'SubtensorModule');
  if (!pallet?.storage) throw new Error('metadata has no SubtensorModule storage');
  const items: Json[] = pallet.storage.items;
  const add = (name: string, value: number, fallback: string, docs: string[]) => {
    if (items.some((i) => i.name === name)) return;
    items.push({ name, modifier: 'Default', type: { map: { hashers: ['Identity'], key: u16, value } }, fallback, docs, deprecationInfo: { notDeprecated: null } });
  };
  add('LastEpochBlock', u64, le(0n, 8), [' --- MAP ( netuid ) --> last epoch attempt block (consumed slot).']);
  add('PendingEpochAt', u64, le(0n, 8), [' --- MAP ( netuid ) --> block at which a manually triggered epoch should fire.', ' `0` means no trigger pending.']);
  add('SubnetEpochIndex', u64, le(0n, 8), [' --- MAP ( netuid ) --> monotonic epoch counter.']);
  add('ActivityCutoffFactorMilli', u32, le(13_889n, 4), [' --- MAP ( netuid ) --> activity-cutoff factor in per-mille epochs (1/1000 granularity).']);
  return v16;
}

function stripStorage(storage: Json): Json {
  return storage ? { prefix: storage.prefix, items: storage.items.map(({ deprecationInfo: _d, ...i }: Json) => i) } : null;
}

function typeIdOf(lookup: Json[], test: (path: string) => boolean): number | undefined {
  return lookup.find((t) => test(t.type.path.join('::')))?.id;
}

/** The registry type ids V14/V15 need and V16 does not carry. */
function legacyIds(v16: Json): { extrinsicType: number; runtimeType: number; extraType: number } {
  const lookup: Json[] = v16.lookup.types;
  const callType = v16.extrinsic.callType;
  const candidates = lookup.filter((t) => t.type.path.at(-1) === 'UncheckedExtrinsic' && t.type.params.some((p: Json) => p.type === callType));
  // the runtime's own extrinsic type: fp_self_contained's wrapper where the runtime has one
  const ux = candidates.find((t) => t.type.path[0] === 'fp_self_contained') ?? candidates[0];
  if (!ux) throw new Error('metadata registry has no UncheckedExtrinsic type for its call type');
  const extra = ux.type.params.find((p: Json) => p.name === 'Extra' || p.name === 'Extension')?.type;
  const runtimeType = typeIdOf(lookup, (p) => /::Runtime$/.test(p) && !/::Runtime(Call|Event|Error|Origin)/.test(p));
  if (extra === undefined || runtimeType === undefined) throw new Error('metadata registry lacks the extrinsic extra-data tuple or the Runtime type');
  return { extrinsicType: ux.id, runtimeType, extraType: extra };
}

function v0Extensions(v16: Json): Json[] {
  const byVersion = v16.extrinsic.transactionExtensionsByVersion;
  const idx: number[] = byVersion['0'] ?? byVersion[0] ?? v16.extrinsic.transactionExtensions.map((_: Json, i: number) => i);
  return idx.map((i) => v16.extrinsic.transactionExtensions[i]).map((e: Json) => ({ identifier: e.identifier, type: e.type, additionalSigned: e.implicit }));
}

export function v16ToV15(v16: Json): Json {
  const ids = legacyIds(v16);
  return {
    lookup: v16.lookup,
    pallets: v16.pallets.map((p: Json) => ({
      name: p.name, storage: stripStorage(p.storage), calls: p.calls ? { type: p.calls.type } : null, events: p.events ? { type: p.events.type } : null,
      constants: p.constants.map(({ deprecationInfo: _d, ...c }: Json) => c), errors: p.errors ? { type: p.errors.type } : null, index: p.index, docs: p.docs,
    })),
    extrinsic: { version: 4, addressType: v16.extrinsic.addressType, callType: v16.extrinsic.callType, signatureType: v16.extrinsic.signatureType, extraType: ids.extraType, signedExtensions: v0Extensions(v16) },
    type: ids.runtimeType,
    apis: v16.apis.map((a: Json) => ({ name: a.name, methods: a.methods.map(({ deprecationInfo: _d, ...m }: Json) => m), docs: a.docs })),
    outerEnums: v16.outerEnums,
    custom: v16.custom,
  };
}

export function v16ToV14(v16: Json): Json {
  const ids = legacyIds(v16);
  return {
    lookup: v16.lookup,
    pallets: v16.pallets.map((p: Json) => ({
      name: p.name, storage: stripStorage(p.storage), calls: p.calls ? { type: p.calls.type } : null, events: p.events ? { type: p.events.type } : null,
      constants: p.constants.map(({ deprecationInfo: _d, ...c }: Json) => c), errors: p.errors ? { type: p.errors.type } : null, index: p.index,
    })),
    extrinsic: { type: ids.extrinsicType, version: 4, signedExtensions: v0Extensions(v16) },
    type: ids.runtimeType,
  };
}

/** Versioned metadata bytes ("meta" ‖ version ‖ body) of a JSON body. */
export function encodeMetadata(version: 14 | 15 | 16, body: Json): Uint8Array {
  const registry = new TypeRegistry();
  const encoded = registry.createType(`MetadataV${version}`, body).toU8a();
  return u8aConcat(MAGIC, Uint8Array.of(version), encoded);
}

export interface ServedMetadata {
  /** versioned bytes by metadata version */
  byVersion: Map<number, Uint8Array>;
  /** the V16 metadata, decoded (what the devchain's own registry is built from) */
  latest: Uint8Array;
}

/**
 * From V16 source bytes: the V16, V15 and V14 documents a node serves. `statefulEpochs` adds the stateful
 * schedule's storage items when missing (a devchain modelling a current runtime).
 */
export function buildServedMetadata(source: Uint8Array, opts: { statefulEpochs: boolean }): ServedMetadata {
  const registry = new TypeRegistry();
  const m = new Metadata(registry, source);
  if (m.version !== 16) throw new Error(`devchain metadata must be V16 (got V${m.version})`);
  let v16 = m.asV16.toJSON() as Json;
  if (opts.statefulEpochs) v16 = withStatefulEpochItems(v16);
  const b16 = encodeMetadata(16, v16);
  return { latest: b16, byVersion: new Map([[16, b16], [15, encodeMetadata(15, v16ToV15(v16))], [14, encodeMetadata(14, v16ToV14(v16))]]) };
}

export { u8aToHex };

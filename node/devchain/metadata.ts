// The subtensor runtime metadata the devchain serves, decoded once per process and epoch model, plus the
// helpers the devchain uses to build real SCALE storage keys and values from it (hashers and types come
// from metadata). Source: subtensor's published metadata, spec 381 (subtensor-metadata-spec381.scale);
// the 'stateful' model adds the spec >= 423 epoch schedule items (./metadata-versions.ts), 'legacy' serves
// the file as published. Served as V14, V15 and V16 like a real node.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TypeRegistry, Metadata, expandMetadata } from '@polkadot/types';
import { compactStripLength, u8aToHex, hexToU8a } from '@polkadot/util';
import { SUBTENSOR_SIGNED_EXTENSIONS } from '../chain/extensions.ts';
import { buildServedMetadata } from './metadata-versions.ts';

export const METADATA_PATH = join(import.meta.dirname, 'subtensor-metadata-spec381.scale');

/** 'stateful': subtensor's epoch schedule since spec 423 (LastEpochBlock, ...); 'legacy': the modulo rule of older runtimes. */
export type EpochModel = 'stateful' | 'legacy';

type Decorated = ReturnType<typeof expandMetadata>;
type StorageEntryFn = Decorated['query'][string][string];

export interface ChainMeta {
  model: EpochModel;
  /** the V16 metadata the devchain's own registry is built from */
  bytes: Uint8Array;
  /** versioned metadata bytes served per version (14, 15, 16) */
  served: Map<number, Uint8Array>;
  registry: TypeRegistry;
  metadata: Metadata;
  decorated: Decorated;
  /** state_getRuntimeVersion JSON, from the System.Version constant. */
  runtimeVersion: Record<string, unknown>;
  specVersion: number;
  transactionVersion: number;
}

const cached = new Map<EpochModel, ChainMeta>();

/** Loads and decodes the metadata once per model; every devchain in the process shares the result (read-only). */
export function chainMeta(model: EpochModel = 'stateful'): ChainMeta {
  const hit = cached.get(model);
  if (hit) return hit;
  const served = buildServedMetadata(new Uint8Array(readFileSync(METADATA_PATH)), { statefulEpochs: model === 'stateful' });
  const bytes = served.latest;
  const registry = new TypeRegistry();
  const metadata = new Metadata(registry, bytes);
  registry.setSignedExtensions(undefined, SUBTENSOR_SIGNED_EXTENSIONS);
  registry.setMetadata(metadata, undefined, SUBTENSOR_SIGNED_EXTENSIONS, true);
  const decorated = expandMetadata(registry, metadata);
  const system = metadata.asLatest.pallets.find((p) => p.name.toString() === 'System');
  const versionConst = system?.constants.find((c) => c.name.toString() === 'Version');
  if (!versionConst) throw new Error('metadata has no System.Version constant; is subtensor-metadata-spec381.scale intact?');
  const rv = registry.createType(registry.createLookupType(versionConst.type), versionConst.value).toJSON() as Record<string, unknown>;
  const meta: ChainMeta = {
    model,
    bytes,
    served: served.byVersion,
    registry,
    metadata,
    decorated,
    runtimeVersion: { ...rv, stateVersion: 1 },
    specVersion: Number(rv.specVersion),
    transactionVersion: Number(rv.transactionVersion),
  };
  cached.set(model, meta);
  return meta;
}

/** Constant `pallet.name` (polkadot-js camelCase) as a number. */
export function constantNumber(meta: ChainMeta, pallet: string, name: string): number | null {
  const c = (meta.decorated.consts as Record<string, Record<string, { toString(): string }>>)[pallet]?.[name];
  return c ? Number(c.toString()) : null;
}

function entry(meta: ChainMeta, pallet: string, item: string): StorageEntryFn {
  const p = meta.decorated.query[pallet];
  const e = p?.[item];
  if (!e) throw new Error(`storage item ${pallet}.${item} is not in the subtensor metadata`);
  return e;
}

/** Full storage key (hex) of `pallet.item(...args)`; pallet/item in polkadot-js camelCase (subtensorModule.keys). */
export function storageKey(meta: ChainMeta, pallet: string, item: string, ...args: unknown[]): string {
  const fn = entry(meta, pallet, item);
  const withLen = (fn as (...a: unknown[]) => Uint8Array)(...args);
  return u8aToHex(compactStripLength(withLen as Uint8Array)[1]);
}

/** Prefix (hex) for iterating a map, optionally with leading keys fixed (e.g. netuid). */
export function storagePrefix(meta: ChainMeta, pallet: string, item: string, ...args: unknown[]): string {
  const fn = entry(meta, pallet, item);
  return u8aToHex(fn.keyPrefix(...(args as [])) as Uint8Array);
}

function valueTypeName(meta: ChainMeta, pallet: string, item: string): string {
  const t = entry(meta, pallet, item).meta.type;
  return meta.registry.createLookupType(t.isPlain ? t.asPlain : t.asMap.value);
}

/** SCALE-encodes a storage value (JSON-ish input accepted by createType). */
export function encodeValue(meta: ChainMeta, pallet: string, item: string, value: unknown): string {
  return u8aToHex(meta.registry.createType(valueTypeName(meta, pallet, item), value).toU8a());
}

export function decodeValue(meta: ChainMeta, pallet: string, item: string, hex: string) {
  return meta.registry.createType(valueTypeName(meta, pallet, item), hexToU8a(hex));
}

// Runtime metadata V14/V15 (frame-metadata), parsed only as far as storage reads need (pure): the
// portable type registry and each pallet's storage entries. Calls, events, errors and constants are
// skipped over by their layout; what follows the pallets (extrinsic, runtime APIs) is not read.
import { HASHERS, type Hasher } from './hashers.ts';
import { ScaleError, ScaleReader } from './scale.ts';

export type Primitive = 'bool' | 'char' | 'str' | 'u8' | 'u16' | 'u32' | 'u64' | 'u128' | 'u256' | 'i8' | 'i16' | 'i32' | 'i64' | 'i128' | 'i256';
const PRIMITIVES: readonly Primitive[] = ['bool', 'char', 'str', 'u8', 'u16', 'u32', 'u64', 'u128', 'u256', 'i8', 'i16', 'i32', 'i64', 'i128', 'i256'];

export interface Field { name: string | null; type: number }
export type TypeDef =
  | { kind: 'composite'; fields: Field[] }
  | { kind: 'variant'; variants: { name: string; index: number; fields: Field[] }[] }
  | { kind: 'sequence'; type: number }
  | { kind: 'array'; len: number; type: number }
  | { kind: 'tuple'; types: number[] }
  | { kind: 'primitive'; primitive: Primitive }
  | { kind: 'compact'; type: number }
  | { kind: 'bitsequence' };
export interface PortableType { id: number; path: string[]; def: TypeDef }

export interface StorageEntry {
  pallet: string;
  /** The pallet's storage prefix (twox128 of it starts every key). */
  prefix: string;
  name: string;
  optional: boolean;
  /** Plain: no hashers, keyType null. */
  hashers: Hasher[];
  keyType: number | null;
  valueType: number;
  defaultValue: Uint8Array;
}

export interface RuntimeMetadata {
  version: number;
  types: Map<number, PortableType>;
  /** `Pallet.Item` → entry. */
  storage: Map<string, StorageEntry>;
}

const MAGIC = 0x6174656d; // "meta", little-endian

function skipDocs(r: ScaleReader): void {
  const n = r.length(1);
  for (let i = 0; i < n; i++) r.vecBytes();
}

function fields(r: ScaleReader): Field[] {
  return r.vec(() => {
    const name = r.option(() => r.str());
    const type = r.compactNumber();
    r.option(() => r.vecBytes()); // type name
    skipDocs(r);
    return { name, type };
  });
}

function typeDef(r: ScaleReader): TypeDef {
  const tag = r.u8();
  switch (tag) {
    case 0: return { kind: 'composite', fields: fields(r) };
    case 1: return {
      kind: 'variant',
      variants: r.vec(() => {
        const name = r.str();
        const f = fields(r);
        const index = r.u8();
        skipDocs(r);
        return { name, index, fields: f };
      }),
    };
    case 2: return { kind: 'sequence', type: r.compactNumber() };
    case 3: {
      const len = r.u32();
      return { kind: 'array', len, type: r.compactNumber() };
    }
    case 4: return { kind: 'tuple', types: r.vec(() => r.compactNumber()) };
    case 5: {
      const p = PRIMITIVES[r.u8()];
      if (!p) throw new ScaleError('metadata: unknown primitive type');
      return { kind: 'primitive', primitive: p };
    }
    case 6: return { kind: 'compact', type: r.compactNumber() };
    case 7: r.compactNumber(); r.compactNumber(); return { kind: 'bitsequence' };
    default: throw new ScaleError(`metadata: unknown type definition tag ${tag}`);
  }
}

/** Parses `state_getMetadata` bytes (RuntimeMetadataPrefixed); V14 and V15 are understood. */
export function parseMetadata(bytes: Uint8Array): RuntimeMetadata {
  const r = new ScaleReader(bytes);
  if (r.u32() !== MAGIC) throw new ScaleError('metadata: no "meta" magic: not runtime metadata');
  const version = r.u8();
  if (version !== 14 && version !== 15) throw new ScaleError(`metadata V${version} is not supported here (V14 and V15 are); state_getMetadata of a FRAME node answers V14`);
  const types = new Map<number, PortableType>();
  const n = r.length(1);
  for (let i = 0; i < n; i++) {
    const id = r.compactNumber();
    const path = r.vec(() => r.str());
    r.vec(() => { r.vecBytes(); r.option(() => r.compactNumber()); return 0; }); // generic params
    const def = typeDef(r);
    skipDocs(r);
    types.set(id, { id, path, def });
  }
  const storage = new Map<string, StorageEntry>();
  const pallets = r.length(1);
  for (let p = 0; p < pallets; p++) {
    const pallet = r.str();
    r.option(() => {
      const prefix = r.str();
      const entries = r.length(1);
      for (let e = 0; e < entries; e++) {
        const name = r.str();
        const modifier = r.u8();
        const tag = r.u8();
        let hashers: Hasher[] = [];
        let keyType: number | null = null;
        let valueType: number;
        if (tag === 0) valueType = r.compactNumber();
        else if (tag === 1) {
          hashers = r.vec(() => {
            const h = HASHERS[r.u8()];
            if (!h) throw new ScaleError(`metadata: unknown storage hasher in ${pallet}.${name}`);
            return h;
          });
          keyType = r.compactNumber();
          valueType = r.compactNumber();
        } else throw new ScaleError(`metadata: unknown storage entry type ${tag} in ${pallet}.${name}`);
        const defaultValue = new Uint8Array(r.vecBytes());
        skipDocs(r);
        storage.set(`${pallet}.${name}`, { pallet, prefix, name, optional: modifier === 0, hashers, keyType, valueType, defaultValue });
      }
      return 0;
    });
    r.option(() => r.compactNumber()); // calls
    r.option(() => r.compactNumber()); // event
    r.vec(() => { r.vecBytes(); r.compactNumber(); r.vecBytes(); skipDocs(r); return 0; }); // constants
    r.option(() => r.compactNumber()); // error
    r.u8(); // index
    if (version === 15) skipDocs(r);
  }
  return { version, types, storage };
}

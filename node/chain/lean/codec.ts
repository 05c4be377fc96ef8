// Values of the runtime's own types, decoded and (for storage keys) encoded against the metadata's
// portable type registry (pure). Decoded shapes: integers up to 32 bits as numbers, wider as bigints;
// bool, str; [u8; N] and Vec<u8> as Uint8Array; a struct with named fields as an object, a one-field
// wrapper (AccountId32, NetUid) as its field, other tuples as arrays; Option as the value or null; any
// other enum as { Variant: value } (value null without fields).
import type { Field, PortableType, RuntimeMetadata } from './metadata.ts';
import { ScaleError, ScaleReader, uintLe } from './scale.ts';

export type Value = number | bigint | boolean | string | null | Uint8Array | Value[] | { [k: string]: Value };

const WIDTH: Record<string, number> = { u8: 1, u16: 2, u32: 4, u64: 8, u128: 16, u256: 32, i8: 1, i16: 2, i32: 4, i64: 8, i128: 16, i256: 32 };

function typeOf(md: RuntimeMetadata, id: number): PortableType {
  const t = md.types.get(id);
  if (!t) throw new ScaleError(`metadata has no type #${id}`);
  return t;
}

function isU8(md: RuntimeMetadata, id: number): boolean {
  const d = typeOf(md, id).def;
  return d.kind === 'primitive' && d.primitive === 'u8';
}

/** A struct's or variant's fields: a lone unnamed field as itself, all named as an object, else an array. */
function decodeFields(md: RuntimeMetadata, fields: Field[], r: ScaleReader, depth: number): Value {
  if (fields.length === 1 && fields[0].name === null) return decodeValue(md, fields[0].type, r, depth + 1);
  if (fields.every((f) => f.name !== null)) return Object.fromEntries(fields.map((f) => [f.name!, decodeValue(md, f.type, r, depth + 1)]));
  return fields.map((f) => decodeValue(md, f.type, r, depth + 1));
}

export function decodeValue(md: RuntimeMetadata, id: number, r: ScaleReader, depth = 0): Value {
  if (depth > 64) throw new ScaleError('type nesting deeper than 64');
  const t = typeOf(md, id);
  const d = t.def;
  switch (d.kind) {
    case 'primitive': {
      const p = d.primitive;
      if (p === 'bool') return r.bool();
      if (p === 'str') return r.str();
      if (p === 'char') return String.fromCodePoint(r.u32());
      const w = WIDTH[p];
      let v = r.uint(w);
      if (p.startsWith('i') && v >= 1n << BigInt(8 * w - 1)) v -= 1n << BigInt(8 * w);
      return w <= 4 ? Number(v) : v;
    }
    case 'compact': {
      const v = r.compact();
      const inner = typeOf(md, d.type).def;
      const small = inner.kind === 'primitive' ? (WIDTH[inner.primitive] ?? 16) <= 4 : false;
      return small ? Number(v) : v;
    }
    case 'sequence':
      if (isU8(md, d.type)) return new Uint8Array(r.vecBytes());
      return r.vec(() => decodeValue(md, d.type, r, depth + 1));
    case 'array':
      if (isU8(md, d.type)) return new Uint8Array(r.bytes(d.len));
      return Array.from({ length: d.len }, () => decodeValue(md, d.type, r, depth + 1));
    case 'tuple':
      return d.types.map((x) => decodeValue(md, x, r, depth + 1));
    case 'composite':
      return decodeFields(md, d.fields, r, depth);
    case 'variant': {
      const tag = r.u8();
      const v = d.variants.find((x) => x.index === tag);
      if (!v) throw new ScaleError(`${t.path.join('::') || `type #${id}`}: no variant with index ${tag}`);
      const value = v.fields.length > 0 ? decodeFields(md, v.fields, r, depth) : null;
      if (t.path[t.path.length - 1] === 'Option' && (v.name === 'None' || v.name === 'Some')) return v.name === 'None' ? null : value;
      return { [v.name]: value };
    }
    case 'bitsequence':
      throw new ScaleError(`type #${id} is a BitSequence, which this reader does not decode`);
  }
}

/** Decodes all of `bytes` as type `id`; trailing bytes are an error (a type mismatch, not data). */
export function decodeAll(md: RuntimeMetadata, id: number, bytes: Uint8Array, what: string): Value {
  const r = new ScaleReader(bytes);
  let v: Value;
  try {
    v = decodeValue(md, id, r);
  } catch (err) {
    throw new ScaleError(`${what}: ${(err as Error).message}`);
  }
  if (r.remaining !== 0) throw new ScaleError(`${what}: ${r.remaining} bytes left after decoding: the value is not of the metadata's type`);
  return v;
}

/** Encodes a storage key argument: unsigned integers, byte arrays (AccountId32), one-field wrappers of those. */
export function encodeKeyArg(md: RuntimeMetadata, id: number, value: number | bigint | Uint8Array, depth = 0): Uint8Array {
  if (depth > 8) throw new ScaleError('key type nesting deeper than 8');
  const t = typeOf(md, id);
  const d = t.def;
  if (d.kind === 'composite' && d.fields.length === 1) return encodeKeyArg(md, d.fields[0].type, value, depth + 1);
  if (d.kind === 'primitive' && d.primitive.startsWith('u') && typeof value !== 'object') return uintLe(value, WIDTH[d.primitive]);
  if (d.kind === 'array' && isU8(md, d.type) && value instanceof Uint8Array) {
    if (value.length !== d.len) throw new ScaleError(`key of ${d.len} bytes expected, got ${value.length}`);
    return value;
  }
  throw new ScaleError(`cannot encode a storage key argument of type ${t.path.join('::') || d.kind} from ${typeof value}`);
}

/** The key argument types of a map entry: one per hasher (a tuple key type splits into its members). */
export function keyArgTypes(md: RuntimeMetadata, keyType: number, hashers: number): number[] {
  if (hashers === 1) return [keyType];
  const d = typeOf(md, keyType).def;
  if (d.kind !== 'tuple' || d.types.length !== hashers) throw new ScaleError(`map key type #${keyType} does not split into ${hashers} keys`);
  return d.types;
}

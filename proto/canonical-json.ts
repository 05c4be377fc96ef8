// Canonical JSON: the one byte string for a JSON value that gets hashed or signed (policies, signed
// API documents). Object keys sorted at every level, no whitespace, members whose value is undefined
// left out, bigints as decimal strings. Non-finite numbers become null unless the caller refuses them.

export function canonicalJson(v: unknown, onNonFinite: (n: number) => string = () => 'null'): string {
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'number' && !Number.isFinite(v)) return onNonFinite(v);
    if (typeof v === 'bigint') return JSON.stringify(v.toString());
    return JSON.stringify(v) ?? 'null';
  }
  if (Array.isArray(v)) return '[' + v.map((x) => canonicalJson(x, onNonFinite)).join(',') + ']';
  const o = v as Record<string, unknown>;
  return '{' + Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => JSON.stringify(k) + ':' + canonicalJson(o[k], onNonFinite)).join(',') + '}';
}

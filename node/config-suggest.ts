// "did you mean …" for unknown config sections and keys: spelling, case, camelCase, a missing
// suffix, or a key placed in the wrong section. Pure; the schema is passed in.

/** The schema fields the suggestions need (SCHEMA of ./config.ts). */
export type KeyNames = readonly { key: string; path: [string, string] }[];

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** dataDir, data-dir, DATA_DIR → data_dir */
function snake(k: string): string {
  return k.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/[-.\s]+/g, '_').toLowerCase();
}

/** The closest name in `known` to `name` (spelling, case, camelCase, a missing suffix), or null. */
export function closest(name: string, known: string[]): string | null {
  const n = snake(name);
  let best: { k: string; d: number } | null = null;
  for (const k of known) {
    if (snake(k) === n) return k;
    // "password" → "password_file", "listen_addr" → "listen"
    if (k.startsWith(`${n}_`) || n.startsWith(`${k}_`)) return k;
    const d = editDistance(n, k);
    if (d <= Math.max(2, Math.floor(k.length / 4)) && (!best || d < best.d)) best = { k, d };
  }
  return best?.k ?? null;
}

/** "did you mean …" for an unknown key `section.name`: the same section first, then a key of that name elsewhere. */
export function suggestKey(schema: KeyNames, section: string, name: string): string {
  const inSection = schema.filter((d) => d.path[0] === section).map((d) => d.key.split('.')[1]);
  const near = closest(name, inSection);
  if (near) return `; did you mean ${section}.${near}?`;
  const elsewhere = schema.find((d) => d.key.split('.')[1] === snake(name));
  if (elsewhere) return `; did you mean ${elsewhere.key} (in [${elsewhere.path[0]}])?`;
  const anyNear = closest(name, schema.map((d) => d.key.split('.')[1]));
  if (anyNear) return `; did you mean ${schema.find((d) => d.key.split('.')[1] === anyNear)!.key}?`;
  return '';
}

/** "did you mean …" for an unknown section: a known section, or the section a key of that name belongs in. */
export function suggestSection(schema: KeyNames, sections: string[], section: string): string {
  const near = closest(section, sections);
  const asKey = schema.find((d) => d.key.split('.')[1] === snake(section));
  return near ? `; did you mean [${near}]?` : asKey ? `; ${asKey.key} belongs in [${asKey.path[0]}]` : '';
}

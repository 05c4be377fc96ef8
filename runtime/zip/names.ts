// Entry names: one meaning on every filesystem and for every reader. Names are strict UTF-8 (or plain
// ASCII without the UTF-8 flag), limited in bytes (a component ≤ 255 bytes, NAME_MAX), free of control,
// format (bidi, zero-width), private-use, unassigned and non-ASCII space characters and of characters
// Windows cannot store; no component ends with a dot or a space (Windows drops them), no reserved DOS
// device names. Duplicates are compared component by component after NFKC normalisation and case
// folding, so `pkg/` and `PKG/`, NFC and NFD twins, `a.py` and `A.PY` are the same name.
import { ZipRefusal, shown } from './refusal.ts';
import type { ZipLimits } from './refusal.ts';

export interface EntryName {
  /** The name as written in the archive, '/'-separated, without a trailing '/'. */
  path: string;
  components: string[];
  isDir: boolean;
}

// Cc: C0, DEL, C1; Cf: bidi overrides/isolates, zero-width, BOM, soft hyphen...; Co private use;
// Cn unassigned; Zl/Zp line and paragraph separators; Zs other than the ASCII space.
// Default_Ignorable_Code_Point adds what renders as nothing without being Cf: variation selectors,
// the combining grapheme joiner, Hangul fillers.
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]|(?! )\p{Zs}/u;
const WINDOWS_ILLEGAL = /[<>:"|?*\\]/;
const DOS_DEVICE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(\..*)?$/i;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Validates one raw entry name (bytes) and returns its path and components. */
export function checkEntryName(raw: Uint8Array, utf8Flag: boolean, limits: Pick<ZipLimits, 'maxPathBytes' | 'maxComponentBytes' | 'maxDepth'>): EntryName {
  const ascii = raw.every((b) => b < 0x80);
  if (!ascii && !utf8Flag) {
    throw new ZipRefusal('bad-name', 'an entry name has non-ASCII bytes but the UTF-8 flag is not set, so readers decode it differently (CP437 or UTF-8); rename it or set the flag');
  }
  let name: string;
  try {
    name = utf8.decode(raw);
  } catch {
    throw new ZipRefusal('bad-name', 'an entry name is not valid UTF-8; rename it');
  }
  const s = shown(name);
  if (raw.length === 0) throw new ZipRefusal('bad-name', 'an entry has an empty name');
  if (raw.length > limits.maxPathBytes) throw new ZipRefusal('bad-name', `entry name ${s} is ${raw.length} bytes long (limit ${limits.maxPathBytes} bytes)`, name);
  if (INVISIBLE.test(name)) throw new ZipRefusal('bad-name', `entry name ${s} contains a control, format (bidi, zero-width), private-use, unassigned or non-ASCII space character`, name);
  if (name.startsWith('/')) throw new ZipRefusal('absolute-path', `entry ${s} has an absolute path`, name);
  if (/^[A-Za-z]:/.test(name)) throw new ZipRefusal('absolute-path', `entry ${s} starts with a drive letter`, name);
  if (name.includes('\\')) throw new ZipRefusal('bad-name', `entry name ${s} contains a backslash; use / separators`, name);
  const isDir = name.endsWith('/');
  const components = (isDir ? name.slice(0, -1) : name).split('/');
  for (const c of components) {
    if (c === '..') throw new ZipRefusal('path-traversal', `entry ${s} climbs out of the project with '..'`, name);
  }
  for (const c of components) {
    // A component must pass as written and once NFKC-normalised: U+2025 '‥' becomes '..', U+FF0F '／' a '/'.
    const k = c.normalize('NFKC');
    if (k !== c && (k === '..' || k === '.' || k === '' || /[/\\]/.test(k) || INVISIBLE.test(k))) {
      throw new ZipRefusal('bad-name', `entry name ${s} has a component that normalises (NFKC) to a separator, '.', '..' or an invisible character`, name);
    }
    if (c === '' || c === '.') throw new ZipRefusal('bad-name', `entry ${s} has an empty or '.' path component`, name);
    if (Buffer.byteLength(c) > limits.maxComponentBytes) {
      throw new ZipRefusal('bad-name', `entry ${s} has a path component of ${Buffer.byteLength(c)} bytes (limit ${limits.maxComponentBytes} bytes per component)`, name);
    }
    if (WINDOWS_ILLEGAL.test(c) || WINDOWS_ILLEGAL.test(k)) throw new ZipRefusal('bad-name', `entry name ${s} contains one of < > : " | ? * (not storable on every filesystem)`, name);
    if (c.endsWith('.') || c.endsWith(' ') || k.endsWith('.') || k.endsWith(' ')) throw new ZipRefusal('bad-name', `entry name ${s} has a component ending in a dot or a space (dropped on Windows, so it twins another name)`, name);
    if (DOS_DEVICE.test(c) || DOS_DEVICE.test(k)) throw new ZipRefusal('bad-name', `entry name ${s} uses a reserved device name`, name);
  }
  if (components.length > limits.maxDepth) throw new ZipRefusal('bad-name', `entry ${s} is nested deeper than ${limits.maxDepth} levels`, name);
  return { path: components.join('/'), components, isDir };
}

/** The comparison key of one component: NFKC, then full case folding (upper then lower), then NFKC again. */
export function componentKey(c: string): string {
  return c.normalize('NFKC').toUpperCase().toLowerCase().normalize('NFKC');
}

/**
 * Refuses two entries that name the same file or directory once normalised and case folded, a file
 * that is also used as a directory, and one directory spelled two ways (`pkg/a.py`, `PKG/b.py`).
 */
export function checkDuplicates(names: EntryName[]): void {
  const dirs = new Map<string, string>(); // key -> spelling
  const files = new Map<string, string>();
  const explicitDirs = new Set<string>();
  const dirSpelling = (components: string[], upto: number, owner: string) => {
    const spelling = components.slice(0, upto).join('/');
    const key = components.slice(0, upto).map(componentKey).join('/');
    const prior = dirs.get(key);
    if (prior !== undefined && prior !== spelling) {
      throw new ZipRefusal('duplicate-name', `directories ${shown(prior)} and ${shown(spelling)} are the same name once normalised and case folded`, owner);
    }
    dirs.set(key, spelling);
    return key;
  };
  for (const n of names) {
    for (let i = 1; i < n.components.length; i++) dirSpelling(n.components, i, n.path);
    if (n.isDir) {
      const key = dirSpelling(n.components, n.components.length, n.path);
      if (explicitDirs.has(key)) throw new ZipRefusal('duplicate-name', `directory ${shown(n.path)} appears twice`, n.path);
      explicitDirs.add(key);
      continue;
    }
    const key = n.components.map(componentKey).join('/');
    const prior = files.get(key);
    if (prior !== undefined) {
      throw new ZipRefusal('duplicate-name', prior === n.path ? `entry ${shown(n.path)} appears twice` : `entries ${shown(prior)} and ${shown(n.path)} are the same name once normalised and case folded`, n.path);
    }
    files.set(key, n.path);
  }
  for (const [key, path] of files) {
    if (dirs.has(key)) throw new ZipRefusal('duplicate-name', `${shown(path)} is both a file and a directory`, path);
  }
}

// ZIP projects (as PRISM accepts them), read with our own strict reader (runtime/zip/): one reading of
// the bytes that every other ZIP tool must share, every entry checked before anything is written.
//   records.ts   structure: end record, central directory, local headers, exact tiling
//   names.ts     entry names (bytes, characters, normalised duplicates)
//   modes.ts     entry types from the external attributes
//   shadowing.ts names that would shadow Python's or the evaluator's modules
//   inflate.ts   stored/deflate data with size, ratio and CRC-32 checks
//   extract.ts   the whole pipeline and the write into a fresh directory
export { ZipRefusal, DEFAULT_ZIP_LIMITS } from './zip/refusal.ts';
export type { ZipLimits, ZipRefusalCode } from './zip/refusal.ts';
export { extractZipProject, readZipProject } from './zip/extract.ts';
export type { ExtractedFile, ExtractedProject, ProjectFile } from './zip/extract.ts';
export { checkEntryName } from './zip/names.ts';
import type { ExtractedFile } from './zip/extract.ts';

/** Importable top-level module names of a project: `helpers.py` → helpers, `utils/x.py` → utils. */
export function localModulesOf(files: ExtractedFile[]): string[] {
  const mods = new Set<string>();
  for (const f of files) {
    if (!f.path.endsWith('.py')) continue;
    const first = f.path.split('/')[0];
    mods.add(first.endsWith('.py') ? first.slice(0, -3) : first);
  }
  return [...mods].sort();
}

/**
 * True when the bytes are meant as a ZIP archive: they start with a local header or an end record, or
 * an end-of-central-directory signature lies where one would (the last 64 KiB), as in a ZIP behind a
 * prefix (a polyglot or self-extractor, which the reader then refuses with its own code).
 */
export function looksLikeZip(bytes: Uint8Array): boolean {
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && (bytes[2] === 3 || bytes[2] === 5) && (bytes[3] === 4 || bytes[3] === 6)) return true;
  for (let p = bytes.length - 22; p >= Math.max(0, bytes.length - 22 - 0xffff); p--) {
    if (bytes[p] === 0x50 && bytes[p + 1] === 0x4b && bytes[p + 2] === 5 && bytes[p + 3] === 6) return true;
  }
  return false;
}

// ZIP projects (as PRISM accepts them): validate every entry from the central directory before
// extracting anything, then inflate into a fresh directory counting the real bytes as they stream.
// Refused: symlinks, device/special files, absolute paths, `..`, odd names, types outside the
// allow-list, too many files, too many bytes, compression ratios of zip bombs, encryption.
import yauzl from 'yauzl';
import type { Entry } from 'yauzl';
import { mkdtemp, mkdir, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';

export interface ZipLimits {
  maxFiles: number;
  maxTotalBytes: number;
  maxFileBytes: number;
  /** Largest allowed uncompressed/compressed ratio per entry and for the whole archive. */
  maxRatio: number;
  maxPathLength: number;
  maxDepth: number;
  allowedExtensions: string[];
  entrypoint: string;
}

export const DEFAULT_ZIP_LIMITS: ZipLimits = {
  maxFiles: 64,
  maxTotalBytes: 4 * 1024 * 1024,
  maxFileBytes: 1024 * 1024,
  maxRatio: 100,
  maxPathLength: 200,
  maxDepth: 6,
  allowedExtensions: ['.py', '.txt', '.md', '.json', '.toml', '.yaml', '.yml', '.cfg'],
  entrypoint: 'train.py',
};

export type ZipRefusalCode = 'corrupt' | 'symlink' | 'special-file' | 'absolute-path' | 'path-traversal' | 'bad-name'
  | 'file-type' | 'too-many-files' | 'too-large' | 'compression-ratio' | 'encrypted' | 'duplicate-name' | 'no-entrypoint';

export class ZipRefusal extends Error {
  readonly code: ZipRefusalCode;
  readonly entry?: string;
  constructor(code: ZipRefusalCode, message: string, entry?: string) {
    super(message);
    this.name = 'ZipRefusal';
    this.code = code;
    this.entry = entry;
  }
}

export interface ExtractedFile { path: string; bytes: number }
export interface ExtractedProject { dir: string; files: ExtractedFile[]; entrypoint: string }

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** Unix file type bits from the external attributes, when the archive was made on Unix. */
function unixType(e: Entry): number | null {
  if (e.versionMadeBy >>> 8 !== 3) return null;
  const mode = (e.externalFileAttributes >>> 16) & 0xffff;
  return mode === 0 ? null : mode & S_IFMT;
}

/** Validates one raw entry name; returns the normalised relative path and whether it is a directory. */
export function checkEntryName(raw: Buffer, limits: ZipLimits = DEFAULT_ZIP_LIMITS): { path: string; isDir: boolean } {
  let name: string;
  try {
    name = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw new ZipRefusal('bad-name', 'an entry name is not valid UTF-8; rename it with ASCII characters');
  }
  const shown = JSON.stringify(name);
  if (name.length === 0 || name.length > limits.maxPathLength) throw new ZipRefusal('bad-name', `entry name ${shown} is empty or longer than ${limits.maxPathLength}`, name);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(name)) throw new ZipRefusal('bad-name', `entry name ${shown} contains control characters`, name);
  if (name.includes('\\')) throw new ZipRefusal('bad-name', `entry name ${shown} contains a backslash; use / separators`, name);
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) throw new ZipRefusal('absolute-path', `entry ${shown} has an absolute path`, name);
  const isDir = name.endsWith('/');
  const parts = (isDir ? name.slice(0, -1) : name).split('/');
  for (const p of parts) {
    if (p === '..') throw new ZipRefusal('path-traversal', `entry ${shown} climbs out of the project with '..'`, name);
    if (p === '' || p === '.') throw new ZipRefusal('bad-name', `entry ${shown} has an empty or '.' path component`, name);
  }
  if (parts.length > limits.maxDepth) throw new ZipRefusal('bad-name', `entry ${shown} is nested deeper than ${limits.maxDepth} directories`, name);
  const path = posix.normalize(parts.join('/'));
  if (path.startsWith('..') || posix.isAbsolute(path)) throw new ZipRefusal('path-traversal', `entry ${shown} escapes the project`, name);
  return { path, isDir };
}

interface PlannedEntry { entry: Entry; path: string; isDir: boolean }

function plan(entries: Entry[], limits: ZipLimits): PlannedEntry[] {
  const planned: PlannedEntry[] = [];
  const seen = new Set<string>();
  let files = 0;
  let declared = 0;
  let compressed = 0;
  for (const e of entries) {
    const raw = Buffer.isBuffer(e.fileName) ? (e.fileName as unknown as Buffer) : Buffer.from(e.fileNameRaw);
    const { path, isDir } = checkEntryName(raw, limits);
    const type = unixType(e);
    if (type === S_IFLNK) throw new ZipRefusal('symlink', `entry ${JSON.stringify(path)} is a symbolic link; symlinks are refused`, path);
    if (type !== null && type !== S_IFREG && type !== S_IFDIR) {
      throw new ZipRefusal('special-file', `entry ${JSON.stringify(path)} is a device or special file (mode ${type.toString(8)})`, path);
    }
    if (type === S_IFDIR && !isDir) throw new ZipRefusal('special-file', `entry ${JSON.stringify(path)} is a directory without a trailing /`, path);
    if (e.isEncrypted()) throw new ZipRefusal('encrypted', `entry ${JSON.stringify(path)} is encrypted`, path);
    const key = path.toLowerCase();
    if (seen.has(key)) throw new ZipRefusal('duplicate-name', `entry ${JSON.stringify(path)} appears twice (names compare case-insensitively)`, path);
    seen.add(key);
    if (isDir) {
      planned.push({ entry: e, path, isDir });
      continue;
    }
    files++;
    if (files > limits.maxFiles) throw new ZipRefusal('too-many-files', `the archive has more than ${limits.maxFiles} files`);
    const ext = posix.extname(path).toLowerCase();
    if (!limits.allowedExtensions.includes(ext)) {
      throw new ZipRefusal('file-type', `entry ${JSON.stringify(path)} has type '${ext || '(none)'}'; allowed: ${limits.allowedExtensions.join(' ')}`, path);
    }
    if (e.compressionMethod !== 0 && e.compressionMethod !== 8) {
      throw new ZipRefusal('corrupt', `entry ${JSON.stringify(path)} uses compression method ${e.compressionMethod}; only stored and deflate are accepted`, path);
    }
    if (e.uncompressedSize > limits.maxFileBytes) throw new ZipRefusal('too-large', `entry ${JSON.stringify(path)} unpacks to ${e.uncompressedSize} bytes (limit ${limits.maxFileBytes})`, path);
    declared += e.uncompressedSize;
    compressed += e.compressedSize;
    if (declared > limits.maxTotalBytes) throw new ZipRefusal('too-large', `the archive unpacks to more than ${limits.maxTotalBytes} bytes`);
    if (e.uncompressedSize > 1024 && e.uncompressedSize > limits.maxRatio * Math.max(1, e.compressedSize)) {
      throw new ZipRefusal('compression-ratio', `entry ${JSON.stringify(path)} has compression ratio ${(e.uncompressedSize / Math.max(1, e.compressedSize)).toFixed(0)}:1 (limit ${limits.maxRatio}:1)`, path);
    }
    planned.push({ entry: e, path, isDir });
  }
  // A path used both as a file and as a directory ("helpers.py" and "helpers.py/x.py") cannot be
  // extracted; refuse it here as a verdict, not as an fs error halfway through the extraction.
  const fileKeys = new Set(planned.filter((p) => !p.isDir).map((p) => p.path.toLowerCase()));
  for (const p of planned) {
    const parts = p.path.toLowerCase().split('/');
    for (let i = 1; i < parts.length; i++) {
      const ancestor = parts.slice(0, i).join('/');
      if (fileKeys.has(ancestor)) {
        throw new ZipRefusal('duplicate-name', `entry ${JSON.stringify(p.path)} lies under ${JSON.stringify(ancestor)}, which is also a file`, p.path);
      }
    }
  }
  if (declared > 1024 && declared > limits.maxRatio * Math.max(1, compressed)) {
    throw new ZipRefusal('compression-ratio', `the archive's overall compression ratio is above ${limits.maxRatio}:1`);
  }
  if (!planned.some((p) => !p.isDir && p.path === limits.entrypoint)) {
    throw new ZipRefusal('no-entrypoint', `the archive has no ${limits.entrypoint} at its root`);
  }
  return planned;
}

/**
 * Extracts a ZIP project into a fresh directory under `parent` (default the OS temp dir). Refuses
 * (ZipRefusal) before writing anything when the central directory breaks a rule; the real inflated
 * sizes are enforced again while streaming. On any refusal the fresh directory is removed.
 */
export async function extractZipProject(bytes: Uint8Array, opts: { parent?: string; limits?: Partial<ZipLimits> } = {}): Promise<ExtractedProject> {
  const limits: ZipLimits = { ...DEFAULT_ZIP_LIMITS, ...opts.limits };
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.fromBufferPromise(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      { lazyEntries: true, decodeStrings: false, validateEntrySizes: true, autoClose: false });
  } catch (err) {
    throw new ZipRefusal('corrupt', `not a readable ZIP archive: ${(err as Error).message}`);
  }
  const dir = await mkdtemp(join(opts.parent ?? tmpdir(), 'conclave-zip-'));
  try {
    const entries: Entry[] = [];
    try {
      for await (const e of zip.eachEntry()) {
        entries.push(e);
        if (entries.length > limits.maxFiles * 4 + 16) throw new ZipRefusal('too-many-files', `the archive has more than ${limits.maxFiles} files`);
      }
    } catch (err) {
      if (err instanceof ZipRefusal) throw err;
      throw new ZipRefusal('corrupt', `the ZIP central directory is malformed: ${(err as Error).message}`);
    }
    const planned = plan(entries, limits);
    const files: ExtractedFile[] = [];
    let total = 0;
    for (const p of planned) {
      const target = join(dir, ...p.path.split('/'));
      if (p.isDir) {
        await mkdir(target, { recursive: true, mode: 0o755 });
        continue;
      }
      await mkdir(join(target, '..'), { recursive: true, mode: 0o755 });
      // 'wx': create exclusively, never follow or overwrite anything already there. Opened before the
      // entry stream so that the stream's error listener is attached before any data flows.
      const fh = await open(target, 'wx', 0o644);
      let stream;
      try {
        stream = await zip.openReadStreamPromise(p.entry);
      } catch (err) {
        await fh.close();
        throw new ZipRefusal('corrupt', `cannot read entry ${JSON.stringify(p.path)}: ${(err as Error).message}`, p.path);
      }
      let written = 0;
      try {
        written = await new Promise<number>((resolve, reject) => {
          let n = 0;
          let failed = false;
          const fail = (err: Error) => { if (!failed) { failed = true; stream.destroy(); reject(err); } };
          stream.on('error', (err: Error) => fail(new ZipRefusal('corrupt', `entry ${JSON.stringify(p.path)} is damaged: ${err.message}`, p.path)));
          stream.on('data', (chunk: Buffer) => {
            if (failed) return;
            n += chunk.length;
            total += chunk.length;
            if (n > limits.maxFileBytes || total > limits.maxTotalBytes) {
              fail(new ZipRefusal('too-large', `entry ${JSON.stringify(p.path)} inflates past the size limit`, p.path));
              return;
            }
            stream.pause();
            fh.write(chunk).then(() => stream.resume(), (err: Error) => fail(err));
          });
          stream.on('end', () => { if (!failed) resolve(n); });
        });
      } finally {
        await fh.close();
      }
      files.push({ path: p.path, bytes: written });
    }
    return { dir, files, entrypoint: limits.entrypoint };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  } finally {
    zip.close();
  }
}

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

/** True when the bytes start like a ZIP archive (local file header or empty archive). */
export function looksLikeZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && (bytes[2] === 3 || bytes[2] === 5) && (bytes[3] === 4 || bytes[3] === 6);
}

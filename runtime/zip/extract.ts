// Extraction of a ZIP project: read the structure once (records.ts), check every name, type and size
// (names.ts, modes.ts, shadowing.ts), inflate every file in memory with CRC-32 and ratio checks
// (inflate.ts), and only then write the files into a fresh directory, created exclusively ('wx', never
// following or overwriting anything). Every refusal is a ZipRefusal with a code; an error the input
// could cause while writing (a name the filesystem rejects) is a refusal too ('unextractable'); only
// errors of the machine (disk full, I/O, permissions) are IntakeFaults.
import { mkdtemp, mkdir, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { IntakeFault, isMachineError } from '../intake-fault.ts';
import { readArchive, FLAG_UTF8 } from './records.ts';
import type { ZipRecord } from './records.ts';
import { checkDuplicates, checkEntryName } from './names.ts';
import type { EntryName } from './names.ts';
import { entryKind } from './modes.ts';
import { checkShadowing } from './shadowing.ts';
import { readEntryData } from './inflate.ts';
import { DEFAULT_ZIP_LIMITS, ZipRefusal, shown } from './refusal.ts';
import type { ZipLimits } from './refusal.ts';

export interface ExtractedFile { path: string; bytes: number }
export interface ExtractedProject { dir: string; files: ExtractedFile[]; entrypoint: string }
export interface ProjectFile { path: string; data: Buffer }

interface Planned { rec: ZipRecord; name: EntryName }

function plan(records: ZipRecord[], limits: ZipLimits): Planned[] {
  const planned: Planned[] = [];
  for (const rec of records) {
    const name = checkEntryName(rec.nameRaw, (rec.flags & FLAG_UTF8) !== 0, limits);
    const kind = entryKind(rec.externalAttributes, name.isDir, name.path);
    if (kind === 'dir' && rec.uncompressedSize !== 0) {
      throw new ZipRefusal('special-file', `directory entry ${shown(name.path)} carries data`, name.path);
    }
    planned.push({ rec, name });
  }
  const names = planned.map((p) => p.name);
  checkDuplicates(names);
  checkShadowing(names);
  let files = 0;
  for (const { rec, name } of planned) {
    if (name.isDir) continue;
    if (++files > limits.maxFiles) throw new ZipRefusal('too-many-files', `the archive has more than ${limits.maxFiles} files`);
    const written = posix.extname(name.path);
    const ext = written.toLowerCase();
    if (!limits.allowedExtensions.includes(ext)) {
      throw new ZipRefusal('file-type', `entry ${shown(name.path)} has type '${ext || '(none)'}'; allowed: ${limits.allowedExtensions.join(' ')}`, name.path);
    }
    if (ext === '.py' && written !== '.py') {
      // Python imports only '.py' on Linux but a case-insensitive filesystem (an auditor's) imports '.PY'
      // too: every source file is spelled the way the reviewer selects it
      throw new ZipRefusal('file-type', `entry ${shown(name.path)} spells its extension '${written}'; Python source files must end in '.py'`, name.path);
    }
    if (rec.uncompressedSize > limits.maxFileBytes) {
      throw new ZipRefusal('too-large', `entry ${shown(name.path)} unpacks to ${rec.uncompressedSize} bytes (limit ${limits.maxFileBytes})`, name.path);
    }
  }
  if (!planned.some((p) => !p.name.isDir && p.name.path === limits.entrypoint)) {
    throw new ZipRefusal('no-entrypoint', `the archive has no ${limits.entrypoint} at its root`);
  }
  return planned;
}

/**
 * Reads and checks a ZIP project entirely in memory: the files' paths and contents in archive order,
 * or a ZipRefusal. Nothing touches the disk. Any unexpected error while reading the untrusted bytes is
 * a refusal ('corrupt'), never a crash of the caller.
 */
export function readZipProject(bytes: Uint8Array, limits: ZipLimits = DEFAULT_ZIP_LIMITS): { dirs: string[]; files: ProjectFile[] } {
  try {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const planned = plan(readArchive(buf, limits), limits);
    const files: ProjectFile[] = [];
    const dirs: string[] = [];
    let total = 0;
    let compressed = 0;
    for (const { rec, name } of planned) {
      const csize = rec.dataEnd - rec.dataStart;
      if (name.isDir) {
        // Python's zipfile writes a deflated empty stream for a directory: it must inflate to nothing.
        readEntryData(buf, rec, name.path, { maxBytes: 0, maxByRatio: 0, ratio: limits.maxRatio });
        dirs.push(name.path);
        continue;
      }
      const data = readEntryData(buf, rec, name.path, {
        maxBytes: Math.min(limits.maxFileBytes, limits.maxTotalBytes - total),
        maxByRatio: Math.max(1024, limits.maxRatio * csize),
        ratio: limits.maxRatio,
      });
      total += data.length;
      compressed += csize;
      files.push({ path: name.path, data });
    }
    if (total > 1024 && total > limits.maxRatio * Math.max(1, compressed)) {
      throw new ZipRefusal('compression-ratio', `the archive inflates ${compressed} bytes to ${total} (overall ratio limit ${limits.maxRatio}:1)`);
    }
    return { dirs, files };
  } catch (err) {
    if (err instanceof ZipRefusal) throw err;
    throw new ZipRefusal('corrupt', `the archive could not be read: ${(err as Error).message}`);
  }
}

function writeError(err: unknown, path: string): Error {
  if (isMachineError(err)) return new IntakeFault((err as { code: string }).code, `cannot write the extracted project (${path}): ${(err as Error).message}; check the data directory's disk space and permissions`);
  return new ZipRefusal('unextractable', `entry ${shown(path)} cannot be written on this filesystem: ${(err as Error).message}`, path);
}

/**
 * Extracts a ZIP project into a fresh directory under `parent` (default the OS temp dir), after the
 * whole archive passed every check in memory. On any refusal or fault the fresh directory is removed.
 */
export async function extractZipProject(bytes: Uint8Array, opts: { parent?: string; limits?: Partial<ZipLimits> } = {}): Promise<ExtractedProject> {
  const limits: ZipLimits = { ...DEFAULT_ZIP_LIMITS, ...opts.limits };
  const project = readZipProject(bytes, limits);
  let dir: string;
  try {
    dir = await mkdtemp(join(opts.parent ?? tmpdir(), 'conclave-zip-'));
  } catch (err) {
    throw new IntakeFault((err as { code?: string }).code ?? 'mkdtemp', `cannot create a directory for the extracted project under ${opts.parent ?? tmpdir()}: ${(err as Error).message}`);
  }
  try {
    for (const d of project.dirs) {
      try {
        await mkdir(join(dir, ...d.split('/')), { recursive: true, mode: 0o755 });
      } catch (err) {
        throw writeError(err, d);
      }
    }
    for (const f of project.files) {
      const target = join(dir, ...f.path.split('/'));
      try {
        await mkdir(join(target, '..'), { recursive: true, mode: 0o755 });
        const fh = await open(target, 'wx', 0o644);
        try {
          await fh.writeFile(f.data);
        } finally {
          await fh.close();
        }
      } catch (err) {
        throw writeError(err, f.path);
      }
    }
    return { dir, files: project.files.map((f) => ({ path: f.path, bytes: f.data.length })), entrypoint: limits.entrypoint };
  } catch (err) {
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}

// Independent readers for differential checks of accepted archives: CPython's zipfile (what an auditor
// would use; central-directory based) and a streaming reader over local headers only (what `unzip -`
// or a Java ZipInputStream does). An archive the intake accepts must read the same in both.
import { spawnSync } from 'node:child_process';
import { inflateRawSync } from 'node:zlib';

export interface ReadFile { name: string; data: string /* base64 */ }

const PY = `
import base64, io, json, sys, zipfile
out = []
for blob in json.load(sys.stdin):
    try:
        z = zipfile.ZipFile(io.BytesIO(base64.b64decode(blob)))
        bad = z.testzip()
        files = [{"name": i.filename, "data": base64.b64encode(z.read(i)).decode()} for i in z.infolist() if not i.is_dir()]
        out.append({"ok": bad is None, "files": files})
    except Exception as e:
        out.append({"ok": False, "error": repr(e)})
print(json.dumps(out))
`;

/** CPython's zipfile reading of each archive (one python process for all). */
export function pythonRead(archives: Buffer[]): Array<{ ok: boolean; files?: ReadFile[]; error?: string }> {
  if (archives.length === 0) return [];
  const r = spawnSync('python3', ['-I', '-c', PY], { input: JSON.stringify(archives.map((a) => a.toString('base64'))), encoding: 'utf8', timeout: 60_000, maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`python3 zipfile oracle failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Walks local headers from offset 0 the way a streaming reader does; stops at the first non-local record. */
export function streamRead(buf: Buffer): ReadFile[] | null {
  const out: ReadFile[] = [];
  let p = 0;
  try {
    while (p + 30 <= buf.length && buf.readUInt32LE(p) === 0x04034b50) {
      const flags = buf.readUInt16LE(p + 6);
      const method = buf.readUInt16LE(p + 8);
      let csize = buf.readUInt32LE(p + 18);
      const n = buf.readUInt16LE(p + 26);
      const m = buf.readUInt16LE(p + 28);
      const name = buf.subarray(p + 30, p + 30 + n).toString('utf8');
      const start = p + 30 + n + m;
      let data: Buffer;
      if (flags & 8) {
        if (method !== 8) return null;
        const r = inflateRawSync(buf.subarray(start), { info: true }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
        data = r.buffer;
        csize = r.engine.bytesWritten;
        p = start + csize;
        p += buf.readUInt32LE(p) === 0x08074b50 ? 16 : 12;
      } else {
        const body = buf.subarray(start, start + csize);
        data = method === 8 ? inflateRawSync(body) : body;
        p = start + csize;
      }
      if (!name.endsWith('/')) out.push({ name, data: data.toString('base64') });
    }
  } catch {
    return null;
  }
  return out;
}

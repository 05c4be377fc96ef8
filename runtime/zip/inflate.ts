// Reads one entry's bytes: stored data as is, deflate data inflated with the output capped (a bomb is
// stopped at the cap, never materialised), the deflate stream required to end exactly at the end of the
// entry's compressed range (no trailing bytes a streaming reader would treat differently), the size
// and CRC-32 of what came out compared with the central directory.
import { crc32, inflateRawSync } from 'node:zlib';
import { ZipRefusal, shown } from './refusal.ts';
import type { ZipRecord } from './records.ts';

export interface InflateCaps {
  /** Most bytes this entry may produce before it is refused (`too-large`). */
  maxBytes: number;
  /** Most bytes it may produce under the ratio limit (`compression-ratio`). */
  maxByRatio: number;
  ratio: number;
}

export function readEntryData(buf: Buffer, rec: ZipRecord, name: string, caps: InflateCaps): Buffer {
  const src = buf.subarray(rec.dataStart, rec.dataEnd);
  // Inflate no further than the smallest of: what the entry declares, the size left, the ratio limit.
  const cap = Math.min(rec.uncompressedSize, caps.maxBytes, caps.maxByRatio);
  const over = (n: number | null) => {
    if (rec.uncompressedSize === cap) return new ZipRefusal('size-mismatch', `entry ${shown(name)} declares ${rec.uncompressedSize} bytes but holds more`, name);
    if (caps.maxBytes === cap) return new ZipRefusal('too-large', `entry ${shown(name)} inflates past the size limit (${caps.maxBytes} bytes left)`, name);
    return new ZipRefusal('compression-ratio', `entry ${shown(name)} inflates ${n === null ? 'beyond' : 'to'} ${n ?? cap} bytes from ${src.length} (ratio limit ${caps.ratio}:1)`, name);
  };
  let out: Buffer;
  if (rec.method === 0) {
    out = src;
    if (out.length > cap) throw over(out.length);
  } else {
    let res: { buffer: Buffer; engine: { bytesWritten: number } };
    try {
      res = inflateRawSync(src, { info: true, maxOutputLength: Math.max(1, cap) }) as unknown as typeof res;
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw over(null);
      throw new ZipRefusal('corrupt', `entry ${shown(name)} is not a valid deflate stream: ${(err as Error).message}`, name);
    }
    out = res.buffer;
    if (out.length > cap) throw over(out.length);
    if (res.engine.bytesWritten !== src.length) {
      throw new ZipRefusal('size-mismatch', `entry ${shown(name)}: its deflate stream ends after ${res.engine.bytesWritten} of its ${src.length} compressed bytes`, name);
    }
  }
  if (out.length !== rec.uncompressedSize) {
    throw new ZipRefusal('size-mismatch', `entry ${shown(name)} declares ${rec.uncompressedSize} bytes but holds ${out.length}`, name);
  }
  if ((crc32(out) >>> 0) !== rec.crc) throw new ZipRefusal('crc-mismatch', `entry ${shown(name)} fails its CRC-32 check (damaged or altered)`, name);
  return out;
}

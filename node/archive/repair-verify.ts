// The check at the heart of a repair: every entry readable in the store before (a full scan of a
// copy, written to a file as "<hex key> <sha256 of value>" lines in key order, so millions of entries
// cost no memory) must be in the repaired store with the same value — one merge of two sorted streams.
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { Level } from 'level';
import { toHex } from '../../proto/codec.ts';
import { FORMAT_KEY } from './identify.ts';

/** What the scan of the store before the repair saw. */
export interface BeforeListing {
  opened: boolean;
  entries: number;
  complete: boolean;
  error?: string;
}

type RawLevel = Level<Uint8Array, Uint8Array>;

export function rawLevel(dir: string): RawLevel {
  return new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
}

/** Buffered line writer over a file descriptor (the listing can be millions of lines). */
class LineWriter {
  private readonly fd: number;
  private buf = '';
  constructor(path: string) {
    this.fd = openSync(path, 'w');
  }
  line(s: string): void {
    this.buf += s + '\n';
    if (this.buf.length > 1 << 20) this.flush();
  }
  private flush(): void {
    const b = Buffer.from(this.buf);
    let off = 0;
    while (off < b.length) off += writeSync(this.fd, b, off, b.length - off);
    this.buf = '';
  }
  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

/** Reads a file line by line with a bounded buffer. */
class LineReader {
  private readonly fd: number;
  private rest = '';
  private lines: string[] = [];
  private eof = false;
  constructor(path: string) {
    this.fd = openSync(path, 'r');
  }
  next(): string | undefined {
    while (this.lines.length === 0 && !this.eof) {
      const b = Buffer.alloc(1 << 20);
      const r = readSync(this.fd, b, 0, b.length, null);
      if (r === 0) {
        this.eof = true;
        if (this.rest) this.lines.push(this.rest);
        this.rest = '';
        break;
      }
      const parts = (this.rest + b.subarray(0, r).toString('utf8')).split('\n');
      this.rest = parts.pop()!;
      this.lines = parts;
    }
    return this.lines.shift();
  }
  close(): void {
    closeSync(this.fd);
  }
}

function digest(v: Uint8Array): string {
  return createHash('sha256').update(v).digest('hex');
}

/** Lists every readable entry of the store in `dir` as "<hex key> <sha256 of value>" lines, in key order. */
export async function listEntries(dir: string, out: string): Promise<BeforeListing> {
  const db = rawLevel(dir);
  try {
    await db.open({ createIfMissing: false });
  } catch (err) {
    const cause = (err as { cause?: Error }).cause?.message ?? (err as Error).message;
    return { opened: false, entries: 0, complete: false, error: cause };
  }
  const w = new LineWriter(out);
  let entries = 0;
  try {
    for await (const [k, v] of db.iterator()) {
      w.line(`${toHex(k)} ${digest(v)}`);
      entries++;
    }
    return { opened: true, entries, complete: true };
  } catch (err) {
    return { opened: true, entries, complete: false, error: (err as Error).message };
  } finally {
    w.close();
    await db.close().catch(() => {});
  }
}

export interface Verification {
  entries: number;
  reports: number;
  equivocations: number;
  certificates: number;
  missing: string[];
  changed: string[];
  salvaged: number;
  format: string | undefined;
  schemaKnown: boolean;
}

const PREFIXES = {
  reports: ['!v2-reports!', '!reports!'],
  equivocations: ['!v2-equivocations!', '!equivocations!'],
  certificates: ['!v2-certificates!', '!certificates!'],
};

function keyLabel(hex: string): string {
  const s = Buffer.from(hex, 'hex').toString('utf8');
  return s.length > 120 ? `${s.slice(0, 120)}…` : s;
}

/** Every entry of the listing must be in the repaired store with the same value (merge of two sorted streams). */
export async function verifyAgainst(dir: string, listing: string | null): Promise<Verification> {
  const db = rawLevel(dir);
  await db.open({ createIfMissing: false });
  const r: Verification = { entries: 0, reports: 0, equivocations: 0, certificates: 0, missing: [], changed: [], salvaged: 0, format: undefined, schemaKnown: false };
  const reader = listing ? new LineReader(listing) : null;
  let want = reader?.next();
  try {
    for await (const [k, v] of db.iterator()) {
      r.entries++;
      const ks = Buffer.from(k).toString('latin1');
      if (ks === FORMAT_KEY) r.format = Buffer.from(v).toString('utf8');
      for (const [kind, ps] of Object.entries(PREFIXES)) {
        if (ps.some((p) => ks.startsWith(p))) {
          r[kind as keyof typeof PREFIXES]++;
          r.schemaKnown = true;
        }
      }
      const hex = toHex(k);
      while (want !== undefined && want.slice(0, want.indexOf(' ')) < hex) {
        r.missing.push(keyLabel(want.slice(0, want.indexOf(' '))));
        want = reader!.next();
      }
      if (want !== undefined && want.slice(0, want.indexOf(' ')) === hex) {
        if (want.slice(want.indexOf(' ') + 1) !== digest(v)) r.changed.push(keyLabel(hex));
        want = reader!.next();
      } else {
        r.salvaged++;
      }
    }
    while (want !== undefined) {
      r.missing.push(keyLabel(want.slice(0, want.indexOf(' '))));
      want = reader!.next();
    }
  } finally {
    reader?.close();
    await db.close().catch(() => {});
  }
  return r;
}

// The miner container's result channel: the supervisor (PID 1, never runs submission code) writes frames
// to its stdout; the worker's stdout is a pipe into the supervisor, so no submission process can write
// here. Nothing a miner container produces lands in a host directory while it runs: result, captures
// and compile-cache files arrive through this capped stream and are written by the host afterwards
// (the compile cache only when the evaluation completed).
// Frame: u32 LE json length, u32 LE payload length, json, payload (docker/evaluator/conclave_eval/protocol.py).
import { Writable } from 'node:stream';

export interface ChannelLimits {
  /** every byte of the stream together */
  maxTotalBytes: number;
  /** the submission's forwarded stdout */
  stdoutCapBytes: number;
  /** the compile cache's files together, and their count */
  cacheMaxBytes: number;
  cacheMaxFiles: number;
}

export interface CacheFile { path: string; mode: number; data: Buffer }

const MAX_JSON = 1 << 20;

/** A relative path made of plain segments (no '.', '..', empty or odd names): safe to join under a directory. */
export function safeRelativePath(p: string): boolean {
  if (p.length === 0 || p.length > 512 || p.startsWith('/')) return false;
  return p.split('/').every((seg) => seg.length > 0 && seg.length <= 255 && seg !== '.' && seg !== '..' && /^[A-Za-z0-9._+=@,~-]+$/.test(seg));
}

export class ResultChannel extends Writable {
  readonly limits: ChannelLimits;
  result: Buffer | null = null;
  captures: Buffer | null = null;
  cacheFiles: CacheFile[] = [];
  cacheBytes = 0;
  cacheDropped = 0;
  ended = false;
  /** set when the stream broke the protocol or a cap; the rest of the stream is ignored */
  error: string | null = null;
  private stdoutParts: Buffer[] = [];
  private stdoutLen = 0;
  stdoutTruncated = false;
  private pending: Buffer[] = [];
  private pendingLen = 0;
  private total = 0;
  private frames = 0;

  constructor(limits: ChannelLimits) {
    super();
    this.limits = limits;
  }

  get stdout(): string { return Buffer.concat(this.stdoutParts).toString('utf8'); }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (this.error) { cb(); return; }
    this.total += chunk.length;
    if (this.total > this.limits.maxTotalBytes) { this.fail(`the result stream passed its cap of ${this.limits.maxTotalBytes} bytes`); cb(); return; }
    this.pending.push(chunk);
    this.pendingLen += chunk.length;
    try { this.parse(); } catch (e) { this.fail((e as Error).message); }
    cb();
  }

  private fail(msg: string): void {
    this.error ??= msg;
    this.pending = []; this.pendingLen = 0;
  }

  private take(n: number): Buffer {
    const all = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingLen);
    const head = all.subarray(0, n);
    const rest = all.subarray(n);
    this.pending = rest.length ? [rest] : [];
    this.pendingLen = rest.length;
    return head;
  }

  private peek8(): Buffer {
    if (this.pending[0].length < 8) { const all = Buffer.concat(this.pending, this.pendingLen); this.pending = [all]; }
    return this.pending[0];
  }

  private parse(): void {
    while (this.pendingLen >= 8) {
      const h = this.peek8();
      const hl = h.readUInt32LE(0); const pl = h.readUInt32LE(4);
      if (hl > MAX_JSON) throw new Error(`result stream: a frame header of ${hl} bytes`);
      if (this.pendingLen < 8 + hl + pl) return;
      const frame = this.take(8 + hl + pl);
      let msg: { t?: unknown; path?: unknown; mode?: unknown };
      try { msg = JSON.parse(frame.subarray(8, 8 + hl).toString('utf8')); } catch { throw new Error('result stream: a frame header is not JSON'); }
      // Small payloads are copied so they do not pin the chunk they arrived in; a large one (the captures,
      // up to ~1 GiB) is most of its buffer anyway, and a copy would double the host's memory for it.
      const body = frame.subarray(8 + hl);
      this.onFrame(msg, body.length >= 1 << 20 ? body : Buffer.from(body));
    }
  }

  private onFrame(msg: { t?: unknown; path?: unknown; mode?: unknown }, payload: Buffer): void {
    if (this.frames++ === 0 && msg.t !== 'hello') throw new Error('result stream: does not start with a hello frame');
    if (this.ended) throw new Error('result stream: frames after the end frame');
    switch (msg.t) {
      case 'hello': if (this.frames !== 1) throw new Error('result stream: repeated hello'); break;
      case 'stdout': {
        const room = this.limits.stdoutCapBytes - this.stdoutLen;
        if (room > 0) { const part = payload.subarray(0, room); this.stdoutParts.push(part); this.stdoutLen += part.length; }
        if (payload.length > room) this.stdoutTruncated = true;
        break;
      }
      case 'result': if (this.result) throw new Error('result stream: two results'); this.result = payload; break;
      case 'captures': if (this.captures) throw new Error('result stream: two capture blobs'); this.captures = payload; break;
      case 'cache-file': {
        const path = typeof msg.path === 'string' ? msg.path : '';
        if (!safeRelativePath(path) || this.cacheFiles.length >= this.limits.cacheMaxFiles || this.cacheBytes + payload.length > this.limits.cacheMaxBytes) {
          this.cacheDropped++;
          break;
        }
        this.cacheBytes += payload.length;
        this.cacheFiles.push({ path, mode: typeof msg.mode === 'number' ? msg.mode & 0o755 : 0o644, data: payload });
        break;
      }
      case 'end': this.ended = true; break;
      default: throw new Error(`result stream: unknown frame ${JSON.stringify(msg.t)}`);
    }
  }
}

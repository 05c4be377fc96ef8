// WebSocket framing (RFC 6455 §5) for a client, pure: the frames a client sends (always masked) and a
// decoder for the frames a server sends (never masked), with messages reassembled from fragments and
// bounded in size before they are buffered. No extensions are negotiated, so RSV bits are an error.
// The I/O shell is ./websocket.ts.
export const OP_CONTINUATION = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

export class WebSocketProtocolError extends Error {}

/** One client frame: FIN set, payload masked with `mask` (4 bytes; a fresh random one per frame). */
export function encodeClientFrame(opcode: number, payload: Uint8Array, mask: Uint8Array): Buffer {
  if (mask.length !== 4) throw new RangeError('a WebSocket mask is 4 bytes');
  const n = payload.length;
  const ext = n < 126 ? 0 : n < 0x10000 ? 2 : 8;
  const out = Buffer.allocUnsafe(2 + ext + 4 + n);
  out[0] = 0x80 | (opcode & 0x0f);
  if (ext === 0) out[1] = 0x80 | n;
  else if (ext === 2) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeBigUInt64BE(BigInt(n), 2);
  }
  const at = 2 + ext;
  out.set(mask, at);
  for (let i = 0; i < n; i++) out[at + 4 + i] = payload[i] ^ mask[i & 3];
  return out;
}

/** What the decoder hands on: a whole data message, or a control frame the client must act on. */
export type ServerEvent =
  | { kind: 'message'; binary: boolean; data: Buffer }
  | { kind: 'ping'; data: Buffer }
  | { kind: 'pong'; data: Buffer }
  | { kind: 'close'; code: number | null; reason: string };

/**
 * Incremental decoder of server frames. `push` takes bytes as they arrive (any split) and returns the
 * events they complete; it throws WebSocketProtocolError on a frame the protocol forbids, after which
 * the connection must be failed. A data message larger than `maxMessageBytes` is refused from its
 * frame header, before its payload is buffered.
 */
export class ServerFrameDecoder {
  private readonly maxMessageBytes: number;
  private header = Buffer.alloc(14);
  private headerHave = 0;
  private headerNeed = 2;
  /** the frame whose payload is being read, or null while reading a header */
  private frame: { fin: boolean; opcode: number; left: number; parts: Buffer[] } | null = null;
  /** the fragmented data message in progress */
  private message: { binary: boolean; parts: Buffer[]; bytes: number } | null = null;
  private closed = false;

  constructor(maxMessageBytes: number) {
    this.maxMessageBytes = maxMessageBytes;
  }

  push(chunk: Uint8Array): ServerEvent[] {
    const events: ServerEvent[] = [];
    let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    while (buf.length > 0) {
      if (this.closed) throw new WebSocketProtocolError('the server sent data after its close frame');
      if (!this.frame) {
        const take = Math.min(this.headerNeed - this.headerHave, buf.length);
        buf.copy(this.header, this.headerHave, 0, take);
        this.headerHave += take;
        buf = buf.subarray(take);
        if (this.headerHave < this.headerNeed) break;
        if (this.headerNeed === 2) {
          const len7 = this.header[1] & 0x7f;
          const extra = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
          if (extra > 0) {
            this.headerNeed = 2 + extra;
            continue;
          }
        }
        this.startFrame(events);
      } else {
        const take = Math.min(this.frame.left, buf.length);
        this.frame.parts.push(buf.subarray(0, take));
        this.frame.left -= take;
        buf = buf.subarray(take);
      }
      if (this.frame && this.frame.left === 0) this.endFrame(events);
    }
    return events;
  }

  private startFrame(events: ServerEvent[]): void {
    const h = this.header;
    const fin = (h[0] & 0x80) !== 0;
    const opcode = h[0] & 0x0f;
    if ((h[0] & 0x70) !== 0) throw new WebSocketProtocolError(`frame with reserved bits set (0x${h[0].toString(16)}); no extension was negotiated`);
    if ((h[1] & 0x80) !== 0) throw new WebSocketProtocolError('the server sent a masked frame (a server must not mask, RFC 6455 §5.1)');
    const len7 = h[1] & 0x7f;
    let length: number;
    if (len7 < 126) length = len7;
    else if (len7 === 126) length = h.readUInt16BE(2);
    else {
      const big = h.readBigUInt64BE(2);
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new WebSocketProtocolError(`frame length ${big} is out of range`);
      length = Number(big);
    }
    const control = opcode >= 0x8;
    if (control) {
      if (opcode !== OP_CLOSE && opcode !== OP_PING && opcode !== OP_PONG) throw new WebSocketProtocolError(`unknown control opcode 0x${opcode.toString(16)}`);
      if (!fin) throw new WebSocketProtocolError('a fragmented control frame');
      if (length > 125) throw new WebSocketProtocolError(`a control frame of ${length} bytes (at most 125)`);
    } else if (opcode === OP_CONTINUATION) {
      if (!this.message) throw new WebSocketProtocolError('a continuation frame with no message in progress');
    } else if (opcode === OP_TEXT || opcode === OP_BINARY) {
      if (this.message) throw new WebSocketProtocolError('a new data frame while a fragmented message is in progress');
    } else throw new WebSocketProtocolError(`unknown data opcode 0x${opcode.toString(16)}`);
    if (!control) {
      const sofar = this.message?.bytes ?? 0;
      if (sofar + length > this.maxMessageBytes) {
        throw new WebSocketProtocolError(`a message of more than ${this.maxMessageBytes} bytes (${sofar + length} announced so far); refused`);
      }
      if (!this.message) this.message = { binary: opcode === OP_BINARY, parts: [], bytes: 0 };
      this.message.bytes += length;
    }
    this.frame = { fin, opcode, left: length, parts: [] };
    this.headerHave = 0;
    this.headerNeed = 2;
    if (length === 0) this.endFrame(events);
  }

  private endFrame(events: ServerEvent[]): void {
    const f = this.frame!;
    this.frame = null;
    if (f.opcode >= 0x8) {
      const data = Buffer.concat(f.parts);
      if (f.opcode === OP_PING) events.push({ kind: 'ping', data });
      else if (f.opcode === OP_PONG) events.push({ kind: 'pong', data });
      else {
        if (data.length === 1) throw new WebSocketProtocolError('a close frame with a 1-byte body');
        this.closed = true;
        events.push({ kind: 'close', code: data.length >= 2 ? data.readUInt16BE(0) : null, reason: data.subarray(2).toString('utf8') });
      }
      return;
    }
    const m = this.message!;
    // the frame's parts are views of the arriving chunks: keep them until the message is whole
    for (const p of f.parts) m.parts.push(p);
    if (!f.fin) return;
    this.message = null;
    events.push({ kind: 'message', binary: m.binary, data: m.parts.length === 1 ? Buffer.from(m.parts[0]) : Buffer.concat(m.parts, m.bytes) });
  }
}

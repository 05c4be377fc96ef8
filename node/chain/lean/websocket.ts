// A WebSocket client (RFC 6455) over node:net / node:tls for the chain reader's JSON-RPC: the opening
// handshake (with its Sec-WebSocket-Accept checked), text messages out, text or binary messages in,
// ping answered with pong, the closing handshake. No extensions, no subprotocol.
//
// Why not Node's global WebSocket: it loads undici's HTTP stack on first use, ~80–100 ms of CPU on
// this machine, which was the largest single part of the chain reader in `conclave audit`
// (docs/p2p.md, "Audit at size"). Framing is in ./websocket-frames.ts.
import { createHash, randomBytes } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { OP_CLOSE, OP_PONG, OP_TEXT, ServerFrameDecoder, WebSocketProtocolError, encodeClientFrame } from './websocket-frames.ts';

const ACCEPT_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Most bytes of a handshake response head; a server that sends more is not a WebSocket endpoint. */
const MAX_HANDSHAKE_BYTES = 16 * 1024;

export class WebSocketError extends Error {}

export interface WebSocketOptions {
  /** Connect and handshake within this long. */
  timeoutMs: number;
  /** Largest message accepted from the server; a larger one fails the connection. */
  maxMessageBytes: number;
}

/** Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2). */
export function acceptFor(key: string): string {
  return createHash('sha1').update(key + ACCEPT_GUID).digest('base64');
}

export class WebSocketClient {
  private readonly socket: Socket;
  private messageHandler: ((text: string) => void) | null = null;
  private closeHandler: ((reason: string) => void) | null = null;
  /** what arrived before a handler was set (a server may send right after its handshake answer) */
  private early: string[] = [];
  private closedWith: string | null = null;
  private readonly decoder: ServerFrameDecoder;
  private ended = false;

  private constructor(socket: Socket, decoder: ServerFrameDecoder, rest: Buffer) {
    this.socket = socket;
    this.decoder = decoder;
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('close', () => this.end('the connection closed'));
    socket.on('error', (err) => this.end(`the connection failed: ${err.message}`));
    if (rest.length > 0) this.receive(rest);
  }

  /** Each whole message from the server, text or binary, as UTF-8 text; messages that came before it was set are handed over at once. */
  set onmessage(fn: (text: string) => void) {
    this.messageHandler = fn;
    const early = this.early;
    this.early = [];
    for (const m of early) fn(m);
  }

  /** Once, when the connection ends for any reason (close frame, socket end, protocol error); at once if it already has. */
  set onclose(fn: (reason: string) => void) {
    this.closeHandler = fn;
    if (this.closedWith !== null) fn(this.closedWith);
  }

  /** Opens `url` (ws:// or wss://) and completes the handshake, or rejects with the cause. */
  static connect(url: string, opts: WebSocketOptions): Promise<WebSocketClient> {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return Promise.reject(new WebSocketError(`${url} is not a URL (expected ws://host:port or wss://host:port)`));
    }
    if (u.protocol !== 'ws:' && u.protocol !== 'wss:') return Promise.reject(new WebSocketError(`${url}: expected a ws:// or wss:// URL, got ${u.protocol}`));
    const secure = u.protocol === 'wss:';
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const port = Number(u.port || (secure ? 443 : 80));
    const key = randomBytes(16).toString('base64');
    const path = `${u.pathname || '/'}${u.search}`;
    return new Promise((resolve, reject) => {
      const socket = secure ? tlsConnect({ host, port, servername: /^[\d.:]+$/.test(host) ? undefined : host }) : netConnect({ host, port });
      let head: Buffer = Buffer.alloc(0);
      let done = false;
      const fail = (why: string) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        socket.destroy();
        reject(new WebSocketError(why));
      };
      const timer = setTimeout(() => fail(`no WebSocket handshake with ${url} within ${opts.timeoutMs} ms`), opts.timeoutMs);
      socket.once(secure ? 'secureConnect' : 'connect', () => {
        socket.write(`GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      });
      socket.on('error', (err) => fail(`cannot connect to ${url}: ${err.message}`));
      socket.on('close', () => fail(`${url} closed the connection during the WebSocket handshake`));
      const onData = (chunk: Buffer) => {
        head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) {
          if (head.length > MAX_HANDSHAKE_BYTES) fail(`${url} sent more than ${MAX_HANDSHAKE_BYTES} bytes without ending its handshake response`);
          return;
        }
        const why = checkHandshake(head.subarray(0, end).toString('latin1'), key);
        if (why) return fail(`${url} refused the WebSocket handshake: ${why}`);
        done = true;
        clearTimeout(timer);
        socket.off('data', onData);
        socket.removeAllListeners('error');
        socket.removeAllListeners('close');
        socket.setNoDelay(true);
        resolve(new WebSocketClient(socket, new ServerFrameDecoder(opts.maxMessageBytes), head.subarray(end + 4)));
      };
      socket.on('data', onData);
    });
  }

  /** Sends one text message. */
  send(text: string): void {
    if (this.ended) throw new WebSocketError('the WebSocket is closed');
    this.socket.write(encodeClientFrame(OP_TEXT, Buffer.from(text, 'utf8'), randomBytes(4)));
  }

  /** Starts the closing handshake and ends the connection. */
  close(): void {
    if (this.ended) return;
    const body = Buffer.alloc(2);
    body.writeUInt16BE(1000);
    this.socket.end(encodeClientFrame(OP_CLOSE, body, randomBytes(4)));
    this.end('closed by this client');
  }

  private receive(chunk: Buffer): void {
    if (this.ended) return;
    let events;
    try {
      events = this.decoder.push(chunk);
    } catch (err) {
      const why = err instanceof WebSocketProtocolError ? `protocol error from the server: ${err.message}` : (err as Error).message;
      this.socket.destroy();
      this.end(why);
      return;
    }
    for (const ev of events) {
      if (ev.kind === 'message') {
        const text = ev.data.toString('utf8');
        if (this.messageHandler) this.messageHandler(text);
        else this.early.push(text);
      }
      else if (ev.kind === 'ping') this.socket.write(encodeClientFrame(OP_PONG, ev.data, randomBytes(4)));
      else if (ev.kind === 'close') {
        const body = Buffer.alloc(ev.code === null ? 0 : 2);
        if (ev.code !== null) body.writeUInt16BE(ev.code === 1005 || ev.code === 1006 ? 1000 : ev.code);
        this.socket.end(encodeClientFrame(OP_CLOSE, body, randomBytes(4)));
        this.end(`the server closed the connection${ev.code !== null ? ` (${ev.code}${ev.reason ? `: ${ev.reason.slice(0, 200)}` : ''})` : ''}`);
        return;
      }
    }
  }

  private end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.closedWith = reason;
    this.closeHandler?.(reason);
  }
}

/** Why a handshake response head (status line and headers, no blank line) is not a WebSocket upgrade for `key`, or null. */
export function checkHandshake(head: string, key: string): string | null {
  const [status, ...lines] = head.split('\r\n');
  const m = /^HTTP\/1\.1 (\d{3})/.exec(status);
  if (!m) return `not an HTTP/1.1 response (${JSON.stringify(status.slice(0, 80))})`;
  if (m[1] !== '101') return `HTTP status ${status.slice(9, 80)} instead of 101 Switching Protocols (is this the node's WebSocket RPC port?)`;
  const headers = new Map<string, string>();
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  if (headers.get('upgrade')?.toLowerCase() !== 'websocket') return 'no "Upgrade: websocket" header';
  if (!/(^|,)\s*upgrade\s*(,|$)/i.test(headers.get('connection') ?? '')) return 'no "Connection: Upgrade" header';
  if (headers.get('sec-websocket-accept') !== acceptFor(key)) return 'Sec-WebSocket-Accept does not match the key sent';
  if (headers.has('sec-websocket-extensions')) return `an extension was not asked for (${headers.get('sec-websocket-extensions')!.slice(0, 80)})`;
  return null;
}

// Substrate JSON-RPC over one WebSocket (./websocket.ts): request/response by id, every call bounded by
// a timeout and every answer by MAX_RPC_MESSAGE_BYTES; a dropped connection fails the calls in flight
// with the endpoint named.
import { WebSocketClient } from './websocket.ts';

export class RpcError extends Error {}

/** Largest JSON-RPC answer read (runtime metadata is ~1–2 MB as hex; 1,000 storage values far less). */
export const MAX_RPC_MESSAGE_BYTES = 64 * 1024 * 1024;

export class JsonRpcSocket {
  readonly endpoint: string;
  private readonly ws: WebSocketClient;
  private readonly timeoutMs: number;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();
  private closedReason: string | null = null;

  private constructor(endpoint: string, ws: WebSocketClient, timeoutMs: number) {
    this.endpoint = endpoint;
    this.ws = ws;
    this.timeoutMs = timeoutMs;
    // a node may answer in binary frames: the client hands those on as UTF-8 text too
    ws.onmessage = (text) => this.onMessage(text);
    ws.onclose = (reason) => this.failAll(`connection to ${endpoint}: ${reason}`);
  }

  static async open(endpoint: string, timeoutMs: number): Promise<JsonRpcSocket> {
    try {
      return new JsonRpcSocket(endpoint, await WebSocketClient.connect(endpoint, { timeoutMs, maxMessageBytes: MAX_RPC_MESSAGE_BYTES }), timeoutMs);
    } catch (err) {
      throw new RpcError(`chain ${endpoint} unreachable: ${(err as Error).message} (is a subtensor node listening there?)`);
    }
  }

  call<T = unknown>(method: string, params: unknown[] = []): Promise<T> {
    if (this.closedReason) return Promise.reject(new RpcError(`${method}: ${this.closedReason}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RpcError(`${method}: no answer from ${this.endpoint} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    });
  }

  close(): void {
    this.failAll('chain reader closed');
    this.ws.close();
  }

  private onMessage(text: string): void {
    let msg: { id?: unknown; result?: unknown; error?: { code?: number; message?: string } };
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    const p = typeof msg.id === 'number' ? this.pending.get(msg.id) : undefined;
    if (!p) return;
    this.pending.delete(msg.id as number);
    clearTimeout(p.timer);
    if (msg.error) p.reject(new RpcError(`${this.endpoint} answered error ${msg.error.code ?? '?'}: ${String(msg.error.message ?? '').slice(0, 300)}`));
    else p.resolve(msg.result ?? null);
  }

  private failAll(reason: string): void {
    this.closedReason ??= reason;
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new RpcError(reason));
    }
    this.pending.clear();
  }
}

// Substrate JSON-RPC over one WebSocket (Node's global WebSocket): request/response by id, every call
// bounded by a timeout; a dropped connection fails the calls in flight with the endpoint named.
export class RpcError extends Error {}

export class JsonRpcSocket {
  readonly endpoint: string;
  private readonly ws: WebSocket;
  private readonly timeoutMs: number;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();
  private closedReason: string | null = null;

  private constructor(endpoint: string, ws: WebSocket, timeoutMs: number) {
    this.endpoint = endpoint;
    this.ws = ws;
    this.timeoutMs = timeoutMs;
    ws.addEventListener('message', (ev) => this.onMessage(ev.data));
    ws.addEventListener('close', () => this.failAll(`connection to ${endpoint} closed`));
  }

  static open(endpoint: string, timeoutMs: number): Promise<JsonRpcSocket> {
    return new Promise((resolve, reject) => {
      let ws: WebSocket;
      try {
        ws = new WebSocket(endpoint);
        ws.binaryType = 'arraybuffer'; // a node may answer in binary frames: read them as UTF-8 JSON too
      } catch (err) {
        reject(new RpcError(`chain ${endpoint}: ${(err as Error).message}`));
        return;
      }
      const timer = setTimeout(() => {
        ws.close();
        reject(new RpcError(`chain ${endpoint} unreachable: no WebSocket connection within ${timeoutMs} ms`));
      }, timeoutMs);
      ws.addEventListener('open', () => {
        clearTimeout(timer);
        resolve(new JsonRpcSocket(endpoint, ws, timeoutMs));
      }, { once: true });
      ws.addEventListener('error', () => {
        clearTimeout(timer);
        reject(new RpcError(`chain ${endpoint} unreachable: the WebSocket connection failed (is a subtensor node listening there?)`));
      }, { once: true });
    });
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

  private onMessage(data: unknown): void {
    let msg: { id?: unknown; result?: unknown; error?: { code?: number; message?: string } };
    try {
      msg = JSON.parse(typeof data === 'string' ? data : Buffer.from(data as ArrayBuffer).toString('utf8'));
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

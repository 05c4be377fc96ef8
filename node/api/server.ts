// The read-only HTTP API on node:http. Routing is a table that other modules extend
// (`server.route(...)` for exact API paths, `server.use(handler)` for handlers that claim a
// request first, e.g. the dashboard's static pages). Every response is bounded, every client
// is rate limited per address, only GET/HEAD are served, and no CORS header is sent unless configured.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NodeMetrics } from '../metrics.ts';
import { bigintAsString } from '../json-bigint.ts';

export type Params = Record<string, string>;
export interface ApiRequest {
  req: IncomingMessage;
  url: URL;
  params: Params;
}
export type ApiResult = { status: number; body: unknown; contentType?: string; headers?: Record<string, string> };
export type RouteHandler = (r: ApiRequest) => Promise<ApiResult> | ApiResult;
/** Returns true when it has answered the request (the router then does nothing more). */
export type PreHandler = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

export class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export interface ApiServerOptions {
  rateLimitPerMinute: number;
  maxResponseBytes: number;
  /** Access-Control-Allow-Origin value; '' sends no CORS header. */
  cors: string;
  metrics?: NodeMetrics;
  /** Per-request handler deadline (ms). */
  handlerTimeoutMs?: number;
}

interface Route {
  pattern: RegExp;
  names: string[];
  template: string;
  handler: RouteHandler;
}

const MAX_URL_LENGTH = 2048;
const MAX_CLIENTS_TRACKED = 10_000;

/** Token bucket per client address: `perMinute` tokens, refilled continuously. */
export class RateLimiter {
  private buckets = new Map<string, { tokens: number; at: number }>();
  private readonly perMinute: number;
  constructor(perMinute: number) {
    this.perMinute = perMinute;
  }
  take(client: string, now = Date.now()): { ok: true } | { ok: false; retryAfterS: number } {
    let b = this.buckets.get(client);
    if (!b) {
      if (this.buckets.size >= MAX_CLIENTS_TRACKED) this.evict(now);
      b = { tokens: this.perMinute, at: now };
      this.buckets.set(client, b);
    }
    b.tokens = Math.min(this.perMinute, b.tokens + ((now - b.at) * this.perMinute) / 60_000);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterS: Math.max(1, Math.ceil(((1 - b.tokens) * 60) / this.perMinute)) };
  }
  private evict(now: number): void {
    for (const [k, b] of this.buckets) if (now - b.at > 60_000) this.buckets.delete(k);
    if (this.buckets.size >= MAX_CLIENTS_TRACKED) this.buckets.clear();
  }
}

export class ApiServer {
  private routes: Route[] = [];
  private pre: PreHandler[] = [];
  private server: Server | undefined;
  private readonly limiter: RateLimiter;
  private readonly opts: ApiServerOptions;

  constructor(opts: ApiServerOptions) {
    this.opts = opts;
    this.limiter = new RateLimiter(opts.rateLimitPerMinute);
  }

  /** Register GET `template`, e.g. '/v1/runs/:runId'. Params match [A-Za-z0-9_-]{1,128}. */
  route(template: string, handler: RouteHandler): this {
    const names: string[] = [];
    const src = template.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:(\w+)/g, (_m, n: string) => {
      names.push(n);
      return '([A-Za-z0-9_-]{1,128})';
    });
    this.routes.push({ pattern: new RegExp(`^${src}$`), names, template, handler });
    return this;
  }

  /** A handler tried before the routes (rate limiting still applies). */
  use(handler: PreHandler): this {
    this.pre.push(handler);
    return this;
  }

  async listen(host: string, port: number): Promise<{ host: string; port: number }> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.headersTimeout = 10_000;
    server.requestTimeout = 15_000;
    server.keepAliveTimeout = 5_000;
    server.maxHeadersCount = 50;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        const e = new Error(`cannot listen on ${host}:${port}: ${err.message}`, { cause: err }) as NodeJS.ErrnoException;
        e.code = err.code;
        reject(e);
      });
      server.listen(port, host, () => resolve());
    });
    const a = server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  private send(res: ServerResponse, status: number, body: string | Buffer, contentType: string, extra: Record<string, string> = {}, head = false, route = 'other'): void {
    const buf = typeof body === 'string' ? Buffer.from(body) : body;
    const headers: Record<string, string | number> = {
      'content-type': contentType,
      'content-length': buf.length,
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-store',
      ...extra,
    };
    if (this.opts.cors) headers['access-control-allow-origin'] = this.opts.cors;
    this.opts.metrics?.apiRequests.inc({ route, code: String(status) });
    res.writeHead(status, headers);
    res.end(head ? undefined : buf);
  }

  private sendJson(res: ServerResponse, status: number, value: unknown, extra: Record<string, string> = {}, head = false, route = 'other'): void {
    let text = JSON.stringify(value, bigintAsString);
    if (Buffer.byteLength(text) > this.opts.maxResponseBytes) {
      status = 507;
      text = JSON.stringify({ error: 'response too large', hint: 'use ?limit= and ?before= to page through the list' });
    }
    this.send(res, status, text + '\n', 'application/json; charset=utf-8', extra, head, route);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const client = req.socket.remoteAddress ?? 'unknown';
      const rl = this.limiter.take(client);
      if (!rl.ok) return this.sendJson(res, 429, { error: 'rate limit exceeded' }, { 'retry-after': String(rl.retryAfterS) });
      if ((req.url ?? '').length > MAX_URL_LENGTH) return this.sendJson(res, 414, { error: 'URL too long' });
      const head = req.method === 'HEAD';
      if (req.method !== 'GET' && !head) return this.sendJson(res, 405, { error: 'read-only API: only GET and HEAD' }, { allow: 'GET, HEAD' });
      for (const p of this.pre) if (await p(req, res)) return;
      let url: URL;
      try {
        url = new URL(req.url ?? '/', 'http://api.invalid');
      } catch {
        return this.sendJson(res, 400, { error: 'malformed URL' }, {}, head);
      }
      for (const r of this.routes) {
        const m = r.pattern.exec(url.pathname);
        if (!m) continue;
        const params: Params = {};
        r.names.forEach((n, i) => (params[n] = m[i + 1]));
        try {
          const result = await withTimeout(Promise.resolve(r.handler({ req, url, params })), this.opts.handlerTimeoutMs ?? 10_000);
          if (typeof result.body === 'string' || Buffer.isBuffer(result.body)) {
            const b = result.body as string | Buffer;
            if (Buffer.byteLength(b) > this.opts.maxResponseBytes) return this.sendJson(res, 507, { error: 'response too large' }, {}, head, r.template);
            return this.send(res, result.status, b, result.contentType ?? 'text/plain; charset=utf-8', result.headers, head, r.template);
          }
          return this.sendJson(res, result.status, result.body, result.headers, head, r.template);
        } catch (err) {
          if (err instanceof HttpError) return this.sendJson(res, err.status, { error: err.message }, {}, head, r.template);
          return this.sendJson(res, 500, { error: `internal error: ${(err as Error).message}` }, {}, head, r.template);
        }
      }
      return this.sendJson(res, 404, { error: `no route for ${url.pathname}`, routes: this.routes.map((r) => r.template) }, {}, head);
    } catch (err) {
      if (!res.headersSent) this.sendJson(res, 500, { error: `internal error: ${(err as Error).message}` });
      else res.destroy();
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_r, reject) => {
      t = setTimeout(() => reject(new HttpError(503, `handler took longer than ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

/** Query parameter as a bounded integer. */
export function intParam(url: URL, name: string, def: number, min: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null) return def;
  if (!/^\d{1,15}$/.test(raw)) throw new HttpError(400, `?${name} must be an integer`);
  const n = Number(raw);
  if (n < min || n > max) throw new HttpError(400, `?${name} must be between ${min} and ${max}`);
  return n;
}

export function pathInt(v: string, name: string): number {
  if (!/^\d{1,15}$/.test(v)) throw new HttpError(400, `${name} must be a non-negative integer`);
  return Number(v);
}

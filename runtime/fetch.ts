// SSRF-safe fetch of a miner's submission (undici). Every hop: http/https only; the host is resolved
// once and every resolved address is checked against the blocked ranges; the connection goes to the
// checked address only (a pinned lookup, so DNS rebinding cannot swap it); TLS keeps the hostname as
// servername. At most 3 redirects, each re-checked. The body is capped while streaming, HTML pages and
// JSON/directory listings are refused, and the sha256 must equal the commitment's hash.
import { Agent, request } from 'undici';
import { lookup as dnsLookup } from 'node:dns/promises';
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { blockedRange, ipLiteralOf, isLoopback } from './ip-ranges.ts';

export interface ResolvedAddress { address: string; family: 4 | 6 }
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export interface FetchOptions {
  /** Expected sha256 (hex) of the bytes, from the miner's commitment. */
  sha256: string;
  maxBytes?: number;
  maxRedirects?: number;
  connectTimeoutMs?: number;
  totalTimeoutMs?: number;
  /** DNS resolution (injectable for tests); default: the system resolver, all addresses. */
  resolver?: Resolver;
  /**
   * TEST ONLY: allow loopback addresses (127.0.0.0/8, ::1) on exactly these ports. Production config
   * refuses this option (assertProductionFetchOptions).
   */
  allowLoopbackForTests?: { ports: number[] };
}

export type FetchRefusalCode = 'bad-url' | 'scheme' | 'credentials' | 'dns' | 'blocked-address' | 'too-many-redirects'
  | 'redirect-downgrade' | 'http-status' | 'too-large' | 'timeout' | 'connect' | 'html' | 'listing' | 'empty' | 'hash-mismatch' | 'bad-option';

export class FetchRefusal extends Error {
  readonly code: FetchRefusalCode;
  readonly url: string;
  constructor(code: FetchRefusalCode, url: string, message: string) {
    super(message);
    this.name = 'FetchRefusal';
    this.code = code;
    this.url = url;
  }
}

export interface FetchResult {
  bytes: Uint8Array;
  sha256: string;
  finalUrl: string;
  contentType: string | null;
  /** Every hop: the URL and the one address it was fetched from. */
  hops: Array<{ url: string; address: string }>;
}

export const FETCH_DEFAULTS = { maxBytes: 500 * 1024, maxRedirects: 3, connectTimeoutMs: 5_000, totalTimeoutMs: 20_000 };

/** Refuses options that must never reach production (the loopback test allowance). */
export function assertProductionFetchOptions(opts: Partial<FetchOptions>): void {
  if (opts.allowLoopbackForTests !== undefined) {
    throw new FetchRefusal('bad-option', '', 'allowLoopbackForTests is a test-only option and is refused in production configuration; remove it');
  }
}

export const systemResolver: Resolver = async (hostname) => {
  const all = await dnsLookup(hostname, { all: true, verbatim: true });
  return all.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

function checkAddress(address: string, port: number, url: string, opts: FetchOptions): void {
  const range = blockedRange(address);
  if (range === null) return;
  if (opts.allowLoopbackForTests && isLoopback(address) && opts.allowLoopbackForTests.ports.includes(port)) return;
  throw new FetchRefusal('blocked-address', url, `${url} resolves to ${address}, which is in a blocked range (${range})`);
}

interface Hop { url: URL; address: ResolvedAddress; port: number }

async function planHop(raw: string, opts: FetchOptions): Promise<Hop> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new FetchRefusal('bad-url', raw, `'${raw}' is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new FetchRefusal('scheme', raw, `scheme '${url.protocol}' is not allowed; use http or https`);
  }
  if (url.username || url.password) throw new FetchRefusal('credentials', raw, 'URLs with embedded credentials are refused');
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  const host = url.hostname;
  // WHATWG URL already turns decimal/hex/octal/short IPv4 into dotted form; parse again in case it did not.
  const literal = ipLiteralOf(host);
  let addresses: ResolvedAddress[];
  if (literal !== null) {
    addresses = [{ address: literal, family: isIP(literal) === 6 ? 6 : 4 }];
  } else {
    const resolver = opts.resolver ?? systemResolver;
    try {
      addresses = await resolver(host);
    } catch (err) {
      throw new FetchRefusal('dns', raw, `cannot resolve ${host}: ${(err as Error).message}`);
    }
    if (addresses.length === 0) throw new FetchRefusal('dns', raw, `${host} resolves to no address`);
    for (const a of addresses) {
      if (isIP(a.address) === 0) throw new FetchRefusal('dns', raw, `the resolver returned '${a.address}', which is not an IP address`);
    }
  }
  for (const a of addresses) checkAddress(a.address, port, raw, opts);
  return { url, address: addresses[0], port };
}

/** An Agent whose every connection goes to the one checked address, whatever the hostname. */
function pinnedAgent(hop: Hop, connectTimeoutMs: number): Agent {
  const { address, family } = hop.address;
  const lookup = (_host: string, options: unknown, cb?: unknown) => {
    const callback = (typeof options === 'function' ? options : cb) as (...a: unknown[]) => void;
    const all = typeof options === 'object' && options !== null && (options as { all?: boolean }).all;
    if (all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  };
  return new Agent({ connect: { lookup, timeout: connectTimeoutMs } as Record<string, unknown>, pipelining: 0, connections: 1 });
}

function looksLikeHtml(head: string): boolean {
  const s = head.replace(/^\uFEFF/, '').trimStart().slice(0, 512).toLowerCase();
  return s.startsWith('<!doctype html') || s.startsWith('<html') || s.startsWith('<head') || s.startsWith('<body') ||
    /<title>index of /.test(s);
}

function looksLikeJsonListing(text: string): boolean {
  const s = text.trimStart();
  if (!(s.startsWith('{') || s.startsWith('['))) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Fetches a submission, or throws FetchRefusal naming why it was refused. */
export async function fetchSubmission(rawUrl: string, opts: FetchOptions): Promise<FetchResult> {
  const maxBytes = opts.maxBytes ?? FETCH_DEFAULTS.maxBytes;
  const maxRedirects = Math.min(opts.maxRedirects ?? FETCH_DEFAULTS.maxRedirects, FETCH_DEFAULTS.maxRedirects);
  const connectTimeoutMs = opts.connectTimeoutMs ?? FETCH_DEFAULTS.connectTimeoutMs;
  const totalTimeoutMs = opts.totalTimeoutMs ?? FETCH_DEFAULTS.totalTimeoutMs;
  if (!/^[0-9a-f]{64}$/i.test(opts.sha256)) throw new FetchRefusal('bad-option', rawUrl, 'the expected sha256 must be 64 hex digits');
  const deadline = AbortSignal.timeout(totalTimeoutMs);
  const hops: FetchResult['hops'] = [];
  let current = rawUrl;
  for (let redirects = 0; ; redirects++) {
    const hop = await planHop(current, opts);
    hops.push({ url: hop.url.href, address: hop.address.address });
    const agent = pinnedAgent(hop, connectTimeoutMs);
    try {
      let res;
      try {
        res = await request(hop.url, {
          method: 'GET', dispatcher: agent, signal: deadline,
          headers: { 'user-agent': 'conclave-validator', accept: 'text/plain, text/x-python, application/zip, application/octet-stream' },
          headersTimeout: totalTimeoutMs, bodyTimeout: totalTimeoutMs,
        } as Parameters<typeof request>[1]);
      } catch (err) {
        if (deadline.aborted) throw new FetchRefusal('timeout', current, `no response within ${totalTimeoutMs} ms`);
        const code = (err as { code?: string }).code;
        throw new FetchRefusal(code === 'UND_ERR_CONNECT_TIMEOUT' ? 'timeout' : 'connect', current, `cannot fetch ${current}: ${(err as Error).message}`);
      }
      const status = res.statusCode;
      if ([301, 302, 303, 307, 308].includes(status)) {
        await res.body.dump().catch(() => {});
        const location = res.headers.location;
        if (typeof location !== 'string' || location === '') throw new FetchRefusal('http-status', current, `redirect ${status} without a Location`);
        if (redirects + 1 > maxRedirects) throw new FetchRefusal('too-many-redirects', current, `more than ${maxRedirects} redirects`);
        let next: URL;
        try {
          next = new URL(location, hop.url);
        } catch {
          throw new FetchRefusal('bad-url', current, `redirect to an invalid URL '${location}'`);
        }
        if (hop.url.protocol === 'https:' && next.protocol === 'http:') {
          throw new FetchRefusal('redirect-downgrade', current, `redirect from https to http (${next.href}) is refused`);
        }
        current = next.href;
        continue;
      }
      if (status !== 200) {
        await res.body.dump().catch(() => {});
        throw new FetchRefusal('http-status', current, `HTTP ${status} from ${current}`);
      }
      const contentType = typeof res.headers['content-type'] === 'string' ? res.headers['content-type'].toLowerCase() : null;
      if (contentType && /text\/html|application\/xhtml/.test(contentType)) {
        await res.body.dump().catch(() => {});
        throw new FetchRefusal('html', current, `${current} is an HTML page (${contentType}); commit the raw file URL`);
      }
      if (contentType && /application\/(json|[a-z.+-]*\+json)/.test(contentType)) {
        await res.body.dump().catch(() => {});
        throw new FetchRefusal('listing', current, `${current} is a JSON document (${contentType}), e.g. a directory listing; commit the raw file URL`);
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) {
        await res.body.dump().catch(() => {});
        throw new FetchRefusal('too-large', current, `${current} declares ${declared} bytes (limit ${maxBytes})`);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      try {
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          size += chunk.length;
          if (size > maxBytes) {
            res.body.destroy();
            throw new FetchRefusal('too-large', current, `${current} sent more than ${maxBytes} bytes`);
          }
          chunks.push(chunk);
        }
      } catch (err) {
        if (err instanceof FetchRefusal) throw err;
        if (deadline.aborted) throw new FetchRefusal('timeout', current, `the body did not arrive within ${totalTimeoutMs} ms`);
        throw new FetchRefusal('connect', current, `the body of ${current} broke off: ${(err as Error).message}`);
      }
      const bytes = new Uint8Array(Buffer.concat(chunks));
      if (bytes.length === 0) throw new FetchRefusal('empty', current, `${current} returned an empty body`);
      const head = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, 1024));
      if (looksLikeHtml(head)) throw new FetchRefusal('html', current, `${current} returned an HTML page; commit the raw file URL`);
      if (bytes.length < 64 * 1024 && looksLikeJsonListing(new TextDecoder().decode(bytes))) {
        throw new FetchRefusal('listing', current, `${current} returned a JSON document (a listing?), not a submission`);
      }
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      if (sha256 !== opts.sha256.toLowerCase()) {
        throw new FetchRefusal('hash-mismatch', current, `sha256 of the bytes is ${sha256}, the commitment says ${opts.sha256.toLowerCase()}`);
      }
      return { bytes, sha256, finalUrl: current, contentType, hops };
    } finally {
      agent.destroy().catch(() => {});
    }
  }
}

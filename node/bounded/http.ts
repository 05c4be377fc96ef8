// Bounded HTTP bodies: a Content-Length over the cap is refused before reading, and a body that
// runs past the cap (no or lying Content-Length, chunked) is cut off and the request cancelled.
import { mib } from './file.ts';
import { InputError } from './input-error.ts';
import { JsonScanner, parseJsonText, type JsonLimits } from './json.ts';

export async function readBoundedBody(res: Response, maxBytes: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw new InputError(`${what}: response of ${mib(declared)} is over the limit of ${mib(maxBytes)}`);
  }
  if (!res.body) return Buffer.alloc(0);
  const parts: Uint8Array[] = [];
  let total = 0;
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => {});
        throw new InputError(`${what}: response ran past the limit of ${mib(maxBytes)}`);
      }
      parts.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  return Buffer.concat(parts, total);
}

/**
 * A JSON body within `maxBytes` and the JSON limits, read as a stream: each chunk is UTF-8 decoded and
 * limit-scanned as it arrives (a body that breaks a limit is cancelled there), and no copy of the raw
 * bytes is kept — at the end there is the text once, then the parsed value.
 */
export async function readJsonBody(res: Response, maxBytes: number, what: string, limits?: Partial<JsonLimits>): Promise<unknown> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw new InputError(`${what}: response of ${mib(declared)} is over the limit of ${mib(maxBytes)}`);
  }
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const scanner = new JsonScanner(what, limits);
  const parts: string[] = [];
  const take = (bytes: Uint8Array | undefined) => {
    let text: string;
    try {
      text = decoder.decode(bytes, { stream: bytes !== undefined });
    } catch {
      throw new InputError(`${what}: the response is not valid UTF-8`);
    }
    scanner.feed(text);
    parts.push(text);
  };
  if (res.body) {
    const reader = res.body.getReader();
    let total = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.byteLength;
        if (total > maxBytes) throw new InputError(`${what}: response ran past the limit of ${mib(maxBytes)}`);
        take(value);
      }
    } catch (err) {
      await reader.cancel().catch(() => {});
      throw err;
    } finally {
      reader.releaseLock();
    }
  }
  take(undefined);
  const text = parts.join('');
  parts.length = 0;
  if (text.trim() === '') throw new InputError(`${what}: empty response; expected JSON`);
  return parseJsonText(text, what);
}

/** GET `url` and parse its JSON body within `maxBytes` and the JSON limits. */
export async function fetchJsonBounded(url: string, opts: { maxBytes: number; timeoutMs: number; limits?: Partial<JsonLimits> }): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(opts.timeoutMs) });
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    throw new InputError(`${url}: HTTP ${res.status}`);
  }
  return readJsonBody(res, opts.maxBytes, url, opts.limits);
}

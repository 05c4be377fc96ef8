// Bounded HTTP bodies: a Content-Length over the cap is refused before reading, and a body that
// runs past the cap (no or lying Content-Length, chunked) is cut off and the request cancelled.
import { mib } from './file.ts';
import { InputError } from './input-error.ts';
import { parseJsonBounded, type JsonLimits } from './json.ts';

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

/** GET `url` and parse its JSON body within `maxBytes` and the JSON limits. */
export async function fetchJsonBounded(url: string, opts: { maxBytes: number; timeoutMs: number; limits?: Partial<JsonLimits> }): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(opts.timeoutMs) });
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    throw new InputError(`${url}: HTTP ${res.status}`);
  }
  const body = await readBoundedBody(res, opts.maxBytes, url);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new InputError(`${url}: the response is not valid UTF-8`);
  }
  return parseJsonBounded(text, url, opts.limits);
}

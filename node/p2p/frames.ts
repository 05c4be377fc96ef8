// One-request/one-response framing over a libp2p 3 stream: a single length-prefixed (varint) frame
// each way, with a size cap and a deadline on every read and write. Each side reads with its own
// direction's cap (the server at most maxRequest, the client at most maxResponse): the length prefix
// is checked before any payload is buffered, and the stream's read buffer is bounded just above the
// frame (the library default of 4 MiB would both refuse a legitimate 16 MiB page and let a peer make
// us buffer 4 MiB for a 100-byte request).
import { lpStream } from '@libp2p/utils';
import type { Stream } from '@libp2p/interface';

export class ProtocolTimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what}: no answer within ${ms} ms (peer slow or unreachable; retry or raise the timeout)`);
    this.name = 'ProtocolTimeoutError';
  }
}

/** lpStream options that bound one read of at most `max` payload bytes. */
export function frameLimits(max: number): { maxDataLength: number; maxBufferSize: number } {
  return { maxDataLength: max, maxBufferSize: max + 16 };
}

/** Client side: write the request, read the response, close. */
export async function requestResponse(stream: Stream, request: Uint8Array, maxRequest: number, maxResponse: number, timeoutMs: number, what: string): Promise<Uint8Array> {
  if (request.length > maxRequest) throw new Error(`${what}: request of ${request.length} bytes exceeds ${maxRequest}`);
  const lp = lpStream(stream, frameLimits(maxResponse));
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    await lp.write(request, { signal });
    const data = await lp.read({ signal });
    await stream.close({ signal }).catch(() => stream.abort(new Error('close failed')));
    return data.subarray();
  } catch (err) {
    stream.abort(err as Error);
    if ((err as Error).name === 'AbortError' || (err as Error).name === 'TimeoutError') throw new ProtocolTimeoutError(what, timeoutMs);
    throw err;
  }
}

/** Server side: read the request, compute and write the response, close. */
export async function serveOnce(stream: Stream, maxRequest: number, maxResponse: number, timeoutMs: number, respond: (req: Uint8Array) => Promise<Uint8Array> | Uint8Array): Promise<void> {
  const lp = lpStream(stream, frameLimits(maxRequest));
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const req = (await lp.read({ signal })).subarray();
    if (req.length > maxRequest) throw new Error(`request of ${req.length} bytes exceeds ${maxRequest}`);
    const res = await respond(req);
    if (res.length > maxResponse) throw new Error(`response of ${res.length} bytes exceeds ${maxResponse}`);
    await lp.write(res, { signal });
    await stream.close({ signal });
  } catch (err) {
    stream.abort(err as Error);
  }
}

// One-request/one-response framing over a libp2p 3 stream: a single length-prefixed (varint) frame
// each way, with a size cap and a deadline on every read and write.
import { lpStream } from '@libp2p/utils';
import type { Stream } from '@libp2p/interface';

export class ProtocolTimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what}: no answer within ${ms} ms (peer slow or unreachable; retry or raise the timeout)`);
    this.name = 'ProtocolTimeoutError';
  }
}

/** Client side: write the request, read the response, close. */
export async function requestResponse(stream: Stream, request: Uint8Array, maxRequest: number, maxResponse: number, timeoutMs: number, what: string): Promise<Uint8Array> {
  const lp = lpStream(stream, { maxDataLength: Math.max(maxRequest, maxResponse) });
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
  const lp = lpStream(stream, { maxDataLength: Math.max(maxRequest, maxResponse) });
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const req = (await lp.read({ signal })).subarray();
    if (req.length > maxRequest) throw new Error(`request of ${req.length} bytes exceeds ${maxRequest}`);
    const res = await respond(req);
    await lp.write(res, { signal });
    await stream.close({ signal });
  } catch (err) {
    stream.abort(err as Error);
  }
}

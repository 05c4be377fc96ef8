// JSON-RPC frames of the devchain's WebSocket server, bounded: a client (any process on the host)
// gives bytes; a request is parsed within depth/count/string limits and must be an object, and error
// replies quote a client's values only cut short (a 8 MiB method name is not echoed back whole).
import { parseJsonBounded, type JsonLimits } from '../bounded/json.ts';
import { RpcError } from './extrinsic.ts';

/** WebSocket frames above this are refused by the server before they are buffered whole. */
export const MAX_RPC_FRAME_BYTES = 8 * 1024 * 1024;
/** Extrinsics travel as hex strings; nothing the devchain serves nests deeper than a few levels. */
export const RPC_JSON_LIMITS: JsonLimits = { maxDepth: 16, maxValues: 100_000, maxStringChars: 6 * 1024 * 1024 };

export interface RpcRequest {
  id: unknown;
  method: string;
  params: unknown[];
}

/** The request in `data`, or an RpcError to answer (with the request's id when it had one). */
export function parseRpcRequest(data: string): RpcRequest | { error: RpcError; id: unknown } {
  let req: unknown;
  try {
    req = parseJsonBounded(data, 'JSON-RPC request', RPC_JSON_LIMITS);
  } catch (err) {
    return { error: new RpcError(-32700, 'Parse error', (err as Error).message), id: null };
  }
  if (req === null || typeof req !== 'object' || Array.isArray(req)) return { error: new RpcError(-32600, 'Invalid request', 'expected a JSON object (batches are not supported)'), id: null };
  const r = req as { id?: unknown; method?: unknown; params?: unknown };
  const id = typeof r.id === 'number' || typeof r.id === 'string' ? (typeof r.id === 'string' ? r.id.slice(0, 200) : r.id) : null;
  if (typeof r.method !== 'string') return { error: new RpcError(-32600, 'Invalid request'), id };
  const params = Array.isArray(r.params) ? r.params : r.params === undefined ? [] : [r.params];
  return { id, method: r.method, params };
}

/** The error reply to send: message and data cut to a few hundred characters. */
export function rpcErrorReply(id: unknown, err: unknown): string {
  const e = err instanceof RpcError ? err : new RpcError(-32603, `Internal error: ${(err as Error).message}`);
  const cut = (s: string) => (s.length > 300 ? `${s.slice(0, 300)}… (${s.length} chars)` : s);
  return JSON.stringify({ jsonrpc: '2.0', id, error: { code: e.code, message: cut(e.message), ...(e.data !== undefined ? { data: cut(e.data) } : {}) } });
}

// Endpoint names a validator may use instead of a URL.
export const ENDPOINTS: Record<string, string> = {
  finney: 'wss://entrypoint-finney.opentensor.ai:443',
  test: 'wss://test.finney.opentensor.ai:443',
  local: 'ws://127.0.0.1:9944',
};

/** `finney` | `test` | `local` | ws(s):// URL -> URL; anything else is refused with the accepted forms. */
export function resolveEndpoint(nameOrUrl: string): string {
  const named = ENDPOINTS[nameOrUrl];
  if (named) return named;
  let u: URL;
  try {
    u = new URL(nameOrUrl);
  } catch {
    throw new Error(`chain endpoint "${nameOrUrl}" is neither a name (finney, test, local) nor a ws:// or wss:// URL`);
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new Error(`chain endpoint "${nameOrUrl}" must use ws:// or wss:// (Substrate JSON-RPC over WebSocket)`);
  return nameOrUrl;
}

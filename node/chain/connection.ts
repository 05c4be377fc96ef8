// The first connection of a chain client: the WebSocket provider (retrying with backoff until
// connectTimeoutMs), the metadata-decorated API, and the transaction extensions it must encode.
// After that first connection, drops are handed to the client (SubtensorClient.onDisconnected).
import { ApiPromise, WsProvider } from '@polkadot/api';
import { SUBTENSOR_SIGNED_EXTENSIONS, checkSignedExtensions, UnknownSignedExtensionError } from './extensions.ts';
import { ChainUnavailableError } from './errors.ts';

export interface ConnectTimings {
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  maxBackoffMs: number;
  log: (line: string) => void;
}

/** Where a dropped connection goes once the client exists (until then: retried here with backoff). */
export interface DropHandler {
  onDrop?: () => void;
}

/**
 * Connects to `endpoint` and loads its metadata; ChainUnavailableError when either does not happen
 * within connectTimeoutMs, UnknownSignedExtensionError for an extension it cannot encode.
 */
export async function openChain(endpoint: string, opts: ConnectTimings, drops: DropHandler): Promise<{ provider: WsProvider; api: ApiPromise }> {
  const provider = new WsProvider(endpoint, false, undefined, opts.requestTimeoutMs);
  let attempt = 0;
  let gaveUp = false;
  let timer: NodeJS.Timeout | undefined;
  const retry = () => {
    if (drops.onDrop) return drops.onDrop();
    if (gaveUp) return;
    const delay = backoffMs(attempt++, opts.maxBackoffMs);
    timer = setTimeout(() => provider.connect().catch(() => {}), delay);
  };
  provider.on('disconnected', retry);
  provider.on('error', () => {}); // reported via 'disconnected'; keeps the emitter from throwing
  await provider.connect();
  try {
    await withTimeout(provider.isReady, opts.connectTimeoutMs, `cannot connect to ${endpoint} within ${opts.connectTimeoutMs} ms (is the node running and reachable?)`);
  } catch (err) {
    gaveUp = true;
    clearTimeout(timer);
    await provider.disconnect().catch(() => {});
    throw new ChainUnavailableError((err as Error).message);
  }
  const api = new ApiPromise({ provider, signedExtensions: SUBTENSOR_SIGNED_EXTENSIONS, noInitWarn: true });
  api.on('error', () => {});
  try {
    await withTimeout(api.isReadyOrError, opts.connectTimeoutMs, `connected to ${endpoint} but the chain metadata did not load within ${opts.connectTimeoutMs} ms`);
  } catch (err) {
    gaveUp = true;
    await api.disconnect().catch(() => {});
    throw new ChainUnavailableError((err as Error).message);
  }
  try {
    const { empty } = checkSignedExtensions(api.registry, api.runtimeMetadata, endpoint);
    if (empty.length) opts.log(`chain: transaction extensions without payload: ${empty.join(', ')}`);
  } catch (err) {
    gaveUp = true;
    await api.disconnect().catch(() => {});
    throw err as UnknownSignedExtensionError;
  }
  return { provider, api };
}

/** Reconnect delay: 250 ms doubling per failed attempt, capped. */
export function backoffMs(attempt: number, maxMs: number): number {
  return Math.min(250 * 2 ** attempt, maxMs);
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => (t = setTimeout(() => reject(new Error(message)), ms)))]).finally(() => clearTimeout(t));
}

// Raw storage reads over any JSON-RPC `send` (SubtensorClient's provider or the lean reader's socket):
// the keys under a prefix in pages of state_getKeysPaged, and values in batches of state_queryStorageAt,
// PAGE keys per call: a handful of RPCs for any subnet size, never one per key.
export type RpcSend = <T = unknown>(method: string, params: unknown[]) => Promise<T>;

export const PAGE = 1000;

/** Values of `keys` at a block, in order (null = absent). */
export async function rawValues(send: RpcSend, keys: string[], hash: string): Promise<(string | null)[]> {
  const batches: Promise<{ changes: [string, string | null][] }[] | null>[] = [];
  for (let i = 0; i < keys.length; i += PAGE) batches.push(send('state_queryStorageAt', [keys.slice(i, i + PAGE), hash]));
  const map = new Map<string, string | null>();
  for (const res of await Promise.all(batches)) for (const set of res ?? []) for (const [k, v] of set.changes) map.set(k.toLowerCase(), v);
  return keys.map((k) => map.get(k.toLowerCase()) ?? null);
}

/** All (key, value) under a storage prefix at a block (value null = absent). */
export async function rawEntries(send: RpcSend, prefix: string, hash: string): Promise<[string, string | null][]> {
  const keys: string[] = [];
  let start: string | null = null;
  for (let page = 0; page < 10_000; page++) {
    const got: string[] = await send<string[]>('state_getKeysPaged', [prefix, PAGE, start, hash]);
    keys.push(...got);
    if (got.length < PAGE) break;
    start = got[got.length - 1];
  }
  const vals = await rawValues(send, keys, hash);
  return keys.map((k, i) => [k, vals[i]]);
}

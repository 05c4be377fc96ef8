// JSON.stringify replacer for the node's output (logs, API bodies, CLI --json): stake and other
// u64/u128 values are bigints, written as decimal strings.
export function bigintAsString(_key: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

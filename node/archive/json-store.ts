// The archive's generic JSON stores: one sublevel per named store (kv:<name>), values as JSON,
// a value that does not parse reported as corrupt with its key. Writes go through the archive's
// queue and its read-only check, which the archive passes in.
import { ArchiveCorruptError, ArchiveError, type CorruptEntry } from './errors.ts';
import type { Bin } from './open.ts';
import type { JsonStore } from './types.ts';

type Sub = ReturnType<Bin['sublevel']>;

const NAME_RE = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** The archive's write discipline: refuse writes when read-only; run each write in the one queue. */
export interface WriteGate {
  writable(): void;
  serial<T>(fn: () => Promise<T>): Promise<T>;
}

/** Throws ArchiveError unless `name` is a valid store name ([a-z0-9-], starting with a letter or digit). */
export function checkStoreName(name: string): void {
  if (!NAME_RE.test(name)) throw new ArchiveError(`store name ${JSON.stringify(name).slice(0, 70)} is invalid: use [a-z0-9-], starting with a letter or digit`);
}

/** The JsonStore named `name` over its sublevel `sub`. */
export function jsonStore(name: string, sub: Sub, gate: WriteGate): JsonStore {
  return {
    get: async (key) => parseJsonValue(`kv:${name}/${key}`, (await sub.get(key)) as string | undefined),
    put: async (key, value) => { gate.writable(); await gate.serial(() => sub.put(key, JSON.stringify(value) as never)); },
    putIfAbsent: async (key, value) => {
      gate.writable();
      return gate.serial(async () => {
        if ((await sub.get(key)) !== undefined) return false;
        await sub.put(key, JSON.stringify(value) as never);
        return true;
      });
    },
    del: async (key) => { gate.writable(); await gate.serial(() => sub.del(key)); },
    entries: async (o = {}) => {
      const items: { key: string; value: unknown }[] = [];
      const corrupt: CorruptEntry[] = [];
      const range = o.prefix ? { gte: o.prefix, lt: o.prefix + '\uffff' } : {};
      for await (const [key, raw] of sub.iterator({ ...range, limit: o.limit ?? -1 })) {
        try {
          items.push({ key, value: parseJsonValue(`kv:${name}/${key}`, raw as string) });
        } catch (err) {
          corrupt.push({ key: `kv:${name}/${key}`, reason: (err as Error).message });
        }
      }
      return { items, corrupt };
    },
  };
}

/** A stored JSON value; ArchiveCorruptError naming `key` when it does not parse. */
export function parseJsonValue(key: string, raw: string | undefined): unknown | undefined {
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw new ArchiveCorruptError(key, `not JSON (${(err as Error).message.slice(0, 120)})`);
  }
}

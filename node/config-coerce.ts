// Config values from TOML or the environment, coerced to each key's kind (Kind in ./config.ts):
// a reason instead of a value when the raw value does not fit. Pure.
import type { DockerHost, KeyDef } from './config.ts';

export function coerce(d: KeyDef, raw: unknown, fromEnv: boolean): { value?: unknown; reason?: string } {
  switch (d.kind) {
    case 'string':
      return typeof raw === 'string' ? { value: raw } : { reason: `must be a string, got ${typeof raw}` };
    case 'int': {
      const n = fromEnv && typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
      if (typeof n === 'bigint' && n <= BigInt(Number.MAX_SAFE_INTEGER) && n >= 0n) return { value: Number(n) };
      return typeof n === 'number' && Number.isSafeInteger(n) ? { value: n } : { reason: `must be an integer, got ${JSON.stringify(String(raw))}` };
    }
    case 'number': {
      const n = fromEnv && typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
      return typeof n === 'number' && Number.isFinite(n) ? { value: n } : { reason: `must be a number, got ${JSON.stringify(String(raw))}` };
    }
    case 'bool': {
      if (typeof raw === 'boolean') return { value: raw };
      if (fromEnv && typeof raw === 'string' && /^(true|false|1|0)$/.test(raw)) return { value: raw === 'true' || raw === '1' };
      return { reason: 'must be true or false' };
    }
    case 'bigint': {
      if (typeof raw === 'bigint' && raw >= 0n) return { value: raw };
      if (typeof raw === 'number' && Number.isSafeInteger(raw) && raw >= 0) return { value: BigInt(raw) };
      if (typeof raw === 'string' && /^\d+$/.test(raw)) return { value: BigInt(raw) };
      return { reason: 'must be a non-negative integer amount in rao (use a string for large values)' };
    }
    case 'string[]': {
      if (fromEnv && typeof raw === 'string') return { value: raw.split(',').map((s) => s.trim()).filter(Boolean) };
      return Array.isArray(raw) && raw.every((x) => typeof x === 'string') ? { value: raw } : { reason: 'must be an array of strings' };
    }
    case 'hosts':
      return coerceHosts(raw, fromEnv);
  }
}

function coerceHosts(raw: unknown, fromEnv: boolean): { value?: unknown; reason?: string } {
  let list: unknown = raw;
  if (fromEnv && typeof raw === 'string') {
    list = raw.split(',').map((s) => s.trim()).filter(Boolean).map((pair) => {
      const i = pair.lastIndexOf('=');
      return i > 0 ? { url: pair.slice(0, i), gpus: Number(pair.slice(i + 1)) } : { url: pair, gpus: 1 };
    });
  }
  if (!Array.isArray(list) || list.length === 0) return { reason: 'must be a non-empty array of { url, gpus } tables' };
  const out: DockerHost[] = [];
  for (const [i, h] of list.entries()) {
    if (typeof h !== 'object' || h === null) return { reason: `entry ${i} must be a table { url, gpus }` };
    const r = h as Record<string, unknown>;
    const allowed = new Set(['url', 'gpus', 'ca_file', 'cert_file', 'key_file']);
    const extra = Object.keys(r).find((k) => !allowed.has(k));
    if (extra) return { reason: `entry ${i}: unknown key '${extra}' (allowed: ${[...allowed].join(', ')})` };
    if (typeof r.url !== 'string' || !/^(unix:\/\/\/.+|tcp:\/\/[^\s/]+:\d+|npipe:\/\/.+)$/.test(r.url)) {
      return { reason: `entry ${i}: url must be unix:///path/docker.sock or tcp://host:port` };
    }
    const gpus = typeof r.gpus === 'bigint' ? Number(r.gpus) : r.gpus ?? 1;
    if (typeof gpus !== 'number' || !Number.isInteger(gpus) || gpus < 1 || gpus > 64) return { reason: `entry ${i}: gpus must be an integer 1..64` };
    for (const k of ['ca_file', 'cert_file', 'key_file']) {
      if (r[k] !== undefined && typeof r[k] !== 'string') return { reason: `entry ${i}: ${k} must be a file path` };
    }
    const host: DockerHost = { url: r.url, gpus };
    if (r.ca_file !== undefined) host.caFile = r.ca_file as string;
    if (r.cert_file !== undefined) host.certFile = r.cert_file as string;
    if (r.key_file !== undefined) host.keyFile = r.key_file as string;
    out.push(host);
  }
  return { value: out };
}

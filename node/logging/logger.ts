// The node's logger: one JSON object per line on stderr — {"t", "level", "msg", ...fields} — so
// journald, Loki or `jq` read every line. Fields are data, never secrets: a field whose name looks like
// one (password, secret, private key, seed, mnemonic) is replaced by "[redacted]" wherever it is nested,
// Errors become {name, message}, bigints strings, and one line is bounded in size.
import { bigintAsString } from '../json-bigint.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface NodeLogger extends Logger {
  readonly level: LogLevel;
  enabled(level: LogLevel): boolean;
  /** A logger whose lines carry `fields` too. */
  child(fields: Record<string, unknown>): NodeLogger;
}

const SECRET_KEY = /(^|_)pass(word|phrase)?$|password$|passphrase$|secret|private_?key|^seed$|seed_?hex|mnemonic/i;
const MAX_LINE = 16 * 1024;

function safeValue(key: string, v: unknown, depth: number): unknown {
  if (SECRET_KEY.test(key) && v !== undefined && v !== null && v !== '' && typeof v !== 'boolean') return '[redacted]';
  if (v instanceof Error) return { name: v.name, message: v.message, ...((v as NodeJS.ErrnoException).code ? { code: (v as NodeJS.ErrnoException).code } : {}) };
  if (v instanceof Uint8Array) return `0x${Buffer.from(v).toString('hex')}`;
  if (depth > 6 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => safeValue('', x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = safeValue(k, x, depth + 1);
  return out;
}

/** The JSON line for one log call (exported for tests). */
export function formatLine(level: LogLevel, msg: string, fields: Record<string, unknown>, now = new Date()): string {
  const body: Record<string, unknown> = { t: now.toISOString(), level, msg };
  for (const [k, v] of Object.entries(fields)) {
    if (k === 't' || k === 'level' || k === 'msg') continue;
    body[k] = safeValue(k, v, 0);
  }
  let line: string;
  try {
    line = JSON.stringify(body, bigintAsString);
  } catch (err) {
    line = JSON.stringify({ t: body.t, level, msg, logError: `fields not serialisable: ${(err as Error).message}` });
  }
  if (line.length > MAX_LINE) {
    line = JSON.stringify({ t: body.t, level, msg: msg.slice(0, 2048), truncated: true, bytes: line.length });
  }
  return line;
}

export interface LoggerOptions {
  level: LogLevel;
  /** fields on every line */
  base?: Record<string, unknown>;
  /** where lines go (default: stderr) */
  out?: (line: string) => void;
}

export function createLogger(opts: LoggerOptions): NodeLogger {
  const out = opts.out ?? ((l: string) => process.stderr.write(l + '\n'));
  const base = opts.base ?? {};
  const min = ORDER[opts.level];
  const emit = (lvl: LogLevel) => (msg: string, fields: Record<string, unknown> = {}) => {
    if (ORDER[lvl] < min) return;
    out(formatLine(lvl, msg, { ...base, ...fields }));
  };
  return {
    level: opts.level,
    enabled: (l) => ORDER[l] >= min,
    child: (fields) => createLogger({ ...opts, base: { ...base, ...fields } }),
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
  };
}

// Output the node does not write itself, routed through its JSON logger so that every stderr line of
// `conclave start` is JSON:
// - console.* (what @polkadot/api prints through @polkadot/util's logger: "<date>  API-WS: ..."; and any
//   dependency that uses console) — polkadot lines get `source: "polkadot"` and `origin` ("API-WS");
// - the `debug`/`weald` modules (libp2p, gossipsub, kad-dht, docker-modem), which print only when
//   DEBUG=… selects a namespace, as js-libp2p users expect: their lines become `debug` entries with `ns`;
// - process warnings ("(node:123) Warning: …"), as `warn` entries.
// libp2p components created with `libp2pLogger(log)` log through it directly (same DEBUG selection).
import { format } from 'node:util';
import { createRequire } from 'node:module';
import type { ComponentLogger, Logger as Libp2pLogger } from '@libp2p/interface';
import type { Logger, LogLevel } from './logger.ts';

const POLKADOT_DATE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
const POLKADOT_ORIGIN = /^\s*([A-Z0-9][A-Z0-9/_-]*):$/;

type ConsoleMethod = 'log' | 'info' | 'debug' | 'warn' | 'error' | 'trace';
const CONSOLE_LEVEL: Record<ConsoleMethod, LogLevel> = { log: 'info', info: 'info', debug: 'debug', trace: 'debug', warn: 'warn', error: 'error' };

/** One console call as a log entry (exported for tests). */
export function consoleEntry(method: ConsoleMethod, args: unknown[]): { level: LogLevel; msg: string; fields: Record<string, unknown> } {
  if (args.length >= 2 && typeof args[0] === 'string' && POLKADOT_DATE.test(args[0]) && typeof args[1] === 'string' && POLKADOT_ORIGIN.test(args[1])) {
    const origin = POLKADOT_ORIGIN.exec(args[1])![1];
    const msg = format(...args.slice(2).map((a) => (typeof a === 'object' && a !== null && !(a instanceof Error) ? JSON.stringify(a) : a)));
    // the chain client retries and reports outages itself; polkadot's own "error" lines (a dropped
    // socket, a failed RPC it retries) are warnings from the node's point of view. Its `debug` output
    // (DEBUG=api-ws,rpc-core…) arrives through console.log, like its rare `log` lines: debug.
    const level = method === 'error' ? 'warn' : method === 'log' || method === 'info' ? 'debug' : CONSOLE_LEVEL[method];
    return { level, msg, fields: { source: 'polkadot', origin } };
  }
  return { level: CONSOLE_LEVEL[method], msg: format(...args), fields: { source: 'console' } };
}

type DebugModule = {
  log: (...args: unknown[]) => void;
  formatArgs: (this: unknown, args: unknown[]) => void;
  enabled(name: string): boolean;
};

function debugModules(): { name: string; mod: DebugModule }[] {
  const require = createRequire(import.meta.url);
  const out: { name: string; mod: DebugModule }[] = [];
  for (const name of ['weald', 'debug']) {
    try {
      const m = require(name) as DebugModule & { default?: DebugModule };
      const mod = (typeof m.log === 'function' ? m : m.default) as DebugModule | undefined;
      if (mod && typeof mod.log === 'function') out.push({ name, mod });
    } catch {
      // not installed: nothing of it to route
    }
  }
  return out;
}

/**
 * Routes console.*, debug/weald output and process warnings into `log`. Returns a function that
 * restores what was there before (tests; a stopping node keeps the routing to the end).
 */
export function routeForeignOutput(log: Logger): () => void {
  const restore: (() => void)[] = [];
  for (const method of Object.keys(CONSOLE_LEVEL) as ConsoleMethod[]) {
    const original = console[method];
    console[method] = (...args: unknown[]) => {
      const e = consoleEntry(method, args);
      log[e.level](e.msg, e.fields);
    };
    restore.push(() => { console[method] = original; });
  }
  for (const { name, mod } of debugModules()) {
    const { log: originalLog, formatArgs: originalFormat } = mod;
    mod.formatArgs = function noDecoration() { /* namespace, colour and time are fields of the JSON line */ };
    mod.log = function (this: { namespace?: string }, ...args: unknown[]) {
      log.debug(format(...args), { source: name === 'weald' ? 'libp2p' : 'debug', ns: this?.namespace });
    };
    restore.push(() => { mod.log = originalLog; mod.formatArgs = originalFormat; });
  }
  const warningListeners = process.listeners('warning');
  process.removeAllListeners('warning');
  const onWarning = (w: Error) => log.warn(w.message, { source: 'process', warning: w.name, ...((w as NodeJS.ErrnoException).code ? { code: (w as NodeJS.ErrnoException).code } : {}) });
  process.on('warning', onWarning);
  restore.push(() => {
    process.off('warning', onWarning);
    for (const l of warningListeners) process.on('warning', l as (w: Error) => void);
  });
  return () => { for (const r of restore.reverse()) r(); };
}

/**
 * A libp2p ComponentLogger writing through `log` at debug level, for the components DEBUG selects
 * (DEBUG=libp2p:* as with js-libp2p; none by default: libp2p at debug is thousands of lines a second).
 * `trace` is never enabled.
 */
export function libp2pLogger(log: Logger & { enabled?(l: LogLevel): boolean }, selected: (ns: string) => boolean = debugSelected): ComponentLogger {
  const make = (ns: string): Libp2pLogger => {
    const enabled = (log.enabled?.('debug') ?? true) && selected(ns);
    const f = ((formatter: unknown, ...args: unknown[]) => {
      if (enabled) log.debug(format(formatter, ...args), { source: 'libp2p', ns });
    }) as Libp2pLogger;
    f.error = (formatter: unknown, ...args: unknown[]) => {
      if (enabled) log.debug(format(formatter, ...args), { source: 'libp2p', ns, libp2pError: true });
    };
    f.trace = () => {};
    f.enabled = enabled;
    f.newScope = (name: string) => make(`${ns}:${name}`);
    return f;
  };
  return { forComponent: (name: string) => make(name) };
}

/** Does DEBUG (debug-module syntax: comma list, `*` wildcards, `-` exclusions) select `ns`? */
export function debugSelected(ns: string, debugEnv: string | undefined = process.env.DEBUG): boolean {
  if (!debugEnv) return false;
  let on = false;
  for (const raw of debugEnv.split(/[\s,]+/).filter(Boolean)) {
    const neg = raw.startsWith('-');
    const pat = new RegExp(`^${(neg ? raw.slice(1) : raw).replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*?')}$`);
    if (pat.test(ns)) on = !neg;
  }
  return on;
}

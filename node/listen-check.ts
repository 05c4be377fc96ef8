// Before `conclave start` connects to anything: can it listen where the config says? A port already
// taken (a second node, an old process), a privileged port or an address this host does not have is
// reported in one line naming the port and the config key that sets it — not as a libp2p stack trace
// minutes later. All addresses are held at once, so two keys naming the same port are caught too.
import { createServer, type Server } from 'node:net';
import type { NodeConfig } from './config.ts';
import { parseHostPort } from './config.ts';

export interface ListenSpec {
  /** config key, e.g. p2p.listen */
  key: string;
  /** its environment override */
  env: string;
  /** what the config says, as written */
  value: string;
  /** what listens there, for the message ("p2p", "API", "metrics") */
  what: string;
  host: string;
  port: number;
}

/** The TCP addresses the node will listen on (port 0 = any free port: nothing to check). */
export function listenSpecs(c: NodeConfig): ListenSpec[] {
  const out: ListenSpec[] = [];
  const m = /^\/ip([46])\/([^/]+)\/tcp\/(\d+)$/.exec(c.p2p.listen);
  if (m && Number(m[3]) > 0) out.push({ key: 'p2p.listen', env: 'CONCLAVE_P2P_LISTEN', value: c.p2p.listen, what: 'p2p', host: m[2], port: Number(m[3]) });
  const api = c.api.listen ? parseHostPort(c.api.listen) : undefined;
  if (api && api.port > 0) out.push({ key: 'api.listen', env: 'CONCLAVE_API_LISTEN', value: c.api.listen, what: 'API', ...api });
  const met = c.metrics.address ? parseHostPort(c.metrics.address) : undefined;
  if (met && met.port > 0) out.push({ key: 'metrics.address', env: 'CONCLAVE_METRICS_ADDRESS', value: c.metrics.address, what: 'metrics', ...met });
  return out;
}

/** One line: the port, the key that sets it, why it cannot be used and what to do. */
export function listenErrorMessage(s: Pick<ListenSpec, 'key' | 'env' | 'value' | 'what' | 'host' | 'port'>, code: string | undefined, detail = ''): string {
  const where = `${s.key} = ${JSON.stringify(s.value)}`;
  switch (code) {
    case 'EADDRINUSE':
      return `${s.what} port ${s.port} is already in use (${where}): another process listens there (another conclave?); stop it, or set ${s.key} (or ${s.env}) to a free port`;
    case 'EACCES':
      return `${s.what} port ${s.port} needs privileges (${where}): ports below 1024 need root or CAP_NET_BIND_SERVICE; set ${s.key} (or ${s.env}) to a port of 1024 or more`;
    case 'EADDRNOTAVAIL':
      return `${s.what} address ${s.host} is not an address of this host (${where}); set ${s.key} (or ${s.env}) to one of its addresses, or 0.0.0.0`;
    default:
      return `cannot listen for ${s.what} on ${s.host}:${s.port} (${where}): ${code ?? ''}${detail ? ` ${detail}` : ''}; set ${s.key} (or ${s.env}) to another address`;
  }
}

/** Tries to listen on every spec at once; resolves to the first problem (one line) or null. */
export async function checkListenable(specs: ListenSpec[]): Promise<string | null> {
  const held: Server[] = [];
  try {
    for (const s of specs) {
      const srv = createServer();
      const problem = await new Promise<string | null>((resolve) => {
        srv.once('error', (err: NodeJS.ErrnoException) => resolve(listenErrorMessage(s, err.code, err.code ? '' : err.message)));
        srv.listen({ host: s.host, port: s.port, exclusive: true }, () => resolve(null));
      });
      if (problem) return problem;
      held.push(srv);
    }
    return null;
  } finally {
    await Promise.all(held.map((srv) => new Promise<void>((r) => srv.close(() => r()))));
  }
}

/** The errno code of a listen failure, wherever a library put it (libp2p wraps the socket error). */
export function listenErrorCode(err: unknown): string | undefined {
  for (let e: unknown = err, i = 0; e && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
    const m = /\b(EADDRINUSE|EACCES|EADDRNOTAVAIL)\b/.exec(String((e as Error).message ?? ''));
    if (m) return m[1];
  }
  return undefined;
}

// Peer discovery through the chain: the validator serves its libp2p address as its axon
// (SubtensorModule.serve_axon; the axon port is the p2p port) at start and whenever the address it
// should announce differs from what the chain holds; peers read the axons of permitted validators from
// the metagraph and dial them (node/p2p/dialer.ts). A refusal (not registered, ServingRateLimitExceeded,
// InvalidIpAddress, no balance) is logged once with the chain's error and retried with backoff.
import { isIP } from 'node:net';
import type { SubtensorClient } from './client.ts';
import type { ChainWriteError, Sr25519Signer } from './types.ts';

export interface AnnounceAddress {
  ip: string;
  port: number;
}

/** Addresses subtensor refuses as an axon (subnets/serving.rs is_valid_ip_address) or nobody can dial. */
function unannounceable(ip: string): string | null {
  if (ip === '0.0.0.0' || ip === '::') return 'unspecified';
  if (ip === '127.0.0.1' || ip === '::1') return 'subtensor refuses 127.0.0.1 and ::1 as axon addresses';
  if (ip === '255.255.255.255') return 'broadcast';
  return null;
}

const rank = (ip: string): number => {
  if (/^127\./.test(ip)) return 3; // loopback other than 127.0.0.1: only for peers on this machine
  if (/^fe80:/i.test(ip) || /^169\.254\./.test(ip)) return 2; // link-local
  return isIP(ip) === 4 ? 0 : 1; // prefer IPv4, then global IPv6
};

/**
 * What to announce: `p2p.announce_address` ("host" or "host:port", "[v6]:port"; port defaults to the
 * listening port) when set, else the best of the addresses the node listens on (`listenAddrs`,
 * multiaddrs as libp2p reports them, a wildcard listen already expanded to the interfaces).
 */
export function chooseAnnounceAddress(configured: string, listenAddrs: string[]): { ok: true; address: AnnounceAddress } | { ok: false; reason: string } {
  const parsed = listenAddrs.map((a) => /^\/(ip4|ip6)\/([^/]+)\/tcp\/(\d+)/.exec(a)).filter((m): m is RegExpExecArray => m !== null).map((m) => ({ ip: m[2], port: Number(m[3]) }));
  const listenPort = parsed[0]?.port;
  if (configured) {
    const m = /^\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?$/.exec(configured) ?? /^([^:\s]+)(?::(\d{1,5}))?$/.exec(configured) ?? (isIP(configured) === 6 ? [configured, configured, undefined] : null);
    if (!m || !isIP(m[1])) return { ok: false, reason: `p2p.announce_address "${configured}" is not an IP address with an optional :port` };
    const port = m[2] ? Number(m[2]) : listenPort;
    if (!port || port > 65535) return { ok: false, reason: `p2p.announce_address "${configured}" has no port and the node listens on none` };
    const bad = unannounceable(m[1]);
    if (bad) return { ok: false, reason: `p2p.announce_address ${m[1]}: ${bad}` };
    return { ok: true, address: { ip: m[1], port } };
  }
  const ok = parsed.filter((a) => !unannounceable(a.ip)).sort((a, b) => rank(a.ip) - rank(b.ip));
  if (ok.length === 0) {
    return { ok: false, reason: `none of the listen addresses (${listenAddrs.join(', ') || 'none'}) can be announced (${parsed.map((a) => `${a.ip}: ${unannounceable(a.ip)}`).join('; ') || 'no TCP address'}); set p2p.announce_address to an address peers can reach` };
  }
  return { ok: true, address: ok[0] };
}

export interface AxonAnnouncerOptions {
  client: SubtensorClient;
  signer: Sr25519Signer;
  netuid: number;
  /** p2p.announce_address ('' = choose from the listen addresses) */
  configured: string;
  listenAddrs: () => string[];
  log: { info(m: string, f?: Record<string, unknown>): void; warn(m: string, f?: Record<string, unknown>): void; debug(m: string, f?: Record<string, unknown>): void };
  /** called after our axon landed (e.g. to refresh the validator set) */
  onServed?: (a: AnnounceAddress, block: number) => void;
  now?: () => number;
}

/** Keeps this hotkey's axon on chain equal to its p2p address; `check()` is cheap when nothing changed. */
export class AxonAnnouncer {
  private readonly o: AxonAnnouncerOptions;
  private readonly now: () => number;
  private failures = 0;
  private retryAt = 0;
  private readonly logged = new Set<string>();
  private busy = false;
  served: (AnnounceAddress & { block: number }) | null = null;

  constructor(o: AxonAnnouncerOptions) {
    this.o = o;
    this.now = o.now ?? Date.now;
  }

  /** Serves the axon when the chain's differs from the address to announce. Never throws. */
  async check(): Promise<'served' | 'unchanged' | 'waiting' | 'refused' | 'unavailable'> {
    if (this.busy || this.now() < this.retryAt) return 'waiting';
    this.busy = true;
    try {
      const want = chooseAnnounceAddress(this.o.configured, this.o.listenAddrs());
      if (!want.ok) {
        this.once(`choose:${want.reason}`, () => this.o.log.warn('cannot announce this validator\'s p2p address on chain; peers must find it by p2p.bootstrap', { reason: want.reason }));
        this.later(false);
        return 'unavailable';
      }
      const { ip, port } = want.address;
      const onChain = await this.o.client.axonOf(this.o.netuid, this.o.signer.hotkey);
      if (onChain && onChain.ip === normalizeIp(ip) && onChain.port === port) {
        this.served = { ...onChain };
        this.failures = 0;
        return 'unchanged';
      }
      const r = await this.o.client.serveAxon(this.o.signer, this.o.netuid, { ip, port });
      if (!r.ok) {
        this.refused(r.error, ip, port);
        return 'refused';
      }
      this.failures = 0;
      this.served = { ip, port, block: r.block };
      this.o.log.info('axon served on chain: peers will dial this address', { ip, port, block: r.block, was: onChain ? `${onChain.ip}:${onChain.port}` : null });
      this.o.onServed?.(want.address, r.block);
      return 'served';
    } catch (err) {
      this.once(`error:${(err as Error).message.slice(0, 80)}`, () => this.o.log.warn('axon check failed; retrying with backoff', { error: (err as Error).message }));
      this.later(false);
      return 'refused';
    } finally {
      this.busy = false;
    }
  }

  private refused(e: ChainWriteError, ip: string, port: number): void {
    const name = e.module?.name ?? e.kind;
    this.once(`refused:${name}`, () => this.o.log.warn('serve_axon refused by the chain; backing off', { ip, port, kind: e.kind, chainError: name, error: e.message }));
    this.later(true);
  }

  private later(refused: boolean): void {
    this.failures++;
    const base = refused ? 5_000 : 2_000;
    this.retryAt = this.now() + Math.min(300_000, base * 2 ** Math.min(this.failures - 1, 16));
  }

  private once(key: string, f: () => void): void {
    if (this.logged.has(key)) return;
    this.logged.add(key);
    f();
  }
}

/** The form ipFromU128 gives back (IPv6 groups unabbreviated), for comparing with the chain's axon. */
function normalizeIp(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  const halves = ip.split('::');
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const groups = [...head, ...Array(Math.max(0, 8 - head.length - tail.length)).fill('0'), ...tail];
  return groups.map((g) => parseInt(g, 16).toString(16)).join(':');
}

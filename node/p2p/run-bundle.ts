// The run-bundle protocol (/conclave/run-bundle/2.0.0: reveals and certified runs), both ends. Server (RunBundleServer, mounted
// by the mesh): read-only, open to any authenticated peer (auditors are outsiders), rate-limited per
// peer and node-wide, answering from a provider the node registers over its archive
// (archiveRunBundleProvider). Client (fetchRunBundle): fetches a past run's reveals (signed report +
// salt) and certified run (commit certificate + voter bindings) from one validator by multiaddr, without being a validator. Starts a minimal,
// non-listening libp2p dialer (TCP, noise, yamux) with a throwaway identity, pages through the
// bundle and stops the dialer. The bytes are not trusted here: the auditor verifies every one.
import { createLibp2p, type Libp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import type { Connection, Stream } from '@libp2p/interface';
import { requestResponse, serveOnce } from './frames.ts';
import { PeerRateLimiter } from './rate-limit.ts';
import type { MeshMetrics, ResolvedMeshOptions } from './mesh-types.ts';
import {
  decodeRunBundleRequest, decodeRunBundleResponse, encodeRunBundleRequest, encodeRunBundleResponse, runBundlePage,
  MAX_BUNDLE_REPORTS, MAX_FETCH_RESPONSE_BYTES, RUN_BUNDLE_REQUEST_BYTES, type RunBundleResponse, type RunBundleStatus,
} from '../../proto/gossip.ts';

/** Read-only, open to any authenticated peer (auditors are outsiders); see proto/gossip.ts "Run bundle". */
export const RUN_BUNDLE_PROTOCOL = '/conclave/run-bundle/2.0.0';

/** What a node serves for a past run: encoded Reveals and the encoded CertifiedRun (proto/consensus.ts). */
export interface RunBundle {
  reports: Uint8Array[];
  certificate?: Uint8Array | null;
}
/** Registered by the node (from its archive); null/undefined when the run is unknown. */
export type RunBundleProvider = (runId: number, netuid: number) => Promise<RunBundle | null | undefined>;

export type RunBundleServerOptions = Pick<ResolvedMeshOptions, 'netuid' | 'fetchTimeoutMs' | 'bundleBurst' | 'bundlePerSecond' | 'bundleGlobalBurst' | 'bundleGlobalPerSecond' | 'bundlePageBytes'>;

export interface RunBundleServerComponents {
  now: () => number;
  /** Banned or blocked peers get 'unavailable'. */
  isDenied: (peer: string) => boolean;
}

/** Server side: without a provider every request is answered 'unavailable'. */
export class RunBundleServer {
  private readonly opts: RunBundleServerOptions;
  private readonly c: RunBundleServerComponents;
  private readonly limiter: PeerRateLimiter;
  private readonly globalLimiter: PeerRateLimiter;
  private provider: RunBundleProvider | null = null;
  private inFlight = 0;
  private readonly m = { served: 0, notFound: 0, rateLimited: 0, failed: 0 };

  constructor(opts: RunBundleServerOptions, components: RunBundleServerComponents) {
    this.opts = opts;
    this.c = components;
    this.limiter = new PeerRateLimiter(opts.bundleBurst, opts.bundlePerSecond);
    this.globalLimiter = new PeerRateLimiter(opts.bundleGlobalBurst, opts.bundleGlobalPerSecond);
  }

  async mount(node: Libp2p): Promise<void> {
    await node.handle(RUN_BUNDLE_PROTOCOL, (stream, conn) => this.serve(stream, conn), { maxInboundStreams: 2 });
  }

  setProvider(provider: RunBundleProvider | null): void {
    this.provider = provider;
  }

  metrics(): MeshMetrics['runBundle'] {
    return { served: this.m.served, notFound: this.m.notFound, rateLimited: this.m.rateLimited, failed: this.m.failed };
  }

  private async serve(stream: Stream, conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString();
    await serveOnce(stream, RUN_BUNDLE_REQUEST_BYTES, MAX_FETCH_RESPONSE_BYTES, this.opts.fetchTimeoutMs * 2, async (bytes) => {
      const reply = (status: RunBundleResponse['status'], message: string) =>
        encodeRunBundleResponse({ version: 1, status, message, total: 0, offset: 0, reports: [], certificate: new Uint8Array(0) });
      const now = this.c.now();
      if (this.c.isDenied(peer)) return reply('unavailable', 'this peer is banned or blocked here');
      if (!this.limiter.take(peer, now)) {
        this.m.rateLimited++;
        return reply('rate-limited', `more than ${this.opts.bundlePerSecond} run-bundle requests/s from this peer; back off and retry`);
      }
      if (!this.globalLimiter.take('*', now) || this.inFlight >= 4) {
        this.m.rateLimited++;
        return reply('rate-limited', 'this node is serving too many run-bundle requests; retry in a few seconds');
      }
      let req;
      try {
        req = decodeRunBundleRequest(bytes);
      } catch (err) {
        return reply('bad-request', (err as Error).message);
      }
      if (req.netuid !== this.opts.netuid) return reply('bad-request', `this node serves netuid ${this.opts.netuid}, not ${req.netuid}`);
      const provider = this.provider;
      if (!provider) return reply('unavailable', 'this node keeps no run archive (no run-bundle provider registered)');
      this.inFlight++;
      try {
        const bundle = await provider(req.runId, req.netuid);
        if (!bundle || (bundle.reports.length === 0 && !bundle.certificate?.length)) {
          this.m.notFound++;
          return reply('not-found', `run ${req.runId} is not in this node's archive`);
        }
        this.m.served++;
        return encodeRunBundleResponse(runBundlePage(bundle.reports, bundle.certificate ?? null, req.offset, this.opts.bundlePageBytes));
      } catch (err) {
        this.m.failed++;
        return reply('unavailable', `archive read failed: ${(err as Error).message}`.slice(0, 200));
      } finally {
        this.inFlight--;
      }
    });
  }
}

export class RunBundleError extends Error {
  readonly status: RunBundleStatus | 'dial' | 'protocol';
  constructor(status: RunBundleStatus | 'dial' | 'protocol', message: string) {
    super(message);
    this.name = 'RunBundleError';
    this.status = status;
  }
}

export interface FetchedRunBundle {
  /** Peer id that served the bundle (authenticated by noise). */
  peerId: string;
  /** Encoded Reveals, in the server's order. */
  reports: Uint8Array[];
  /** Encoded CertifiedRun (commit certificate + voter bindings), or null when the server holds none. */
  certificate: Uint8Array | null;
}

/**
 * Most bytes of reports and certificate one fetch accepts over all its pages: a full subnet (64
 * validators × a 4096-entry report of ~300 KB) is about 20 MB; a source that sends more is refused
 * instead of growing the auditor's memory (each page is bounded, their number alone is not).
 */
export const MAX_BUNDLE_TOTAL_BYTES = 32 * 1024 * 1024;

export interface FetchRunBundleOptions {
  /** Deadline for the whole fetch: dial + every page (default 20 s). */
  timeoutMs?: number;
}

/** Parses a validator multiaddr; it must name the peer (`/p2p/<peer id>`) so that noise authenticates who answers. */
export function parseBundleSource(addr: string): { ma: Multiaddr; peerId: string } {
  let ma: Multiaddr;
  try {
    ma = multiaddr(addr);
  } catch (err) {
    throw new RunBundleError('dial', `${addr} is not a multiaddr (${(err as Error).message}); expected e.g. /ip4/127.0.0.1/tcp/30333/p2p/12D3Koo...`);
  }
  const peerId = /\/p2p\/([^/]+)$/.exec(addr)?.[1];
  if (!peerId) throw new RunBundleError('dial', `${addr} does not end in /p2p/<peer id>; add the validator's peer id (printed by 'conclave start' as "mesh listening")`);
  return { ma, peerId };
}

export async function fetchRunBundle(addr: string, netuid: number, runId: number, opts: FetchRunBundleOptions = {}): Promise<FetchedRunBundle> {
  const { ma, peerId } = parseBundleSource(addr);
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const deadline = Date.now() + timeoutMs;
  const left = () => Math.max(1, deadline - Date.now());
  const node = await createLibp2p({
    addresses: { listen: [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
  });
  try {
    const reports: Uint8Array[] = [];
    let certificate: Uint8Array | null = null;
    let offset = 0;
    let totalBytes = 0;
    // Each page carries at least one report, so MAX_BUNDLE_REPORTS + 1 pages bound the loop.
    for (let page = 0; page <= MAX_BUNDLE_REPORTS; page++) {
      let stream;
      try {
        stream = await node.dialProtocol(ma, RUN_BUNDLE_PROTOCOL, { signal: AbortSignal.timeout(left()) });
      } catch (err) {
        throw new RunBundleError('dial', `cannot open ${RUN_BUNDLE_PROTOCOL} to ${addr}: ${(err as Error).message} (is the validator running, and is this its p2p address?)`);
      }
      let res;
      try {
        const bytes = await requestResponse(stream, encodeRunBundleRequest({ version: 1, netuid, runId, offset }), RUN_BUNDLE_REQUEST_BYTES, MAX_FETCH_RESPONSE_BYTES, left(), `run bundle from ${addr}`);
        res = decodeRunBundleResponse(bytes);
      } catch (err) {
        throw new RunBundleError('protocol', `run bundle from ${addr}: ${(err as Error).message}`);
      }
      if (res.status !== 'ok') {
        const why = res.status === 'not-found' ? `run ${runId} is not in that validator's archive` : res.message;
        throw new RunBundleError(res.status, `run bundle from ${addr}: ${res.status}: ${why}`);
      }
      if (res.offset !== offset) throw new RunBundleError('protocol', `run bundle from ${addr}: asked for offset ${offset}, got ${res.offset}`);
      if (offset === 0 && res.certificate.length > 0) certificate = res.certificate;
      totalBytes += res.certificate.length + res.reports.reduce((a, r) => a + r.length, 0);
      if (totalBytes > MAX_BUNDLE_TOTAL_BYTES) {
        throw new RunBundleError('protocol', `run bundle from ${addr}: more than ${MAX_BUNDLE_TOTAL_BYTES} bytes of reports (a full subnet needs about 20 MB); refusing the rest`);
      }
      reports.push(...res.reports);
      offset += res.reports.length;
      if (offset >= res.total || res.reports.length === 0) break;
    }
    return { peerId, reports, certificate };
  } finally {
    await Promise.resolve(node.stop()).catch(() => {});
  }
}

/** What the provider reads (node/validator/evidence.ts archiveEvidenceReader implements it over the archive). */
export interface RunArchiveReader {
  /** Encoded Reveals of the run (reports whose salt the node holds: revealed, never a sealed one). */
  reveals(run: { netuid: number; runId: number }): Promise<Uint8Array[]>;
  /** Encoded CertifiedRun of the run, or null. */
  certifiedRun(run: { netuid: number; runId: number }): Promise<Uint8Array | null>;
}

/** A run-bundle provider over the node's archive. Register with `mesh.setRunBundleProvider`. */
export function archiveRunBundleProvider(archive: RunArchiveReader): RunBundleProvider {
  return async (runId, netuid) => {
    const [reveals, certificate] = await Promise.all([archive.reveals({ netuid, runId }), archive.certifiedRun({ netuid, runId })]);
    const reports = reveals.slice(0, MAX_BUNDLE_REPORTS);
    if (reports.length === 0 && !certificate) return null;
    return { reports, certificate };
  };
}

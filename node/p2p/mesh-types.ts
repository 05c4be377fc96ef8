// The mesh's public types (options, deliveries, events, publish outcomes, peers, metrics), the
// production defaults of its options, and the guard every part uses to call consumer callbacks.
// Re-exported by mesh.ts: callers import them from there.
import type { ComponentLogger } from '@libp2p/interface';
import type { RejectReason } from './message-validator.ts';
import type { Reveal } from '../../proto/reveal.ts';
import type { EquivocationProof } from '../../proto/consensus.ts';
import type { Sr25519Signer } from '../../proto/signer.ts';
import { MAX_FETCH_RESPONSE_BYTES } from '../../proto/gossip.ts';
import type { Traffic } from './traffic.ts';

export interface MeshOptions {
  netuid: number;
  /** Genesis hash of the chain (32 bytes hex, 0x optional): bindings are valid on this chain only. */
  genesisHash: string;
  /** The validator's hotkey: signs the binding record. */
  hotkey: Sr25519Signer;
  /** 32-byte ed25519 seed of the node key (libp2p identity, signs envelopes). */
  nodeKeySeed: Uint8Array;
  /** Listen multiaddrs (default /ip4/0.0.0.0/tcp/30333). */
  listen?: string[];
  /** Addresses put into the binding record (default: the actual listen addresses). */
  announce?: string[];
  /** Configured bootstrap multiaddrs (with or without /p2p/<id>). */
  bootstrap?: string[];
  /** Kademlia DHT under /conclave/kad/1.0.0 (default on). */
  dht?: boolean;
  /** gossipsub heartbeat (default 700 ms). */
  heartbeatMs?: number;
  /** Reconnect / binding-refresh loop period (default 5 s). */
  maintainMs?: number;
  /** A connected peer that has not presented a qualifying binding by then is disconnected (default 10 s). */
  admissionGraceMs?: number;
  /** Refused (non-validator) peers are not accepted again for this long, unless the validator set changes (default 60 s). */
  refuseBanMs?: number;
  /** Invalid messages (strikes) within `strikeWindowMs` before a peer is disconnected and banned (default 5). */
  strikeLimit?: number;
  strikeWindowMs?: number;
  /** Ban of a misbehaving peer (default 10 min). */
  banMs?: number;
  /** Gossip freshness window (default 10 min) and tolerated clock skew (default 30 s). */
  freshnessMs?: number;
  clockSkewMs?: number;
  /** publish*() resolves once sent, or after this long with `queued: true` (default 5 s). */
  publishWaitMs?: number;
  /** An unsent message stays queued this long before it is dropped (default 2 min; late peers fetch it). */
  publishRetryMs?: number;
  /** Binding lifetime (default 24 h) and the re-announce period on the bindings topic (default 60 s). */
  bindingTtlMs?: number;
  bindingAnnounceMs?: number;
  /** Fetch protocol: per-request timeout (default 5 s), per-peer rate limit (burst, per second). */
  fetchTimeoutMs?: number;
  fetchBurst?: number;
  fetchPerSecond?: number;
  /** Run-bundle protocol: per-peer rate limit (burst, per second), and across all peers (outsiders can mint peer ids). */
  bundleBurst?: number;
  bundlePerSecond?: number;
  bundleGlobalBurst?: number;
  bundleGlobalPerSecond?: number;
  /** Largest run-bundle response frame (default MAX_FETCH_RESPONSE_BYTES, 16 MiB); bigger bundles are paged. */
  bundlePageBytes?: number;
  /** Stop dialing known validators above this many connections (default 64). */
  maxPeers?: number;
  /** Where libp2p's own debug output goes (node/logging/capture.ts libp2pLogger); default: libp2p's DEBUG= logger. */
  logger?: ComponentLogger;
  /**
   * Expected time between runs, (tempo + 1) x block time (default 361 x 12 s): peer scoring sizes its
   * delivery windows and decays to it (node/p2p/scoring.ts).
   */
  runIntervalMs?: number;
  /**
   * Distinct reports accepted from one gossip author per run (default 2: its report, and a second one
   * that proves an equivocation; a third is flooding and is ignored).
   */
  maxReportsPerAuthorRun?: number;
  /** Clock (tests). */
  now?: () => number;
}

export interface DeliveredReport {
  hash: string;
  reveal: Reveal;
  /** Encoded Reveal (proto/reveal.ts): salt + signed score report. */
  bytes: Uint8Array;
  runId: number;
  /** Peer that authored (gossip) or served (fetch) the message. */
  fromPeer: string;
  via: 'gossip' | 'fetch';
}

export interface DeliveredConsensus {
  hash: string;
  payload: Uint8Array;
  runId: number;
  /** Hotkey bound to the node key that signed the envelope. */
  signerHotkey: string;
  /** The signer's ed25519 node key (hex), as in the envelope the mesh verified. */
  signerNodeKey: string;
  fromPeer: string;
  /** 'direct': sent to this node alone over the direct protocol (direct.ts) */
  via: 'gossip' | 'fetch' | 'direct';
}

export type MeshEvent =
  | { type: 'admitted'; peerId: string; hotkey: string }
  | { type: 'refused'; peerId: string; reason: string; by: 'us' | 'them' }
  | { type: 'dropped'; peerId: string; reason: string }
  | { type: 'banned'; peerId: string; reason: string; untilMs: number }
  /** A binding relayed in peer exchange was refused (forged, replayed from another subnet, expired…); `hotkey` is the one it names. */
  | { type: 'binding-refused'; fromPeer: string; hotkey: string; nodeKey: string; reason: string }
  /** A node key bound to two hotkeys (both bindings countersigned by it): the second was refused; the pair is the proof. */
  | { type: 'equivocation'; proof: Extract<EquivocationProof, { kind: 'binding' }>; detail: string };

export interface PublishOutcome {
  hash: string;
  /** Peers the message was sent to directly (0 while still queued). */
  recipients: number;
  /** True when no admitted subscriber was reachable within publishWaitMs; it stays queued until publishRetryMs. */
  queued: boolean;
}

export interface MeshPeer {
  peerId: string;
  hotkey?: string;
  stake?: string;
  connected: boolean;
  admitted: boolean;
  gossipScore: number;
}

export interface MeshMetrics {
  peerId: string;
  connections: number;
  admittedPeers: number;
  /** Admitted peers subscribed to this netuid's report topic: who a report published now would reach directly. */
  reportSubscribers: number;
  knownBindings: number;
  accepted: number;
  rejected: Record<RejectReason, number>;
  admissionRefused: Record<string, number>;
  published: number;
  publishQueued: number;
  publishExpired: number;
  /** Publishes that reached no admitted member (no open stream yet, or only peers being hung up on): tried again, signed anew. */
  publishRetried: number;
  /** Reports sent in the compact form (against a roster this node holds, proto/reveal-compact.ts), each signing counted. */
  publishedCompact: number;
  /** Bytes handed to gossipsub by this node's publishes, times the recipients each reached (forwarding of others' messages not included). */
  publishedBytes: number;
  delivered: { report: number; consensus: number };
  /** servedBytes / fetchedBytes: fetch responses this node sent / received (frame bytes, before encryption). */
  fetch: { served: number; rateLimited: number; requests: number; failures: number; itemsFetched: number; servedBytes: number; fetchedBytes: number };
  /** Consensus messages sent to one member over the direct protocol, received that way, refused by the receiver, failed. */
  direct: { sent: number; received: number; refused: number; failed: number; sentBytes: number; receivedBytes: number };
  runBundle: { served: number; notFound: number; rateLimited: number; failed: number };
  disconnectsForMisbehaviour: number;
  storeSize: number;
  run: { current: number | null; previous: number | null };
  /** Bytes on the wire over this node's connections since start (TCP payload: noise, yamux, gossipsub framing included). */
  traffic: Traffic;
}

/** Production defaults of the optional timings and limits. */
export const DEFAULTS = {
  heartbeatMs: 700,
  maintainMs: 5000,
  admissionGraceMs: 10_000,
  refuseBanMs: 60_000,
  strikeLimit: 5,
  strikeWindowMs: 60_000,
  banMs: 10 * 60_000,
  publishWaitMs: 5000,
  publishRetryMs: 2 * 60_000,
  bindingTtlMs: 24 * 3600_000,
  bindingAnnounceMs: 60_000,
  fetchTimeoutMs: 5000,
  fetchBurst: 20,
  fetchPerSecond: 5,
  bundleBurst: 8,
  bundlePerSecond: 1,
  bundleGlobalBurst: 32,
  bundleGlobalPerSecond: 8,
  bundlePageBytes: MAX_FETCH_RESPONSE_BYTES,
  maxPeers: 64,
  runIntervalMs: 361 * 12_000,
  maxReportsPerAuthorRun: 2,
};

/** MeshOptions with every default filled in; each part receives the slice it reads. */
export type ResolvedMeshOptions = MeshOptions & typeof DEFAULTS;

/** Calls a consumer callback; a throwing handler becomes a process warning, never a mesh failure. */
export function safeCall(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    process.emitWarning(`conclave mesh: a message handler threw: ${(err as Error).message}`);
  }
}

// Validation of every message that enters the mesh, gossiped or fetched (pure, clock passed in).
//
// Order: size cap → decode (a compact report expanded against the roster it names) → kind/netuid → run pinning → freshness (gossip only) → duplicate →
// author admission → envelope signature (ed25519, the author's bound node key) → payload checks
// (a reveal's sr25519 report signature, verified once and cached by hash; binding signatures and membership).
//
// Verdicts follow gossipsub semantics: 'accept' (deliver + forward), 'ignore' (drop silently: stale,
// duplicate, other run: things an honest peer can send), 'reject' (drop, penalise the propagation
// source). A reject marked `strike` is cryptographically or syntactically invalid; honest peers never
// forward those, so the mesh counts strikes and disconnects peers that collect too many.
import { CodecError } from '../../proto/codec.ts';
import { decodeBinding, type BindingRecord } from '../../proto/binding.ts';
import { verifySignedScoreReport } from '../../proto/score-report.ts';
import { decodeReveal, type Reveal } from '../../proto/reveal.ts';
import type { EquivocationProof } from '../../proto/consensus.ts';
import { UnknownRosterError, type RosterLookup } from '../../proto/reveal-compact.ts';
import {
  decodeGossipEnvelope, encodeGossipEnvelope, gossipContentHash, verifyGossipEnvelope, MAX_GOSSIP_ENVELOPE_BYTES,
  type GossipEnvelope, type GossipKind,
} from '../../proto/gossip.ts';
import { decodeMessage } from '../../proto/consensus.ts';
import type { Admission } from './admission.ts';
import { PeerRateLimiter } from './rate-limit.ts';

/**
 * Flood limits per author (the peer bound to the envelope's node key, or the peer that opened a direct stream): distinct reports per run
 * (one, plus a second that is the evidence of an equivocation: both must travel), and a token bucket
 * for consensus messages (a member sends a handful per view; the collector certificates and answers
 * to laggards). Above a limit a message is ignored: not delivered, not forwarded, no penalty (two
 * honest forwarders can relay different pairs of a Byzantine author's reports).
 */
export const MAX_REPORTS_PER_AUTHOR_RUN = 2;
export const CONSENSUS_BURST = 512;
export const CONSENSUS_PER_SECOND = 16;

export const REJECT_REASONS = [
  'oversize', 'decode', 'wrong-kind', 'wrong-netuid', 'wrong-run', 'stale', 'future', 'duplicate',
  'unknown-peer', 'signer-mismatch', 'bad-signature', 'bad-report-signature', 'report-mismatch',
  'not-validator', 'bad-binding', 'binding-mismatch', 'flood', 'unknown-roster',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export type Verdict =
  /** `bytes`: the envelope's canonical (v1) encoding, what is stored and served; a compact report arrives as v2. */
  | { action: 'accept'; envelope: GossipEnvelope; bytes: Uint8Array; hash: string; reveal?: Reveal; binding?: BindingRecord }
  | { action: 'ignore' | 'reject'; reason: RejectReason; detail: string; strike: boolean; proof?: Extract<EquivocationProof, { kind: 'binding' }> };

export interface ValidatorOptions {
  netuid: number;
  /** Largest envelope accepted, bytes. */
  maxBytes?: number;
  /** Gossip older than this is ignored (fetched messages are exempt: catching up is their purpose). */
  freshnessMs?: number;
  /** Gossip issued this far in the future is ignored. */
  clockSkewMs?: number;
  /** How many sr25519 verdicts to remember. */
  signatureCacheSize?: number;
  /** Distinct reports accepted per gossip author and run (default MAX_REPORTS_PER_AUTHOR_RUN). */
  maxReportsPerAuthorRun?: number;
  /** The rosters compact reports are expanded against (none: a compact report is ignored as unknown-roster). */
  rosters?: RosterLookup;
}

export interface CheckContext {
  nowMs: number;
  /** 'gossip' applies the freshness window; 'fetch' does not. */
  via: 'gossip' | 'fetch';
  /**
   * The peer the message must come from: the peer that opened a direct stream (direct.ts). On gossip
   * (unsigned frames, forwarded by any member) it is left out and the author is the peer bound to the
   * envelope's node key.
   */
  author?: string;
  /** Kind the topic carries; a mismatch is rejected. */
  expectKind?: GossipKind;
}

/** Bounded set/map with insertion-order eviction. */
export class BoundedMap<K, V> {
  private readonly m = new Map<K, V>();
  private readonly cap: number;
  constructor(cap: number) {
    this.cap = cap;
  }
  get(k: K): V | undefined { return this.m.get(k); }
  has(k: K): boolean { return this.m.has(k); }
  set(k: K, v: V): void {
    if (this.m.has(k)) this.m.delete(k);
    this.m.set(k, v);
    while (this.m.size > this.cap) this.m.delete(this.m.keys().next().value as K);
  }
  delete(k: K): void { this.m.delete(k); }
  get size(): number { return this.m.size; }
  keys(): IterableIterator<K> { return this.m.keys(); }
}

export class MessageValidator {
  readonly netuid: number;
  private readonly maxBytes: number;
  private readonly freshnessMs: number;
  private readonly clockSkewMs: number;
  private currentRun: number | null = null;
  private previousRun: number | null = null;
  private readonly sigCache: BoundedMap<string, boolean>;
  /** Content hashes already delivered to the application (duplicate suppression across gossip + fetch). */
  private readonly delivered = new BoundedMap<string, number>(65_536);
  readonly counters: Record<RejectReason, number>;
  accepted = 0;
  private readonly admission: Admission;
  private readonly reportsByAuthor = new BoundedMap<string, number>(65_536);
  private readonly maxReportsPerAuthorRun: number;
  private readonly consensusRate = new PeerRateLimiter(CONSENSUS_BURST, CONSENSUS_PER_SECOND);
  private readonly rosters: RosterLookup;

  constructor(admission: Admission, opts: ValidatorOptions) {
    this.admission = admission;
    this.netuid = opts.netuid;
    this.maxBytes = Math.min(opts.maxBytes ?? MAX_GOSSIP_ENVELOPE_BYTES, MAX_GOSSIP_ENVELOPE_BYTES);
    this.freshnessMs = opts.freshnessMs ?? 10 * 60_000;
    this.clockSkewMs = opts.clockSkewMs ?? 30_000;
    this.sigCache = new BoundedMap(opts.signatureCacheSize ?? 8192);
    this.maxReportsPerAuthorRun = opts.maxReportsPerAuthorRun ?? MAX_REPORTS_PER_AUTHOR_RUN;
    this.rosters = opts.rosters ?? (() => undefined);
    this.counters = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>;
  }

  /** Runs accepted: the current one and the one before it. `null` disables run pinning. */
  setCurrentRun(runId: number | null): void {
    if (runId === this.currentRun) return;
    if (runId !== null && (!Number.isSafeInteger(runId) || runId < 0)) throw new Error(`run id must be a non-negative safe integer, got ${runId}`);
    this.previousRun = this.currentRun;
    this.currentRun = runId;
  }

  runs(): { current: number | null; previous: number | null } {
    return { current: this.currentRun, previous: this.previousRun };
  }

  runAccepted(runId: number): boolean {
    return this.currentRun === null || runId === this.currentRun || runId === this.previousRun;
  }

  isDelivered(hash: string): boolean {
    return this.delivered.has(hash);
  }

  /** Marks a content hash as delivered; returns false when it already was (exactly-once delivery). */
  markDelivered(hash: string, nowMs: number): boolean {
    if (this.delivered.has(hash)) return false;
    this.delivered.set(hash, nowMs);
    return true;
  }

  private no(action: 'ignore' | 'reject', reason: RejectReason, detail: string, strike = false): Verdict {
    this.counters[reason]++;
    return { action, reason, detail, strike };
  }

  check(bytes: Uint8Array, ctx: CheckContext): Verdict {
    if (bytes.length > this.maxBytes) return this.no('reject', 'oversize', `${bytes.length} bytes exceed the cap of ${this.maxBytes}`, true);
    let env: GossipEnvelope;
    try {
      env = decodeGossipEnvelope(bytes, this.rosters);
    } catch (err) {
      // a roster this node has not read (it joined late, or the author read another chain state): an
      // honest author can send it, and the canonical reveal is fetched by hash when it is needed
      if (err instanceof UnknownRosterError) return this.no('ignore', 'unknown-roster', err.message);
      return this.no('reject', 'decode', err instanceof CodecError ? err.message : String(err), true);
    }
    // what is stored and served: the bytes as they came, or a compact report re-encoded (only once accepted)
    const canonical = () => (bytes[0] === 1 ? bytes : encodeGossipEnvelope(env));
    if (ctx.expectKind && env.kind !== ctx.expectKind) return this.no('reject', 'wrong-kind', `a ${env.kind} envelope on the ${ctx.expectKind} topic`, true);
    if (env.netuid !== this.netuid) return this.no('reject', 'wrong-netuid', `netuid ${env.netuid}, this mesh is netuid ${this.netuid}`, true);
    if (env.kind !== 'binding' && !this.runAccepted(env.runId)) {
      return this.no('ignore', 'wrong-run', `run ${env.runId}; accepting runs ${this.currentRun} and ${this.previousRun}`);
    }
    if (ctx.via === 'gossip') {
      if (env.issuedAt + this.freshnessMs < ctx.nowMs) return this.no('ignore', 'stale', `issued ${ctx.nowMs - env.issuedAt} ms ago (window ${this.freshnessMs} ms)`);
      if (env.issuedAt > ctx.nowMs + this.clockSkewMs) return this.no('ignore', 'future', `issued ${env.issuedAt - ctx.nowMs} ms in the future; check the clocks`);
    }
    const hash = gossipContentHash(env);
    if (env.kind !== 'binding' && this.delivered.has(hash)) return this.no('ignore', 'duplicate', `content ${hash} already delivered`);

    if (env.kind === 'binding') return this.checkBinding(env, bytes, hash, ctx);

    // Author admission: the envelope signer must be a bound validator node (its signature, checked
    // below, is what makes it the author); where the sending peer is known to be the author (a
    // direct stream) it must be that peer, so a member cannot speak in another member's name.
    const signerPeer = this.admission.peerOfNodeKey(env.nodePublicKey);
    const author = ctx.author ?? signerPeer;
    if (ctx.via === 'gossip') {
      if (!author || !this.admission.isBound(author)) return this.no('reject', 'unknown-peer', `author ${author ?? `of node key ${env.nodePublicKey.slice(0, 16)}…`} has no valid binding to a validator hotkey`);
      if (signerPeer !== author) return this.no('reject', 'signer-mismatch', `envelope signed by node key ${env.nodePublicKey.slice(0, 16)}…, not the author's bound key`, true);
    } else if (signerPeer === undefined) {
      return this.no('reject', 'unknown-peer', `envelope signer ${env.nodePublicKey.slice(0, 16)}… has no valid binding to a validator hotkey`);
    }
    if (ctx.via === 'gossip' && env.kind === 'consensus' && !this.consensusRate.take(author!, ctx.nowMs)) {
      return this.no('ignore', 'flood', `author ${author} sent more than ${CONSENSUS_BURST} consensus messages at over ${CONSENSUS_PER_SECOND}/s`);
    }
    const authorRun = `${signerPeer}:${env.runId}`;
    if (ctx.via === 'gossip' && env.kind === 'report' && (this.reportsByAuthor.get(authorRun) ?? 0) >= this.maxReportsPerAuthorRun) {
      return this.no('ignore', 'flood', `author ${author} already published ${this.maxReportsPerAuthorRun} different reports for run ${env.runId}`);
    }
    if (!verifyGossipEnvelope(env)) return this.no('reject', 'bad-signature', 'envelope ed25519 signature does not verify', true);

    if (env.kind === 'report') {
      let reveal: Reveal;
      try {
        reveal = decodeReveal(env.payload);
      } catch (err) {
        return this.no('reject', 'decode', `reveal: ${(err as Error).message}`, true);
      }
      const signed = reveal.signed;
      if (signed.report.netuid !== env.netuid || signed.report.runId !== env.runId) {
        return this.no('reject', 'report-mismatch', `report is for netuid ${signed.report.netuid} run ${signed.report.runId}, envelope says ${env.netuid}/${env.runId}`, true);
      }
      if (!this.admission.isValidator(signed.report.validatorHotkey)) {
        return this.no('reject', 'not-validator', `report signed by ${signed.report.validatorHotkey}, which is not in the validator set`);
      }
      // A reveal is published by its author: nobody gossips another validator's report (e.g. with a
      // wrong salt, to race the real reveal); members pass each other's reports inside consensus only.
      const authorHotkey = signerPeer === undefined ? undefined : this.admission.bindingOf(signerPeer)?.hotkey;
      if (authorHotkey !== signed.report.validatorHotkey) {
        return this.no('reject', 'signer-mismatch', `reveal of ${signed.report.validatorHotkey}'s report published by ${authorHotkey ?? 'an unbound node key'}: a reveal is published by its author`, true);
      }
      let ok = this.sigCache.get(hash);
      if (ok === undefined) {
        ok = verifySignedScoreReport(signed).ok;
        this.sigCache.set(hash, ok);
      }
      if (!ok) return this.no('reject', 'bad-report-signature', `sr25519 signature of ${signed.report.validatorHotkey} does not verify`, true);
      if (ctx.via === 'gossip') this.reportsByAuthor.set(authorRun, (this.reportsByAuthor.get(authorRun) ?? 0) + 1);
      this.accepted++;
      return { action: 'accept', envelope: env, bytes: canonical(), hash, reveal };
    }
    // a consensus payload must at least be a well-formed protocol message (its signatures are the
    // reducer's business): garbage in a validly signed envelope is a schema failure, not a delivery
    try {
      decodeMessage(env.payload);
    } catch (err) {
      return this.no('reject', 'decode', `consensus message: ${(err as Error).message}`, true);
    }
    this.accepted++;
    return { action: 'accept', envelope: env, bytes: canonical(), hash };
  }

  private checkBinding(env: GossipEnvelope, bytes: Uint8Array, hash: string, ctx: CheckContext): Verdict {
    let record: BindingRecord;
    try {
      record = decodeBinding(env.payload);
    } catch (err) {
      return this.no('reject', 'decode', `binding: ${(err as Error).message}`, true);
    }
    if (record.nodePublicKey !== env.nodePublicKey) return this.no('reject', 'binding-mismatch', 'binding names a different node key than the envelope signer', true);
    if (ctx.via === 'gossip' && ctx.author !== undefined && ctx.author !== record.peerId) return this.no('reject', 'binding-mismatch', `binding for peer ${record.peerId} published by ${ctx.author}`, true);
    if (!verifyGossipEnvelope(env)) return this.no('reject', 'bad-signature', 'envelope ed25519 signature does not verify', true);
    const r = this.admission.consider(record, ctx.nowMs);
    if (!r.ok) {
      if (r.reason === 'not-validator') return this.no('reject', 'not-validator', r.detail);
      if (r.reason === 'superseded') return this.no('ignore', 'duplicate', r.detail);
      // the node key announcing a second hotkey is the equivocator itself (the envelope signer is that key)
      if (r.reason === 'node-key-taken') return { ...this.no('reject', 'bad-binding', r.detail, true), ...(r.proof ? { proof: r.proof } : {}) };
      return this.no('reject', 'bad-binding', r.detail, true);
    }
    this.accepted++;
    return { action: 'accept', envelope: env, bytes, hash, binding: record };
  }
}

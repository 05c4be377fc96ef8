// Membership, the stateful side of admission: which connected peers are admitted right now ("live"),
// and who is kept out — refused non-validators (refuseBanMs), peers banned after strikeLimit invalid
// messages within strikeWindowMs (banMs), peers blocked by partition tooling, peers without a binding
// after admissionGraceMs. Also the mesh's event stream (admitted/refused/dropped/banned). Binding
// checks themselves are the pure registry in admission.ts; the handshake that carries them is hello.ts.
import type { Admission } from './admission.ts';
import type { Host } from './host.ts';
import type { RejectReason } from './message-validator.ts';
import { safeCall, type MeshEvent, type ResolvedMeshOptions } from './mesh-types.ts';
import { decodeBinding, type BindingRecord } from '../../proto/binding.ts';

export type MembershipOptions = Pick<ResolvedMeshOptions, 'netuid' | 'admissionGraceMs' | 'refuseBanMs' | 'strikeLimit' | 'strikeWindowMs' | 'banMs'>;

export interface MembershipComponents {
  now: () => number;
  host: Host;
  admission: Admission;
  /** Runs when a peer becomes live (after the 'admitted' event). */
  onAdmitted: (peer: string) => void;
}

export class Membership {
  private readonly opts: MembershipOptions;
  private readonly c: MembershipComponents;
  private readonly live = new Set<string>();
  private readonly refused = new Map<string, number>();
  private readonly banned = new Map<string, number>();
  private readonly blocked = new Set<string>();
  private readonly strikes = new Map<string, { count: number; since: number }>();
  private readonly eventHandlers: Array<(e: MeshEvent) => void> = [];
  private readonly m = { misbehaviour: 0, admissionRefused: {} as Record<string, number> };

  constructor(opts: MembershipOptions, components: MembershipComponents) {
    this.opts = opts;
    this.c = components;
  }

  onEvent(cb: (e: MeshEvent) => void): void {
    this.eventHandlers.push(cb);
  }

  emit(e: MeshEvent): void {
    for (const cb of this.eventHandlers) safeCall(() => cb(e));
  }

  /** Peers admitted as validators right now. */
  admitted(): ReadonlySet<string> {
    return this.live;
  }

  isAdmitted(peer: string): boolean {
    return this.live.has(peer);
  }

  /** The connection gater's rule: blocked, banned or recently refused. */
  isDenied(peer: string): boolean {
    if (this.blocked.has(peer)) return true;
    const now = this.c.now();
    const b = this.banned.get(peer);
    if (b !== undefined) {
      if (b > now) return true;
      this.banned.delete(peer);
    }
    const r = this.refused.get(peer);
    if (r !== undefined) {
      if (r > now) return true;
      this.refused.delete(peer);
    }
    return false;
  }

  /** Checks the binding a connected peer presented; admits or refuses it. */
  admitRemote(peer: string, bindingBytes: Uint8Array, netuid: number): { ok: boolean; reason: string } {
    if (netuid !== this.opts.netuid) return this.refuse(peer, 'wrong-netuid', `peer is on netuid ${netuid}, this mesh is netuid ${this.opts.netuid}`);
    if (bindingBytes.length === 0) return this.refuse(peer, 'no-binding', 'peer presented no binding record');
    let record: BindingRecord;
    try {
      record = decodeBinding(bindingBytes);
    } catch (err) {
      return this.refuse(peer, 'bad-binding', (err as Error).message);
    }
    const r = this.c.admission.consider(record, this.c.now(), peer);
    if (!r.ok) {
      if (r.proof) this.emit({ type: 'equivocation', proof: r.proof, detail: r.detail });
      return this.refuse(peer, r.reason, r.detail);
    }
    if (!this.live.has(peer)) {
      this.live.add(peer);
      this.emit({ type: 'admitted', peerId: peer, hotkey: record.hotkey });
      this.c.onAdmitted(peer);
    }
    return { ok: true, reason: '' };
  }

  refuse(peer: string, reason: string, detail: string): { ok: false; reason: string } {
    this.m.admissionRefused[reason] = (this.m.admissionRefused[reason] ?? 0) + 1;
    this.refused.set(peer, this.c.now() + this.opts.refuseBanMs);
    this.live.delete(peer);
    this.emit({ type: 'refused', peerId: peer, reason: `${reason}: ${detail}`, by: 'us' });
    // Let the refusal frame reach the peer before the connection goes.
    this.c.host.later(200, () => this.c.host.hangUp(peer));
    return { ok: false, reason: `${reason}: ${detail}` };
  }

  /** Counts an invalid message against `peer`; at strikeLimit within strikeWindowMs it is banned and hung up on. */
  strike(peer: string, reason: RejectReason | string, detail: string): void {
    const now = this.c.now();
    let s = this.strikes.get(peer);
    if (!s || now - s.since > this.opts.strikeWindowMs) {
      s = { count: 0, since: now };
      this.strikes.set(peer, s);
    }
    s.count++;
    if (s.count >= this.opts.strikeLimit) {
      this.strikes.delete(peer);
      this.m.misbehaviour++;
      const until = now + this.opts.banMs;
      this.banned.set(peer, until);
      this.live.delete(peer);
      this.emit({ type: 'banned', peerId: peer, reason: `${s.count} invalid messages within ${this.opts.strikeWindowMs} ms (last: ${reason}: ${detail})`, untilMs: until });
      this.c.host.hangUp(peer);
    }
  }

  /** Starts the admission grace timer of a newly connected peer. */
  watchGrace(peer: string): void {
    this.c.host.later(this.opts.admissionGraceMs, () => {
      if (!this.c.host.connected(peer) || this.live.has(peer)) return;
      // Not a refusal (no ban): a slow honest peer may simply not have finished the hello yet.
      this.m.admissionRefused['grace-expired'] = (this.m.admissionRefused['grace-expired'] ?? 0) + 1;
      this.emit({ type: 'dropped', peerId: peer, reason: `no qualifying binding within ${this.opts.admissionGraceMs} ms` });
      this.c.host.hangUp(peer);
    });
  }

  onPeerDisconnect(peer: string): void {
    if (this.live.delete(peer)) this.emit({ type: 'dropped', peerId: peer, reason: 'disconnected' });
  }

  /** The validator set changed: refusals are forgotten (a refused peer may qualify now). */
  clearRefusals(): void {
    this.refused.clear();
  }

  /** Drops peers whose hotkey left the validator set (as returned by Admission.setValidatorSet). */
  dropLeft(dropped: string[]): void {
    for (const p of dropped) {
      if (this.c.host.isSelf(p)) continue;
      this.live.delete(p);
      this.emit({ type: 'dropped', peerId: p, reason: 'its hotkey left the validator set (or its binding expired)' });
      this.c.host.hangUp(p);
    }
  }

  /** Maintenance: drops peers whose binding expired, and forgets live peers that lost their connection. */
  recheck(now: number): void {
    for (const p of this.c.admission.recheck(now)) {
      if (this.live.delete(p)) this.emit({ type: 'dropped', peerId: p, reason: 'binding expired' });
      this.c.host.hangUp(p);
    }
    // A live peer without a connection (a missed peer:disconnect, e.g. a hang-up racing a re-dial) would
    // never be greeted again on reconnect: forget it, the next connection re-admits it.
    for (const p of [...this.live]) {
      if (!this.c.host.connected(p)) {
        this.live.delete(p);
        this.emit({ type: 'dropped', peerId: p, reason: 'disconnected' });
      }
    }
  }

  /** Partition tooling: denies connections to/from these peers and hangs up on them. */
  block(peerIds: string[]): void {
    for (const p of peerIds) {
      this.blocked.add(p);
      if (this.live.delete(p)) this.emit({ type: 'dropped', peerId: p, reason: 'blocked' });
      this.c.host.hangUp(p);
    }
  }

  /** Lifts `block` (all peers when omitted). */
  unblock(peerIds?: string[]): void {
    if (!peerIds) this.blocked.clear();
    else for (const p of peerIds) this.blocked.delete(p);
  }

  metrics(): { admissionRefused: Record<string, number>; disconnectsForMisbehaviour: number } {
    return { admissionRefused: { ...this.m.admissionRefused }, disconnectsForMisbehaviour: this.m.misbehaviour };
  }
}

// Admission registry (pure): which libp2p peers speak for a validator hotkey.
//
// A peer is "bound" while we hold a valid, unexpired, hotkey-signed BindingRecord for it whose hotkey
// is in the current validator set. Bindings arrive over the hello handshake, the bindings topic and
// peer exchange; they are independent of connections (a gossip author may be several hops away).
// One binding per hotkey: a newer one (node key rotated, node restarted elsewhere) replaces the older.
import { verifyBinding, type BindingRecord } from '../../proto/binding.ts';
import { canonicalHotkey } from '../../proto/signer.ts';

export interface ValidatorInfo {
  hotkey: string;
  stake: bigint;
  /** Axon record from the metagraph; used as a bootstrap address (the axon port is the p2p port). */
  axon?: { ip: string; port: number };
}

export type AdmissionRefusal = 'bad-binding' | 'not-validator' | 'peer-mismatch' | 'superseded';

export type AdmissionResult =
  | { ok: true; changed: boolean }
  | { ok: false; reason: AdmissionRefusal; detail: string };

export class Admission {
  private validators = new Map<string, ValidatorInfo>();
  private byPeer = new Map<string, BindingRecord>();
  private byHotkey = new Map<string, string>();
  private byNodeKey = new Map<string, string>();

  /** Replaces the validator set; returns the peer ids whose binding no longer qualifies. */
  setValidatorSet(list: ValidatorInfo[], nowMs: number): string[] {
    const next = new Map<string, ValidatorInfo>();
    for (const v of list) {
      const hotkey = canonicalHotkey(v.hotkey);
      if (typeof v.stake !== 'bigint' || v.stake < 0n) throw new Error(`validator ${hotkey}: stake must be a non-negative bigint (rao)`);
      next.set(hotkey, { ...v, hotkey });
    }
    this.validators = next;
    return this.recheck(nowMs);
  }

  validatorList(): ValidatorInfo[] {
    return [...this.validators.values()];
  }

  isValidator(hotkey: string): boolean {
    try {
      return this.validators.has(canonicalHotkey(hotkey));
    } catch {
      return false;
    }
  }

  stakeOf(hotkey: string): bigint | undefined {
    return this.validators.get(hotkey)?.stake;
  }

  /**
   * Checks a binding (signature, window, peer id, membership) and records it when it qualifies.
   * `remotePeerId`, when given, is the peer the binding arrived from over an authenticated connection.
   */
  consider(record: BindingRecord, nowMs: number, remotePeerId?: string): AdmissionResult {
    const v = verifyBinding(record, nowMs, remotePeerId ? { peerId: remotePeerId } : {});
    if (!v.ok) {
      const reason: AdmissionRefusal = /expected/.test(v.reason) && remotePeerId && record.peerId !== remotePeerId ? 'peer-mismatch' : 'bad-binding';
      return { ok: false, reason, detail: v.reason };
    }
    const hotkey = canonicalHotkey(record.hotkey);
    if (!this.validators.has(hotkey)) {
      return { ok: false, reason: 'not-validator', detail: `hotkey ${hotkey} is not in the current validator set (no validator permit or stake below the minimum)` };
    }
    const prevPeer = this.byHotkey.get(hotkey);
    if (prevPeer !== undefined && prevPeer !== record.peerId) {
      const prev = this.byPeer.get(prevPeer);
      if (prev && prev.issuedAt > record.issuedAt) {
        return { ok: false, reason: 'superseded', detail: `hotkey ${hotkey} has a newer binding to peer ${prevPeer}` };
      }
      this.remove(prevPeer);
    }
    const existing = this.byPeer.get(record.peerId);
    if (existing && existing.issuedAt > record.issuedAt) return { ok: true, changed: false };
    const changed = !existing || existing.signature !== record.signature;
    if (existing && existing.hotkey !== hotkey) this.remove(record.peerId);
    this.byPeer.set(record.peerId, { ...record, hotkey });
    this.byHotkey.set(hotkey, record.peerId);
    this.byNodeKey.set(record.nodePublicKey, record.peerId);
    return { ok: true, changed };
  }

  /** Drops bindings that expired or whose hotkey left the validator set; returns their peer ids. */
  recheck(nowMs: number): string[] {
    const dropped: string[] = [];
    for (const [peerId, b] of this.byPeer) {
      if (!this.validators.has(b.hotkey) || nowMs >= b.expiresAt) {
        this.remove(peerId);
        dropped.push(peerId);
      }
    }
    return dropped;
  }

  private remove(peerId: string): void {
    const b = this.byPeer.get(peerId);
    if (!b) return;
    this.byPeer.delete(peerId);
    if (this.byHotkey.get(b.hotkey) === peerId) this.byHotkey.delete(b.hotkey);
    if (this.byNodeKey.get(b.nodePublicKey) === peerId) this.byNodeKey.delete(b.nodePublicKey);
  }

  isBound(peerId: string): boolean {
    return this.byPeer.has(peerId);
  }

  bindingOf(peerId: string): BindingRecord | undefined {
    return this.byPeer.get(peerId);
  }

  peerOfNodeKey(nodePublicKeyHex: string): string | undefined {
    return this.byNodeKey.get(nodePublicKeyHex);
  }

  bindings(): BindingRecord[] {
    return [...this.byPeer.values()];
  }
}

// Admission registry (pure): which libp2p peers speak for a validator hotkey.
//
// A peer is "bound" while we hold a valid, unexpired binding for it — signed by a hotkey in the
// current validator set, countersigned by the node key, scoped to this chain (genesis hash) and this
// subnet — whatever way it arrived (hello handshake, bindings topic, peer exchange). The rules of the
// registry are consensus/bindings.ts (BindingBook), shared with the simulator: one hotkey per node key
// (a relayed binding never displaces another hotkey's binding of the same node key; two countersigned
// bindings of one node key to two hotkeys are an equivocation, returned as a proof), one node key per
// hotkey (a later binding of the hotkey replaces the older: key rotation).
import { encodeBinding, type BindingRecord, type BindingScope } from '../../proto/binding.ts';
import type { EquivocationProof } from '../../proto/consensus.ts';
import { canonicalHotkey } from '../../proto/signer.ts';
import { BindingBook, type BindingRefusal } from '../../consensus/bindings.ts';

export interface ValidatorInfo {
  hotkey: string;
  stake: bigint;
  /** Axon record from the metagraph; used as a bootstrap address (the axon port is the p2p port). */
  axon?: { ip: string; port: number };
}

export type AdmissionRefusal = BindingRefusal;

export type AdmissionResult =
  | { ok: true; changed: boolean }
  | { ok: false; reason: AdmissionRefusal; detail: string; proof?: Extract<EquivocationProof, { kind: 'binding' }> };

export class Admission {
  private validators = new Map<string, ValidatorInfo>();
  private readonly book: BindingBook;
  private byPeer = new Map<string, string>();

  constructor(scope: BindingScope) {
    this.book = new BindingBook(scope);
  }

  get scope(): BindingScope {
    return this.book.scope;
  }

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
   * Checks a binding (signatures, scope, window, peer id, membership, the registry's rules) and records
   * it when it qualifies. `remotePeerId`, when given, is the peer the binding arrived from over an
   * authenticated connection.
   */
  consider(record: BindingRecord, nowMs: number, remotePeerId?: string): AdmissionResult {
    // The binding held for this node key, presented again (every hello's peer exchange repeats the
    // known ones: ~N^2 copies while a mesh of N forms): its signatures were checked when it was stored,
    // and of the other checks only expiry and membership can change.
    const held = this.book.ofNodeKey(record.nodePublicKey);
    if (held && nowMs < held.expiresAt && (remotePeerId === undefined || remotePeerId === held.peerId) && this.validators.has(held.hotkey) && sameBinding(held, record)) {
      return { ok: true, changed: false };
    }
    const v = this.book.consider(record, nowMs, { isValidator: (h) => this.validators.has(h), remotePeerId });
    if (!v.ok) return { ok: false, reason: v.reason, detail: v.detail, ...(v.proof ? { proof: v.proof } : {}) };
    this.reindex();
    return { ok: true, changed: v.changed };
  }

  /** Drops bindings that expired or whose hotkey left the validator set; returns their peer ids. */
  recheck(nowMs: number): string[] {
    const dropped = this.book.recheck(nowMs, (h) => this.validators.has(h)).map((b) => b.peerId);
    this.reindex();
    return dropped;
  }

  private reindex(): void {
    this.byPeer = new Map(this.book.all().map((b) => [b.peerId, b.nodePublicKey]));
  }

  isBound(peerId: string): boolean {
    return this.byPeer.has(peerId);
  }

  bindingOf(peerId: string): BindingRecord | undefined {
    const node = this.byPeer.get(peerId);
    return node === undefined ? undefined : this.book.ofNodeKey(node);
  }

  bindingOfNodeKey(nodePublicKeyHex: string): BindingRecord | undefined {
    return this.book.ofNodeKey(nodePublicKeyHex);
  }

  peerOfNodeKey(nodePublicKeyHex: string): string | undefined {
    return this.book.ofNodeKey(nodePublicKeyHex)?.peerId;
  }

  bindings(): BindingRecord[] {
    return this.book.all();
  }
}

/** Same signed content (the stored copy has its hotkey in canonical form). */
function sameBinding(held: BindingRecord, b: BindingRecord): boolean {
  if (held.signature !== b.signature || held.nodePublicKey !== b.nodePublicKey || held.peerId !== b.peerId) return false;
  try {
    return bytesEqual(encodeBinding(held), encodeBinding({ ...b, hotkey: canonicalHotkey(b.hotkey) }));
  } catch {
    return false;
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

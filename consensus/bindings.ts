// The binding registry's rules (pure): which hotkey a node key speaks for. Used by the p2p admission
// table (node/p2p/admission.ts) and by the simulator, so both apply exactly these rules.
//
//   - A binding counts only if both signatures verify (hotkey and node-key countersignature), it is
//     inside its validity window, and it is scoped to this chain (genesis hash) and subnet (netuid).
//   - One hotkey per node key: a binding never displaces another hotkey's binding of the same node
//     key, whoever relays it and however recent its issuedAt. Two valid bindings of one node key to
//     two hotkeys with overlapping validity are an equivocation of that node key: the second is
//     refused and the pair is returned as a portable proof (EquivocationProof kind 'binding').
//   - One node key per hotkey: a hotkey that re-binds to a new node key (key rotation, node moved)
//     replaces its older binding when the new one is issued later; an older one is 'superseded'.
import { bindingsOverlap, normaliseGenesisHash, verifyBinding, type BindingRecord, type BindingScope } from '../proto/binding.ts';
import type { EquivocationProof } from '../proto/consensus.ts';
import { canonicalHotkey } from '../proto/signer.ts';

export type BindingRefusal = 'bad-binding' | 'wrong-scope' | 'not-validator' | 'peer-mismatch' | 'superseded' | 'node-key-taken';

export type BindingVerdict =
  | { ok: true; changed: boolean; replaced: BindingRecord | null }
  | { ok: false; reason: BindingRefusal; detail: string; proof?: Extract<EquivocationProof, { kind: 'binding' }> };

export interface ConsiderOptions {
  isValidator: (hotkey: string) => boolean;
  /** The authenticated peer the binding arrived from in a handshake (its own binding), if any. */
  remotePeerId?: string;
  /** Verify signatures (default true); a caller that already verified this exact record may skip it. */
  verify?: (record: BindingRecord, nowMs: number) => { ok: true } | { ok: false; reason: string };
}

export class BindingBook {
  readonly scope: BindingScope;
  private readonly byNode = new Map<string, BindingRecord>();
  private readonly byHotkey = new Map<string, string>();

  constructor(scope: BindingScope) {
    this.scope = { genesisHash: normaliseGenesisHash(scope.genesisHash), netuid: scope.netuid };
  }

  consider(record: BindingRecord, nowMs: number, o: ConsiderOptions): BindingVerdict {
    if (record.genesisHash !== this.scope.genesisHash) {
      return { ok: false, reason: 'wrong-scope', detail: `binding is for chain ${String(record.genesisHash).slice(0, 16)}…, this mesh runs on chain ${this.scope.genesisHash.slice(0, 16)}… (replayed from another chain?)` };
    }
    if (record.netuid !== this.scope.netuid) {
      return { ok: false, reason: 'wrong-scope', detail: `binding is for netuid ${record.netuid}, this mesh is netuid ${this.scope.netuid} (replayed from another subnet?)` };
    }
    const v = o.verify ? o.verify(record, nowMs) : verifyBinding(record, nowMs, { scope: this.scope, ...(o.remotePeerId ? { peerId: o.remotePeerId } : {}) });
    if (!v.ok) {
      const reason: BindingRefusal = o.remotePeerId && record.peerId !== o.remotePeerId ? 'peer-mismatch' : 'bad-binding';
      return { ok: false, reason, detail: v.reason };
    }
    const hotkey = canonicalHotkey(record.hotkey);
    if (!o.isValidator(hotkey)) {
      return { ok: false, reason: 'not-validator', detail: `hotkey ${hotkey} is not in the current validator set (no validator permit or stake below the minimum)` };
    }
    const sameKey = this.byNode.get(record.nodePublicKey);
    if (sameKey && sameKey.hotkey !== hotkey) {
      if (nowMs < sameKey.expiresAt && bindingsOverlap(sameKey, record)) {
        return {
          ok: false,
          reason: 'node-key-taken',
          detail: `node key ${record.nodePublicKey.slice(0, 16)}… is bound to ${sameKey.hotkey}; a binding to ${hotkey} never displaces it (both are countersigned by the node key: equivocation)`,
          proof: { kind: 'binding', a: sameKey, b: { ...record, hotkey } },
        };
      }
      // the other hotkey's binding has expired (or never overlapped): the node key moved on
      this.remove(record.nodePublicKey);
    }
    const prevNode = this.byHotkey.get(hotkey);
    let replaced: BindingRecord | null = null;
    if (prevNode !== undefined && prevNode !== record.nodePublicKey) {
      const prev = this.byNode.get(prevNode)!;
      if (prev.issuedAt >= record.issuedAt) {
        return { ok: false, reason: 'superseded', detail: `hotkey ${hotkey} has a binding issued later, to node key ${prevNode.slice(0, 16)}…` };
      }
      replaced = prev;
      this.remove(prevNode);
    }
    const existing = this.byNode.get(record.nodePublicKey);
    if (existing && existing.issuedAt > record.issuedAt) return { ok: true, changed: false, replaced: null };
    const changed = !existing || existing.signature !== record.signature;
    this.byNode.set(record.nodePublicKey, { ...record, hotkey });
    this.byHotkey.set(hotkey, record.nodePublicKey);
    return { ok: true, changed, replaced };
  }

  /** Drops bindings that expired or whose hotkey is no longer a validator; returns them. */
  recheck(nowMs: number, isValidator: (hotkey: string) => boolean): BindingRecord[] {
    const dropped: BindingRecord[] = [];
    for (const [node, b] of this.byNode) {
      if (!isValidator(b.hotkey) || nowMs >= b.expiresAt) {
        this.remove(node);
        dropped.push(b);
      }
    }
    return dropped;
  }

  remove(nodePublicKey: string): void {
    const b = this.byNode.get(nodePublicKey);
    if (!b) return;
    this.byNode.delete(nodePublicKey);
    if (this.byHotkey.get(b.hotkey) === nodePublicKey) this.byHotkey.delete(b.hotkey);
  }

  ofNodeKey(nodePublicKey: string): BindingRecord | undefined {
    return this.byNode.get(nodePublicKey);
  }

  nodeKeyOf(hotkey: string): string | undefined {
    return this.byHotkey.get(hotkey);
  }

  all(): BindingRecord[] {
    return [...this.byNode.values()];
  }
}

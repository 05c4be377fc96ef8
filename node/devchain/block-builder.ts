// One block's state transition, over an overlay of the state at the head: the chain clock,
// subtensor's block step (reveals of timelocked commits, epoch schedule), every pooled extrinsic in
// order (stale nonce or past its mortality: dropped; each dispatched in its own layer, so a failed
// call leaves only its nonce bump), then the dev beacon's pulses, System.Number and System.Events.
import { storageKey, encodeValue, decodeValue, type ChainMeta } from './metadata.ts';
import { accountInfo } from './genesis.ts';
import type { CheckedExtrinsic } from './extrinsic.ts';
import { ModuleError, Store, encodeEventRecords, successEvent, failedEvent, otherFailedEvent, INITIALIZATION, type EncodedEvent, type Overlay } from './runtime.ts';
import { blockStep, dispatch } from './dispatch.ts';
import { publishDevPulses } from './pallets/drand.ts';

/** `writes` layered over `base`: reads see the writes first, prefix scans merge both (deletions included). */
export function layered(base: { get(k: string): string | null; keys(prefix: string): string[] }, writes: Map<string, string | null>): Overlay {
  return {
    get: (k) => (writes.has(k) ? writes.get(k)! : base.get(k)),
    set: (k, v) => void writes.set(k, v),
    keys: (prefix) => {
      const set = new Set(base.keys(prefix));
      for (const [k, v] of writes) {
        if (!k.startsWith(prefix)) continue;
        if (v === null) set.delete(k);
        else set.add(k);
      }
      return [...set].sort();
    },
  };
}

export interface BlockInput {
  meta: ChainMeta;
  /** the new block's number */
  n: number;
  /** the block's writes so far (pending admin writes); every write of the block lands here */
  overlay: Map<string, string | null>;
  /** `overlay` layered over the state at the head */
  ov: Overlay;
  pool: readonly CheckedExtrinsic[];
  /** called once the pool has been applied (before the pulses), as the pool is then spent */
  poolSpent: () => void;
  slotMs: number;
  /** the dev drand beacon's secret (null: pulses come from outside) */
  beaconSecret: Uint8Array | null;
  log: (line: string) => void;
}

/** Applies block `n` to `overlay`; which pooled extrinsics it included and which it dropped. */
export function buildBlock(x: BlockInput): { included: CheckedExtrinsic[]; dropped: CheckedExtrinsic[] } {
  const { meta, n, overlay, ov } = x;
  const store = new Store(meta, ov);
  const nowMs = Number(store.readDefault('timestamp', 'now').toString()) + x.slotMs;
  store.write('timestamp', 'now', [], nowMs);
  const records: { extrinsic: number; event: EncodedEvent }[] = [];
  const step = blockStep(meta, ov, n, x.log);
  for (const e of step.events) records.push({ extrinsic: INITIALIZATION, event: e });
  const included: CheckedExtrinsic[] = [];
  const dropped: CheckedExtrinsic[] = [];
  for (const tx of x.pool) {
    const accKey = storageKey(meta, 'system', 'account', tx.who);
    const accRaw = ov.get(accKey);
    const acc = accRaw === null ? accountInfo(0, 0n) : (decodeValue(meta, 'system', 'account', accRaw).toJSON() as unknown as ReturnType<typeof accountInfo>);
    if (n > tx.deathBlock || Number(acc.nonce) !== tx.nonce) {
      dropped.push(tx);
      continue;
    }
    const idx = included.length;
    included.push(tx);
    overlay.set(accKey, encodeValue(meta, 'system', 'account', { ...acc, nonce: Number(acc.nonce) + 1 }));
    const sub = new Map<string, string | null>();
    const subOv = layered(ov, sub);
    try {
      const events = dispatch(meta, subOv, tx.who, n, tx.call);
      for (const [k, v] of sub) overlay.set(k, v);
      for (const e of events) records.push({ extrinsic: idx, event: e });
      records.push({ extrinsic: idx, event: successEvent(meta) });
    } catch (err) {
      if (err instanceof ModuleError) records.push({ extrinsic: idx, event: failedEvent(meta, err) });
      else {
        x.log(`devchain: ${tx.call.section}.${tx.call.method} from ${tx.who} failed unexpectedly: ${(err as Error).message}`);
        records.push({ extrinsic: idx, event: otherFailedEvent(meta) });
      }
    }
  }
  x.poolSpent();
  if (x.beaconSecret) publishDevPulses(store, x.beaconSecret, nowMs);
  overlay.set(storageKey(meta, 'system', 'number'), encodeValue(meta, 'system', 'number', n));
  const evKey = storageKey(meta, 'system', 'events');
  overlay.set(evKey, records.length ? encodeEventRecords(records) : null);
  return { included, dropped };
}

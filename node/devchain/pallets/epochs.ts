// The subnet epoch schedule as subtensor runs it each block (coinbase/run_coinbase.rs drain_pending,
// should_run_epoch, weights.rs current_epoch_with_lookahead): stateful where the metadata has
// LastEpochBlock (spec >= 423), the legacy modulo index otherwise. The rules themselves are the client's
// (node/chain/epoch-schedule.ts), so the devchain and the client cannot drift apart. No per-block cap
// (MaxEpochsPerBlock): the devchain's few subnets never hit it. Yuma itself does not run.
import { epochAt, legacyEpochIndex, shouldRun, type EpochState } from '../../chain/epoch-schedule.ts';
import { storagePrefix } from '../metadata.ts';
import type { Store } from '../runtime.ts';

export function stateful(s: Store): boolean {
  return s.has('subtensorModule', 'lastEpochBlock');
}

export function epochState(s: Store, netuid: number): EpochState {
  return {
    tempo: s.num('subtensorModule', 'tempo', netuid),
    lastEpochBlock: s.num('subtensorModule', 'lastEpochBlock', netuid),
    pendingEpochAt: s.num('subtensorModule', 'pendingEpochAt', netuid),
    subnetEpochIndex: s.num('subtensorModule', 'subnetEpochIndex', netuid),
    blocksSinceLastStep: s.num('subtensorModule', 'blocksSinceLastStep', netuid),
  };
}

/** current_epoch_with_lookahead at block `b` with the state as it is now (before or after the block's drain). */
export function currentEpoch(s: Store, netuid: number, b: number): number {
  if (!stateful(s)) return legacyEpochIndex(b, s.num('subtensorModule', 'tempo', netuid), netuid);
  return epochAt(epochState(s, netuid), b);
}

/** Every subnet (NetworksAdded keys). */
export function subnets(s: Store): number[] {
  const prefix = storagePrefix(s.meta, 'subtensorModule', 'networksAdded');
  return s.ov.keys(prefix).map((k) => {
    const b = k.slice(-4);
    return parseInt(b.slice(0, 2), 16) | (parseInt(b.slice(2, 4), 16) << 8);
  }).sort((a, b) => a - b);
}

/** drain_pending's schedule part for one subnet at block `b`: count the block, fire the epoch when due. */
export function advanceSchedule(s: Store, netuid: number, b: number): boolean {
  if (!stateful(s)) return false;
  const st = epochState(s, netuid);
  const bsls = st.blocksSinceLastStep + 1;
  if (!shouldRun({ ...st, blocksSinceLastStep: bsls }, b)) {
    s.write('subtensorModule', 'blocksSinceLastStep', [netuid], bsls);
    return false;
  }
  s.write('subtensorModule', 'blocksSinceLastStep', [netuid], 0);
  s.write('subtensorModule', 'lastEpochBlock', [netuid], b);
  s.write('subtensorModule', 'pendingEpochAt', [netuid], 0);
  s.write('subtensorModule', 'subnetEpochIndex', [netuid], st.subnetEpochIndex + 1);
  return true;
}

// Routes the calls the devchain runs to their pallet code: the pool's validity checks (what current
// subtensor's SubtensorTransactionExtension refuses before inclusion, as "Custom error: N"), dispatch
// inside a block, and the per-block hook (subtensor's block_step: reveal timelocked commits, then advance
// every subnet's epoch schedule).
import type { ChainMeta } from './metadata.ts';
import { ModuleError, Store, type CallInput, type EncodedEvent, type Overlay } from './runtime.ts';
import { setCommitment } from './pallets/commitments.ts';
import { serveAxon, validateServeAxon } from './pallets/serving.ts';
import { commitTimelocked, revealCommits, setWeights, validateCommit, MAX_COMMIT_BYTES } from './pallets/weights.ts';
import { advanceSchedule, subnets } from './pallets/epochs.ts';

/** subtensor's CustomTransactionError code for a pallet error refused at the pool (common/src/transaction_error.rs). */
const CUSTOM_CODE: Record<string, number> = {
  HotKeyNotRegisteredInNetwork: 10, InvalidIpAddress: 11, ServingRateLimitExceeded: 12, InvalidPort: 13, InvalidRevealRound: 15,
  HotKeyNotRegisteredInSubNet: 19, CommittingWeightsTooFast: 6, SettingWeightsTooFast: 6, NotEnoughStakeToSetWeights: 1,
};

/** A refusal by the pool: InvalidTransaction::Custom(code) (or a decode failure when `decode` is set). */
export class PoolRefusal extends Error {
  readonly code: number | null;
  constructor(name: string, code: number | null) {
    super(name);
    this.name = 'PoolRefusal';
    this.code = code;
  }
}

/** The pool's checks for `call` signed by `who`, as if included in block `block`. Throws PoolRefusal. */
export function validate(meta: ChainMeta, ov: Overlay, who: string, block: number, call: CallInput): void {
  const s = new Store(meta, ov);
  const id = `${call.section}.${call.method}`;
  try {
    if (id === 'subtensorModule.serveAxon') validateServeAxon(s, who, block, call.args);
    if (id === 'subtensorModule.commitTimelockedWeights' || id === 'subtensorModule.commitTimelockedMechanismWeights') {
      if ((call.args.commit as { toU8a(raw: boolean): Uint8Array }).toU8a(true).length > MAX_COMMIT_BYTES) throw new PoolRefusal('commit longer than MAX_CRV3_COMMIT_SIZE_BYTES', null);
      validateCommit(s, call.args);
    }
  } catch (err) {
    if (err instanceof ModuleError) throw new PoolRefusal(err.errorName, CUSTOM_CODE[err.errorName] ?? 255);
    throw err;
  }
}

/** Applies one call for `who` at block `block`; returns the call's own events or throws ModuleError. */
export function dispatch(meta: ChainMeta, ov: Overlay, who: string, block: number, call: CallInput): EncodedEvent[] {
  const s = new Store(meta, ov);
  const id = `${call.section}.${call.method}`;
  if (id === 'commitments.setCommitment') return setCommitment(s, who, block, call.args);
  if (id === 'subtensorModule.setWeights') return setWeights(s, who, block, call.args);
  if (id === 'subtensorModule.serveAxon') return serveAxon(s, who, block, call.args);
  if (id === 'subtensorModule.commitTimelockedWeights' || id === 'subtensorModule.commitTimelockedMechanismWeights') return commitTimelocked(s, who, block, call.args);
  throw new Error(`call ${id} is not supported by the devchain`);
}

/** subtensor's block_step for block `block` (on_initialize): reveals, then the epoch schedule of every subnet. */
export function blockStep(meta: ChainMeta, ov: Overlay, block: number, log?: (l: string) => void): { events: EncodedEvent[]; fired: number[] } {
  const s = new Store(meta, ov);
  const events: EncodedEvent[] = [];
  const nets = subnets(s);
  for (const netuid of nets) events.push(...revealCommits(s, netuid, block, log));
  const fired = nets.filter((netuid) => advanceSchedule(s, netuid, block));
  return { events, fired };
}

// Subtensor's epoch schedule, pure. Since spec 423 epochs are stateful: an epoch fires at block b when
// `PendingEpochAt > 0 && b >= PendingEpochAt`, or `BlocksSinceLastStep > MAX_TEMPO`, or
// `b - LastEpochBlock >= Tempo`; firing sets LastEpochBlock = b, PendingEpochAt = 0,
// SubnetEpochIndex += 1, BlocksSinceLastStep = 0 (subtensor run_coinbase.rs should_run_epoch /
// drain_pending). Commits and reveals are keyed by the epoch index "with look-ahead". Older runtimes use
// the legacy modulo rule. The per-block cap (MaxEpochsPerBlock) can defer a due epoch by a block; that is
// visible on chain as PendingEpochAt and so in the next read.

/** subtensor MAX_TEMPO: BlocksSinceLastStep above it forces an epoch. */
export const MAX_TEMPO = 50_400;

export interface EpochState {
  tempo: number;
  lastEpochBlock: number;
  pendingEpochAt: number;
  subnetEpochIndex: number;
  blocksSinceLastStep: number;
}

/** The subnet's schedule as read at one block (`block`, after that block was executed). */
export type EpochSchedule =
  | ({ model: 'stateful'; netuid: number; block: number } & EpochState)
  | { model: 'legacy'; netuid: number; block: number; tempo: number };

export function shouldRun(s: EpochState, b: number): boolean {
  if (s.tempo === 0) return false;
  if (s.pendingEpochAt > 0 && b >= s.pendingEpochAt) return true;
  if (s.blocksSinceLastStep > MAX_TEMPO) return true;
  return b - s.lastEpochBlock >= s.tempo;
}

/** The epoch index a commit or reveal in block `b` belongs to (current_epoch_with_lookahead). */
export function epochAt(s: EpochState, b: number): number {
  return s.subnetEpochIndex + (shouldRun(s, b) ? 1 : 0);
}

/** The state after block `b` executes. */
export function step(s: EpochState, b: number): EpochState {
  const next = { ...s, blocksSinceLastStep: s.blocksSinceLastStep + 1 };
  if (!shouldRun(next, b)) return next;
  return { ...next, lastEpochBlock: b, pendingEpochAt: 0, subnetEpochIndex: s.subnetEpochIndex + 1, blocksSinceLastStep: 0 };
}

/** Legacy (spec < 423) epoch index of block b: (b + netuid + 1) div (tempo + 1). */
export function legacyEpochIndex(b: number, tempo: number, netuid: number): number {
  return Math.floor((b + netuid + 1) / (tempo + 1));
}

/** Legacy first block of epoch e: e·(tempo + 1) − (netuid + 1). */
export function legacyEpochFirstBlock(e: number, tempo: number, netuid: number): number {
  return e * (tempo + 1) - (netuid + 1);
}

/**
 * The block the current run (epoch) of the schedule started at, or null when the subnet has had no
 * epoch boundary yet (a young chain on the legacy rule: block < first boundary). Stateful: the block the
 * last epoch fired at (LastEpochBlock; at registration subtensor seeds it with the registration block).
 */
export function runStart(s: EpochSchedule): number | null {
  if (s.model === 'stateful') return s.lastEpochBlock;
  const start = legacyEpochFirstBlock(legacyEpochIndex(s.block, s.tempo, s.netuid), s.tempo, s.netuid);
  return start >= 0 ? start : null;
}

/** The block the next epoch is expected to fire at (stateful: min(LastEpochBlock + tempo, PendingEpochAt)). */
export function nextEpochAt(s: EpochSchedule): number {
  if (s.model === 'stateful') {
    const auto = s.lastEpochBlock + s.tempo;
    return s.pendingEpochAt > 0 ? Math.min(auto, s.pendingEpochAt) : auto;
  }
  return legacyEpochFirstBlock(legacyEpochIndex(s.block, s.tempo, s.netuid) + 1, s.tempo, s.netuid);
}

export class EpochScheduleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EpochScheduleError';
  }
}

/**
 * Where a timelocked commit sent now lands and when it is revealed: the commit goes into block h + 1
 * (h = the block the schedule was read at); its epoch is the look-ahead index there; the chain reveals it
 * at the first block whose look-ahead index is commitEpoch + revealPeriodEpochs (bittensor-drand
 * epoch_schedule, generate_commit_v2).
 */
export function commitTiming(s: EpochSchedule, revealPeriodEpochs: number): { commitBlock: number; commitEpoch: number; revealEpoch: number; firstRevealBlock: number } {
  if (s.tempo === 0) throw new EpochScheduleError(`subnet ${s.netuid} has tempo 0: its epochs never run, so a commit would never be revealed`);
  if (!Number.isInteger(revealPeriodEpochs) || revealPeriodEpochs < 0) throw new EpochScheduleError(`RevealPeriodEpochs ${revealPeriodEpochs} is not a non-negative integer`);
  const x = s.block + 1;
  if (s.model === 'legacy') {
    const commitEpoch = legacyEpochIndex(x, s.tempo, s.netuid);
    const revealEpoch = commitEpoch + revealPeriodEpochs;
    return { commitBlock: x, commitEpoch, revealEpoch, firstRevealBlock: Math.max(x, legacyEpochFirstBlock(revealEpoch, s.tempo, s.netuid)) };
  }
  let st: EpochState = s;
  const commitEpoch = epochAt(st, x);
  const revealEpoch = commitEpoch + revealPeriodEpochs;
  // at most (revealPeriod + 1) epochs of at most MAX_TEMPO + 1 blocks each
  const bound = x + (revealPeriodEpochs + 1) * (Math.max(s.tempo, 1) + 1) + MAX_TEMPO + 2;
  for (let b = x; b <= bound; b++) {
    if (epochAt(st, b) === revealEpoch) return { commitBlock: x, commitEpoch, revealEpoch, firstRevealBlock: b };
    st = step(st, b);
  }
  throw new EpochScheduleError(`no reveal block for epoch ${revealEpoch} within ${bound - x} blocks of block ${x}`);
}

// A run's commit and reveal windows, derived from the subnet's tempo (pure). A run starts when the
// subnet's epoch fires (its runId is that block) and should end before the next one: report hashes are
// committed during the commit window, reports are published and collected during the reveal window, and
// what is left of the epoch (the tail) is for consensus and weights. With `consensus.commit_window_blocks`
// / `reveal_window_blocks` = 0 the windows are 5/12 and 1/6 of the tempo (150 and 60 blocks at finney's
// 360); explicit values are kept only if they fit.

export interface WindowConfig {
  commitWindowBlocks: number;
  revealWindowBlocks: number;
}

export interface RunWindows {
  commitBlocks: number;
  revealBlocks: number;
  /** 'config' when both came from the config, 'tempo' when derived */
  source: 'config' | 'tempo';
}

/** Blocks an epoch must keep after the reveal window for consensus and weights: a tenth of it, at least 1. */
export function minTail(tempo: number): number {
  return Math.max(1, Math.ceil(tempo / 10));
}

export function derivedWindows(tempo: number): RunWindows {
  return { commitBlocks: Math.max(1, Math.floor((tempo * 5) / 12)), revealBlocks: Math.max(1, Math.floor(tempo / 6)), source: 'tempo' };
}

/**
 * The windows a run of a subnet with `tempo` uses, or why the configured ones do not fit (a message that
 * names the numbers and the fix). A tempo too small for any window (< 3) is refused too.
 */
export function runWindows(tempo: number, c: WindowConfig): { ok: true; windows: RunWindows } | { ok: false; reason: string } {
  if (!Number.isInteger(tempo) || tempo < 3) {
    return { ok: false, reason: `the subnet's tempo is ${tempo} blocks: a run needs at least 3 (a commit window, a reveal window and a block for consensus and weights)` };
  }
  const derived = derivedWindows(tempo);
  const commit = c.commitWindowBlocks || derived.commitBlocks;
  const reveal = c.revealWindowBlocks || derived.revealBlocks;
  const tail = minTail(tempo);
  if (commit + reveal + tail > tempo) {
    return {
      ok: false,
      reason: `consensus.commit_window_blocks (${commit}) + consensus.reveal_window_blocks (${reveal}) + ${tail} blocks for consensus and weights = ${commit + reveal + tail} > the subnet's tempo of ${tempo} blocks: the run would spill into the next epoch. `
        + `Set them so that commit + reveal <= ${tempo - tail} (e.g. ${derived.commitBlocks} and ${derived.revealBlocks}), or to 0 to derive them from the tempo.`,
    };
  }
  return { ok: true, windows: { commitBlocks: commit, revealBlocks: reveal, source: c.commitWindowBlocks || c.revealWindowBlocks ? 'config' : 'tempo' } };
}

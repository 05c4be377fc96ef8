// The chain deadline of a run's consensus and the view-fit check (node/validator/consensus-deadline.ts),
// on the windows the run loop derives from the tempo (node/validator/windows.ts).
import assert from 'node:assert/strict';
import { consensusBudget, consensusDeadlineBlock, fitWarning, quorumMissDue } from '../../node/validator/consensus-deadline.ts';
import { derivedWindows, runWindows } from '../../node/validator/windows.ts';
import { runTimeoutMs } from '../../consensus/pbft.ts';

const timing = (viewTimeoutMs: number) => ({ proposeDelayMs: 2000, viewTimeoutMs, maxBackoffExponent: 2 });

describe('consensus deadline (chain schedule bound on a run\'s consensus)', () => {
  it('finney (tempo 360, 12 s blocks, derived windows 150 + 60), 64 members, 30 s views: the chain deadline caps the 2.1 h of n views at one epoch', () => {
    const runId = 1_000;
    const w = derivedWindows(360);
    assert.deepEqual([w.commitBlocks, w.revealBlocks], [150, 60]);
    const revealEnd = runId + w.commitBlocks + w.revealBlocks;
    const b = consensusBudget({ revealEnd, nextRunAt: runId + 360, windows: w, blockTimeMs: 12_000, members: 64, timing: timing(30_000), configTimeoutMs: 600_000 });
    assert.equal(b.deadlineBlock, 1_360 + 210, 'the next run\'s reveal deadline');
    assert.equal(b.tailBlocks, 150);
    assert.equal(b.tailMs, 1_800_000, '30 min after the reveal window');
    assert.equal(b.viewsMs, 2_000 + 30_000 + 60_000 + 62 * 120_000, '≈ 2.1 h');
    assert.equal(b.timeoutMs, b.viewsMs);
    assert.equal(b.deadlineMs, 360 * 12_000, 'one epoch (72 min) after the reveal deadline');
    assert.equal(b.effectiveMs, 4_320_000);
    assert.equal(b.fits, false);
    assert.equal(b.maxViewTimeoutS, 7, '(1800 - 2) / (1 + 2 + 62 × 4) s');
    assert.ok(runTimeoutMs(timing(7_000), 64) <= b.tailMs && runTimeoutMs(timing(8_000), 64) > b.tailMs);
    const warn = fitWarning(b, 64, 30)!;
    assert.deepEqual(
      { n: warn.members, v: warn.viewTimeoutS, need: warn.secondsNeeded, have: warn.secondsAvailable, best: warn.largestViewTimeoutSThatFits },
      { n: 64, v: 30, need: 7532, have: 1800, best: 7 },
    );
    assert.match(String(warn.hint), /view_timeout_s <= 7/);
  });

  it('4 members, 30 s views fit the post-reveal time: no warning, and the n-views / configured bound stays in force', () => {
    const w = derivedWindows(360);
    const b = consensusBudget({ revealEnd: 210, nextRunAt: 360, windows: w, blockTimeMs: 12_000, members: 4, timing: timing(30_000), configTimeoutMs: 600_000 });
    assert.equal(b.viewsMs, 332_000);
    assert.equal(b.fits, true);
    assert.equal(fitWarning(b, 4, 30), null);
    assert.equal(b.effectiveMs, 600_000, 'min(chain deadline 72 min, max(600 s, 332 s))');
  });

  it('the deadline is one epoch after the reveal deadline for every tempo and window choice (stateful and legacy schedules)', () => {
    for (const tempo of [3, 10, 99, 360, 1000, 7200]) {
      for (const cfg of [{ commitWindowBlocks: 0, revealWindowBlocks: 0 }, { commitWindowBlocks: 1, revealWindowBlocks: 1 }]) {
        const rw = runWindows(tempo, cfg);
        assert.ok(rw.ok, `tempo ${tempo}`);
        const w = rw.windows;
        for (const [model, epochBlocks] of [['stateful', tempo], ['legacy', tempo + 1]] as const) {
          const runId = 5 * epochBlocks;
          const revealEnd = runId + w.commitBlocks + w.revealBlocks;
          const d = consensusDeadlineBlock(runId + epochBlocks, w);
          assert.equal(d - revealEnd, epochBlocks, `${model} tempo ${tempo}`);
          const b = consensusBudget({ revealEnd, nextRunAt: runId + epochBlocks, windows: w, blockTimeMs: 6_000, members: 16, timing: timing(10_000), configTimeoutMs: 60_000 });
          assert.equal(b.tailBlocks, epochBlocks - w.commitBlocks - w.revealBlocks);
          assert.equal(b.deadlineMs, epochBlocks * 6_000);
          assert.equal(b.fits, b.viewsMs <= b.tailMs);
          if (b.maxViewTimeoutS > 0) assert.ok(runTimeoutMs(timing(b.maxViewTimeoutS * 1000), 16) <= b.tailMs);
          assert.ok(runTimeoutMs(timing((b.maxViewTimeoutS + 1) * 1000), 16) > b.tailMs);
        }
      }
    }
  });

  it('a triggered epoch (the next run starts early) moves the deadline with it', () => {
    const w = derivedWindows(360);
    assert.equal(consensusDeadlineBlock(1_250, w), 1_250 + 210);
    const b = consensusBudget({ revealEnd: 1_210, nextRunAt: 1_250, windows: w, blockTimeMs: 12_000, members: 4, timing: timing(30_000), configTimeoutMs: 600_000 });
    assert.equal(b.tailMs, 40 * 12_000);
    assert.equal(b.fits, true, '332 s of views fit the 480 s left');
    const b64 = consensusBudget({ revealEnd: 1_210, nextRunAt: 1_250, windows: w, blockTimeMs: 12_000, members: 64, timing: timing(30_000), configTimeoutMs: 600_000 });
    assert.equal(b64.deadlineBlock, 1_460);
    assert.equal(b64.maxViewTimeoutS, 1, '(480 - 2) / 251 s');
  });

  it('quorum miss: at the deadline block whatever the elapsed time; after the timeout whatever the block; neither before', () => {
    const base = { deadlineBlock: 1_570, timeoutMs: 7_532_000 };
    assert.equal(quorumMissDue({ ...base, block: 1_569, elapsedMs: 4_000_000 }), null);
    assert.equal(quorumMissDue({ ...base, block: 1_570, elapsedMs: 4_320_000 }), 'chain-deadline');
    assert.equal(quorumMissDue({ ...base, block: 1_600, elapsedMs: 0 }), 'chain-deadline');
    assert.equal(quorumMissDue({ ...base, block: 1_300, elapsedMs: 7_532_001 }), 'timeout', 'a stalled chain still ends consensus');
    // negative control: the old rule (no chain deadline) keeps waiting at the chain deadline
    assert.equal(quorumMissDue({ ...base, deadlineBlock: Number.POSITIVE_INFINITY, block: 1_570, elapsedMs: 4_320_000 }), null);
  });
});

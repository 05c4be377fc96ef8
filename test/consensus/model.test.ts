// The Promela model of the finality protocol (consensus/model/pbft.pml), checked with spin: the fast
// run of `npm run model-check` — the exhaustive check with the Byzantine equivocating proposer in the
// last of three views (n = 4, f = 1; ~12 M states, ~45 s on an idle 2-core machine, ~2 GB) and the
// negative control without the highest-lock rule, which must be caught. The other two positions of
// the Byzantine proposer and the second control (prepare twice in a view) run in
// `npm run model-check` (~3.5 min, <= 3.2 GB per run): docs/consensus.md has the figures.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { modelCheck } from '../../tools/model-check.ts';

const available = ['spin', 'gcc'].every((c) => !spawnSync(c, [c === 'spin' ? '-V' : '--version']).error);

describe('finality protocol model (spin)', function () {
  this.timeout(300_000);

  before(function () {
    // .ci/run installs spin; a developer machine without it skips with the reason
    if (!available) this.skip();
  });

  it('finds no safety violation (exhaustive), and each control with one safety rule removed fails', () => {
    const s = modelCheck({ fast: true });
    const byName = new Map(s.runs.map((r) => [r.name, r]));
    const safe = byName.get('byzantine-proposer-view-2')!;
    assert.equal(safe.errors, 0, `violation: ${safe.violation}`);
    assert.ok(safe.states > 1_000_000, `the state space looks truncated: ${safe.states} states`);
    const c = byName.get('control-no-highest-lock')!;
    assert.ok(c.errors > 0, 'without the highest-lock rule the checker must find the violation');
    assert.match(c.violation ?? '', /decided/);
    assert.equal(s.ok, true);
  });
});

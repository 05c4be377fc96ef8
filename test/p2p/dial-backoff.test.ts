// Dial pacing: a failed target waits (doubling, capped, jittered) before the next dial; a success or an
// operator's unblock forgets the wait.
import assert from 'node:assert/strict';
import { DialBackoff } from '../../node/p2p/dial-backoff.ts';

describe('p2p dial backoff', () => {
  it('waits after a failure, doubling from the base to the cap', () => {
    const b = new DialBackoff({ baseMs: 5_000, maxMs: 60_000, jitter: 0 });
    assert.equal(b.may('a', 0), true, 'a target never dialed may be dialed');
    const waits = [1, 2, 3, 4, 5, 6, 7].map(() => b.failed('a', 0));
    assert.deepEqual(waits, [5_000, 10_000, 20_000, 40_000, 60_000, 60_000, 60_000]);
    assert.equal(b.may('a', 59_999), false);
    assert.equal(b.may('a', 60_000), true);
    assert.equal(b.may('b', 0), true, 'other targets are not held back');
  });

  it('a success forgets the failures; clear() forgets every wait', () => {
    const b = new DialBackoff({ baseMs: 1_000, jitter: 0 });
    b.failed('a', 0);
    b.failed('a', 0);
    b.succeeded('a');
    assert.equal(b.may('a', 0), true);
    assert.equal(b.failed('a', 0), 1_000, 'back to the base wait');
    b.failed('c', 0);
    b.clear();
    assert.equal(b.may('a', 0), true);
    assert.equal(b.may('c', 0), true);
  });

  it('jitter shortens the wait by at most its share, so nodes that failed together do not retry together', () => {
    const lo = new DialBackoff({ baseMs: 8_000, jitter: 0.25, random: () => 0.999999 });
    const hi = new DialBackoff({ baseMs: 8_000, jitter: 0.25, random: () => 0 });
    assert.equal(hi.failed('a', 0), 8_000);
    const w = lo.failed('a', 0);
    assert.ok(w >= 6_000 && w < 6_010, `wait ${w}`);
  });

  it('remembers a bounded number of targets (oldest forgotten first)', () => {
    const b = new DialBackoff({ capacity: 3, jitter: 0 });
    for (const k of ['a', 'b', 'c', 'd']) b.failed(k, 0);
    assert.equal(b.failuresOf('a'), 0);
    assert.equal(b.failuresOf('d'), 1);
  });
});

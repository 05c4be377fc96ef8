// Faults of the validator: retried with backoff, logged once per cause while they last, one line when
// they clear, and the final error is marked as logged so the run loop does not log it per miner.
import assert from 'node:assert/strict';
import { FaultLog, ValidatorFault, faultCause, withFaultRetry } from '../../node/validator/fault-retry.ts';
import { IntakeFault } from '../../runtime/intake-fault.ts';
import { ReviewError } from '../../runtime/review.ts';
import type { Logger } from '../../node/validator/ports.ts';

function recorder() {
  const lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => { lines.push({ level, msg, fields }); };
  const log: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { lines, log };
}

describe('node/validator/fault-retry', () => {
  it('retries a fault after each backoff delay, then throws a logged ValidatorFault', async () => {
    const { lines, log } = recorder();
    const faults = new FaultLog(log);
    let calls = 0;
    const t0 = Date.now();
    await assert.rejects(withFaultRetry(async () => { calls++; throw new IntakeFault('ENOSPC', 'disk full'); }, faults, { backoffMs: [30, 60] }),
      (err: unknown) => err instanceof ValidatorFault && err.logged && err.cause === 'intake:ENOSPC' && /after 3 attempts/.test(err.message));
    assert.equal(calls, 3);
    assert.ok(Date.now() - t0 >= 85);
    assert.equal(lines.filter((l) => l.level === 'error').length, 1);
  });

  it('logs a cause once across many callers, and once more when it clears', async () => {
    const { lines, log } = recorder();
    const faults = new FaultLog(log);
    for (let i = 0; i < 5; i++) {
      await assert.rejects(withFaultRetry(async () => { throw new ReviewError('docker: cannot connect'); }, faults, { backoffMs: [1] }));
    }
    assert.equal(lines.filter((l) => l.level === 'error').length, 1);
    let n = 0;
    assert.equal(await withFaultRetry(async () => { if (n++ === 0) throw new ReviewError('again'); return 7; }, faults, { backoffMs: [1] }), 7);
    const cleared = lines.filter((l) => l.msg === 'validator fault cleared');
    assert.equal(cleared.length, 1);
    assert.equal(cleared[0].fields?.cause, 'reviewer');
    assert.equal(cleared[0].fields?.occurrences, 11);
    assert.deepEqual(faults.activeCauses(), []);
  });

  it('stops retrying when the run is aborted', async () => {
    const { log } = recorder();
    const ac = new AbortController();
    let calls = 0;
    const p = withFaultRetry(async () => { calls++; if (calls === 1) setTimeout(() => ac.abort(), 10); throw new Error('sandbox error'); }, new FaultLog(log), { backoffMs: [10_000, 10_000], signal: ac.signal });
    const t0 = Date.now();
    await assert.rejects(p, ValidatorFault);
    assert.ok(Date.now() - t0 < 2_000);
    assert.equal(calls, 2);
  });

  it('names causes stably', () => {
    assert.equal(faultCause(new IntakeFault('EIO', 'x')), 'intake:EIO');
    assert.equal(faultCause(new ReviewError('x')), 'reviewer');
    assert.equal(faultCause(Object.assign(new Error('x'), { code: 'ENOSPC' })), 'error:ENOSPC');
    assert.equal(faultCause(new Error('sandbox error evaluating uid 3')), 'sandbox');
  });
});

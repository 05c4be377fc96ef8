// `npm run gpu-check` in its CPU form (no CUDA here: the same supervisor / fork server / worker code, the CI model
// on the CPU class, 20 steps): the honest submission passes every evaluation and the three attacks are rejected.
// Then the same check through the non-Docker launcher (runtime/sandbox-host.ts) the GPU form uses on a machine
// without Docker, with the image's python standing in for the host's, the supervisor not PID 1.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { runGpuCheck, probeHostCuda, GPU_CHECK_ATTACKS } from '../../bench/gpu-check.ts';
import { testImage, session, docker } from './helpers.ts';
import { reapSandboxContainers } from '../../runtime/sandbox.ts';

const WRAPPER = fileURLToPath(new URL('./python-in-image.sh', import.meta.url));

describe('gpu-check (CPU form: the CUDA path was not run here)', function () {
  this.timeout(900_000);
  before(async function () {
    this.timeout(600_000);
    await testImage();
    process.env.CONCLAVE_TEST_SESSION = session;
  });
  after(async () => { await reapSandboxContainers(docker, session); });

  it('picks the CPU form when the host has no CUDA, accepts the honest submission every time and rejects the attacks', async () => {
    const report = await runGpuCheck({ evaluations: 2, launcher: 'auto', python: ['python3'] });
    assert.equal(report.device, 'cpu');
    assert.equal(report.steps, 20);
    assert.deepEqual(report.honest.statuses, ['ok', 'ok'], report.honest.rejections.join('\n'));
    assert.ok(report.honest.mfu.every((m) => m > 0) && Number.isFinite(report.honest.cv));
    assert.deepEqual(report.attacks.map((a) => a.fixture), GPU_CHECK_ATTACKS.map(([f]) => f));
    for (const a of report.attacks) assert.ok(a.ok, `${a.fixture}: ${a.status} ${a.rejectedBy}`);
    assert.equal(report.ok, true);
  });

  it('runs through the non-Docker launcher too: supervisor as an ordinary process (subreaper), same verdicts', async () => {
    const python = [WRAPPER];
    const probe = probeHostCuda(python);
    assert.deepEqual(probe && { cuda: probe.cuda }, { cuda: false }, 'the stand-in python has torch and no CUDA');
    const report = await runGpuCheck({ evaluations: 2, launcher: 'host', python });
    assert.equal(report.launcher, 'host');
    assert.deepEqual(report.honest.statuses, ['ok', 'ok'], report.honest.rejections.join('\n'));
    for (const a of report.attacks) assert.ok(a.ok, `${a.fixture}: ${a.status} ${a.rejectedBy}`);
  });
});

// Orphaned sandbox containers: `conclave start` (SandboxEvaluatorPort.create with an owner) removes the
// containers its own earlier process left on the Docker engine, and only those: several validators
// may share one engine (the devnet runs four on one). Real Docker engine, real containers.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Dockerode from 'dockerode';
import { parseConfig } from '../../node/config.ts';
import { SandboxEvaluatorPort, sandboxOwner } from '../../node/validator/evaluator-adapter.ts';
import { jsonLogger } from '../../node/validator/ports.ts';
import { OWNER_LABEL, SANDBOX_LABEL } from '../../runtime/sandbox.ts';
import { CPU_IMAGE } from '../../runtime/sandbox-image.ts';
import { requireDockerForTests } from './devnet-helpers.ts';

const IMAGE = CPU_IMAGE;

describe('node: sandbox containers are reaped by owner at start', function () {
  this.timeout(120_000);
  const docker = new Dockerode();
  const created: string[] = [];
  let dir: string;

  /** A sandbox-labelled container (network none, like every sandbox container); `running` starts it. */
  async function leftover(labels: Record<string, string>, running: boolean): Promise<string> {
    const c = await docker.createContainer({
      Image: IMAGE, Entrypoint: ['python3', '-c', 'import time; time.sleep(300)'], User: '65534:65534',
      NetworkDisabled: true, Labels: { [SANDBOX_LABEL]: '1', ...labels },
      HostConfig: { NetworkMode: 'none', AutoRemove: false, Memory: 64 * 1024 * 1024, CapDrop: ['ALL'] },
    });
    created.push(c.id);
    if (running) await c.start();
    return c.id;
  }
  const exists = async (id: string) => (await docker.listContainers({ all: true, filters: { id: [id] } })).length === 1;

  before(async function () {
    if (!(await requireDockerForTests(IMAGE))) this.skip();
    dir = mkdtempSync(join(tmpdir(), 'conclave-reap-'));
  });

  after(async () => {
    for (const id of created) await docker.getContainer(id).remove({ force: true }).catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('owner ids differ by hotkey and by data directory', () => {
    const hk = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY';
    assert.equal(sandboxOwner(hk, '/a/b'), sandboxOwner(hk, '/a/b/'));
    assert.notEqual(sandboxOwner(hk, '/a/b'), sandboxOwner(hk, '/a/c'));
    assert.notEqual(sandboxOwner(hk, '/a/b'), sandboxOwner('5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty', '/a/b'));
    assert.ok(sandboxOwner(hk, '/a/b').startsWith(`${hk}.`));
  });

  it('removes this validator\'s leftovers (running or not) and leaves other owners\' and unowned ones', async () => {
    const tag = randomBytes(4).toString('hex');
    const mine = `validator-me-${tag}`;
    const other = `validator-other-${tag}`;
    const mineRunning = await leftover({ [OWNER_LABEL]: mine }, true);
    const mineCreated = await leftover({ [OWNER_LABEL]: mine }, false);
    const othersRunning = await leftover({ [OWNER_LABEL]: other }, true);
    const unowned = await leftover({}, false);
    for (const id of [mineRunning, mineCreated, othersRunning, unowned]) assert.ok(await exists(id));

    const lines: string[] = [];
    const cfg = parseConfig(`[chain]\nendpoint = "ws://127.0.0.1:9"\n[node]\ndata_dir = "${dir}"\n`, { env: {} });
    const port = await SandboxEvaluatorPort.create(cfg, jsonLogger('warn', {}, (l) => lines.push(l)), { reviewEngine: 'host', owner: mine });
    await port.close();

    assert.equal(await exists(mineRunning), false, 'own running leftover removed');
    assert.equal(await exists(mineCreated), false, 'own created leftover removed');
    assert.equal(await exists(othersRunning), true, 'another validator\'s container is left alone');
    assert.equal(await exists(unowned), true, 'an unowned sandbox container is left alone');
    const warn = lines.map((l) => JSON.parse(l)).find((l) => /left by an earlier run/.test(l.msg));
    assert.equal(warn?.containers, 2);
  });
});

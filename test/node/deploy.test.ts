// deploy/: the systemd unit verifies with systemd itself and is hardened (measured with
// `systemd-analyze security`); the compose file is valid for docker-compose (`config`) and wires a
// subtensor lite node next to the validator the way the node needs it; the Dockerfile builds from
// paths that exist. No image is pulled or built here (no registry is reachable): the compose file's
// syntax and schema are checked by docker-compose itself, its structure by this test.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCHEMA } from '../../node/config.ts';
import { START_OPTIONS } from '../../node/commands/start.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const UNIT = join(ROOT, 'deploy/systemd/conclave.service');
const COMPOSE = join(ROOT, 'deploy/docker-compose.yml');
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

function need(cmd: string, pkg: string): void {
  const r = spawnSync(cmd, ['--version'], { encoding: 'utf8' });
  assert.ok(!r.error, `${cmd} is needed for this test (Debian package ${pkg}; .ci/run installs it): ${r.error?.message}`);
}

type Vol = { source: string; target: string; read_only: boolean };
type Port = { target: number; host: string };
/** docker-compose v1 prints short syntax ("src:dst:ro", "127.0.0.1:8080:8080/tcp"), v2 the long one: read both. */
function volume(v: string | { source: string; target: string; read_only?: boolean }): Vol {
  if (typeof v !== 'string') return { source: v.source, target: v.target, read_only: Boolean(v.read_only) };
  const [source, target, mode] = v.split(':');
  return { source, target, read_only: mode === 'ro' };
}
function port(p: string | { target: number; host_ip?: string }): Port {
  if (typeof p !== 'string') return { target: Number(p.target), host: p.host_ip ?? '0.0.0.0' };
  const parts = p.replace(/\/(tcp|udp)$/, '').split(':');
  return { target: Number(parts.at(-1)), host: parts.length === 3 ? parts[0] : '0.0.0.0' };
}

describe('deploy/: systemd unit, docker-compose, Dockerfile', function () {
  this.timeout(60_000);
  let tmp: string;
  before(() => { tmp = mkdtempSync(join(tmpdir(), 'conclave-deploy-')); });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('systemd unit: systemd-analyze verify is silent; restart policy; hardened with the Docker socket as the only privilege', () => {
    need('systemd-analyze', 'systemd');
    const text = readFileSync(UNIT, 'utf8');
    const directives = new Map<string, string[]>();
    for (const line of text.split('\n')) {
      const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
      if (m) directives.set(m[1], [...(directives.get(m[1]) ?? []), m[2]]);
    }
    const one = (k: string) => directives.get(k)?.at(-1);
    // the binary path is the install location; verify against this checkout's launcher instead
    const exec = one('ExecStart')!;
    assert.match(exec, /^\/opt\/conclave\/bin\/conclave start --config \/etc\/conclave\/validator\.toml$/);
    const copy = join(tmp, 'conclave.service');
    writeFileSync(copy, text.replace(/^ExecStart=\/opt\/conclave\/bin\/conclave/m, `ExecStart=${join(ROOT, 'bin/conclave')}`));
    const v = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stderr);
    assert.equal((v.stdout + v.stderr).trim(), '', 'no unknown or malformed directive');
    // every flag the unit passes is one `conclave start` takes
    for (const f of exec.match(/--[a-z-]+/g) ?? []) assert.ok(f.slice(2) in START_OPTIONS, f);

    assert.equal(one('Restart'), 'on-failure');
    assert.equal(one('RestartPreventExitStatus'), '2', 'a refused start (exit 2) is not retried in a loop');
    assert.equal(one('User'), 'conclave');
    assert.equal(one('SupplementaryGroups'), 'docker', 'the Docker socket is the privilege');
    assert.equal(one('CapabilityBoundingSet'), '', 'no capabilities');
    assert.equal(one('AmbientCapabilities'), '');
    for (const [k, want] of Object.entries({ NoNewPrivileges: 'yes', ProtectSystem: 'strict', ProtectHome: 'yes', PrivateTmp: 'yes', PrivateDevices: 'yes', ProtectKernelTunables: 'yes', ProtectKernelModules: 'yes', ProtectControlGroups: 'yes', RestrictSUIDSGID: 'yes', LockPersonality: 'yes', RestrictNamespaces: 'yes', UMask: '0077' })) {
      assert.equal(one(k), want, k);
    }
    assert.equal(one('StateDirectory'), 'conclave');

    const sec = spawnSync('systemd-analyze', ['security', '--offline=true', copy], { encoding: 'utf8' });
    const score = /Overall exposure level for conclave\.service: ([\d.]+)/.exec(sec.stdout + sec.stderr);
    assert.ok(score, sec.stdout + sec.stderr);
    assert.ok(Number(score[1]) <= 2.5, `exposure ${score[1]} (systemd's scale: 0 = locked down, 10 = exposed)`);
  });

  it('docker-compose: `config` accepts it; a subtensor lite node next to the validator, wired as the node needs', () => {
    need('docker-compose', 'docker-compose');
    const r = spawnSync('docker-compose', ['-f', COMPOSE, 'config'], { encoding: 'utf8', cwd: join(ROOT, 'deploy') });
    assert.equal(r.status, 0, r.stderr);
    const j = spawnSync(PYTHON, ['-c', 'import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], { input: r.stdout, encoding: 'utf8' });
    assert.equal(j.status, 0, j.stderr);
    const doc = JSON.parse(j.stdout);
    const { subtensor, conclave } = doc.services;
    assert.ok(subtensor && conclave, Object.keys(doc.services).join());

    // subtensor: a lite (warp-synced, pruned) finney node whose RPC only the validator reaches
    assert.ok(subtensor.command.includes('--sync=warp'), 'lite node: warp sync');
    assert.ok(!subtensor.command.some((c: string) => /--pruning=archive/.test(c)), 'not an archive node');
    assert.ok(subtensor.command.includes('--rpc-external'), 'RPC reachable on the compose network');
    assert.ok(!(subtensor.ports ?? []).map(port).some((p: Port) => p.target === 9944), 'RPC never published on the host');
    assert.ok(subtensor.volumes.map(volume).some((v: Vol) => v.target === '/data' && !v.source.startsWith('/')), 'chain data in a named volume');

    // the validator: chain = the subtensor service; Docker socket; data dir at the same path on host and in the container
    const env = conclave.environment as Record<string, string>;
    assert.equal(env.CONCLAVE_CHAIN_ENDPOINT, 'ws://subtensor:9944');
    const known = new Set(SCHEMA.map((d) => d.env));
    for (const k of Object.keys(env)) assert.ok(known.has(k), `${k} is not a config variable (see validator.example.toml)`);
    const vols: Vol[] = conclave.volumes.map(volume);
    assert.ok(vols.some((v) => v.source === '/var/run/docker.sock' && v.target === '/var/run/docker.sock'));
    const data = vols.find((v) => v.target === env.CONCLAVE_DATA_DIR);
    assert.ok(data && data.source === data.target, 'sandbox bind mounts come from the data dir: same path on the host');
    assert.ok(vols.some((v) => v.target === '/etc/conclave/validator.toml' && v.read_only));
    assert.deepEqual(conclave.command, ['start', '--config', '/etc/conclave/validator.toml']);
    for (const f of conclave.command.filter((c: string) => c.startsWith('--'))) assert.ok(f.slice(2) in START_OPTIONS, f);
    assert.ok(Array.isArray(conclave.depends_on) ? conclave.depends_on.includes('subtensor') : 'subtensor' in conclave.depends_on);
    assert.deepEqual(conclave.cap_drop, ['ALL']);
    assert.ok(!conclave.privileged);
    assert.ok(conclave.security_opt.includes('no-new-privileges:true'));
    assert.equal(conclave.read_only, true);
    const published: Port[] = conclave.ports.map(port);
    assert.deepEqual(published.find((p) => p.target === 30333), { target: 30333, host: '0.0.0.0' }, 'p2p reachable by the other validators');
    for (const t of [8080, 9615]) assert.equal(published.find((p) => p.target === t)?.host, '127.0.0.1', `port ${t} only on loopback`);
    assert.equal(env.CONCLAVE_METRICS_ADDRESS, '0.0.0.0:9615');
    assert.ok(conclave.healthcheck.test.join(' ').includes('/healthz'));
  });

  it('Dockerfile: copies paths that exist, runs unprivileged, starts the node', () => {
    const text = readFileSync(join(ROOT, 'deploy/Dockerfile'), 'utf8');
    assert.match(text, /^FROM node:24/m);
    for (const m of text.matchAll(/^COPY (.+) \S+$/gm)) {
      for (const src of m[1].split(/\s+/)) assert.ok(existsSync(join(ROOT, src)), `COPY ${src}: no such path`);
    }
    assert.match(text, /^USER 10001$/m);
    assert.match(text, /^ENTRYPOINT \["\/opt\/conclave\/bin\/conclave"\]$/m);
    assert.match(text, /^CMD \["start", "--config", "\/etc\/conclave\/validator\.toml"\]$/m);
    assert.ok(existsSync(join(ROOT, 'deploy/Dockerfile.dockerignore')));
  });
});

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, SCHEMA, exampleToml, loadConfigFile, parseConfig, redactedConfig, evaluationConcurrency, readSecretFile } from '../../node/config.ts';

const problemKeys = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    return err.problems.map((p) => p.key);
  }
  assert.fail('config was accepted');
};

describe('node/config', () => {
  it('validator.example.toml is the generated example, documents every key and parses to the defaults', () => {
    const text = readFileSync(new URL('../../validator.example.toml', import.meta.url), 'utf8');
    assert.equal(text, exampleToml());
    for (const d of SCHEMA) {
      const name = d.key.split('.')[1];
      assert.match(text, new RegExp(`^${name} = `, 'm'), `${d.key} missing from the example`);
      assert.ok(text.includes(`# env: ${d.env}`));
    }
    const fromExample = parseConfig(text, { env: {} });
    const fromEmpty = parseConfig('', { env: {} });
    assert.ok(Math.abs(fromExample.consensus.quorum - fromEmpty.consensus.quorum) < 1e-6);
    fromExample.consensus.quorum = fromEmpty.consensus.quorum;
    assert.deepEqual(fromExample, fromEmpty);
    assert.equal(fromEmpty.node.mode, 'shadow');
    assert.equal(fromEmpty.consensus.burnRate, 0.95);
  });

  it('environment variables override file keys, with typed coercion', () => {
    const c = parseConfig('[chain]\nnetuid = 3\n[node]\nmode = "owner"\n', {
      env: { CONCLAVE_NETUID: '7', CONCLAVE_MIN_STAKE: '123456789012345678901', CONCLAVE_BOOTSTRAP: '', CONCLAVE_DOCKER_HOSTS: 'unix:///a.sock=2,unix:///b.sock=3' },
    });
    assert.equal(c.chain.netuid, 7);
    assert.equal(c.node.mode, 'owner');
    assert.equal(c.consensus.minStake, 123456789012345678901n);
    assert.equal(evaluationConcurrency(c), 5);
  });

  it('refuses bad values naming the key and reason, all at once', () => {
    const keys = problemKeys(() => parseConfig('[chain]\nnetuid = "x"\n[node]\nmode = "yolo"\n[consensus]\nquorum = 0.4\n[bogus]\na=1\n', { env: {} }));
    assert.deepEqual(keys.sort(), ['bogus', 'chain.netuid', 'consensus.quorum', 'node.mode']);
    assert.deepEqual(problemKeys(() => parseConfig('', { env: { CONCLAVE_NETUID: 'abc' } })), ['chain.netuid (from CONCLAVE_NETUID)']);
    assert.deepEqual(problemKeys(() => parseConfig('[api]\nlisten = "nope"\nextra = 1\n', { env: {} })).sort(), ['api.extra', 'api.listen']);
    assert.deepEqual(problemKeys(() => parseConfig('not toml = = =', { env: {} })), ['(file)']);
    assert.deepEqual(problemKeys(() => parseConfig('[sandbox]\ndocker_hosts = [{ url = "tcp://10.0.0.5:2376", gpus = 8 }]\n', { env: {} })), ['sandbox.docker_hosts']);
  });

  it('production config refuses the dev loopback allowance and fault injection', () => {
    const allow = '[intake]\ndev_allow_loopback_origins = ["http://127.0.0.1:8123"]\n';
    assert.deepEqual(problemKeys(() => parseConfig(`[chain]\nendpoint = "finney"\n${allow}`, { env: {} })), ['intake.dev_allow_loopback_origins']);
    assert.deepEqual(problemKeys(() => parseConfig(allow, { env: { CONCLAVE_CHAIN_ENDPOINT: 'wss://example.org:443' } })), ['intake.dev_allow_loopback_origins']);
    assert.deepEqual(problemKeys(() => parseConfig('[chain]\nendpoint = "test"\n[dev]\nfault = "silent"\n', { env: {} })), ['dev.fault']);
    // origins must be exact (no paths, no wildcard ports)
    assert.deepEqual(problemKeys(() => parseConfig('[intake]\ndev_allow_loopback_origins = ["http://127.0.0.1:8123/x"]\n', { env: {} })), ['intake.dev_allow_loopback_origins']);
    const ok = parseConfig(`[chain]\nendpoint = "ws://127.0.0.1:9955"\n${allow}`, { env: {} });
    assert.deepEqual(ok.intake.devAllowLoopbackOrigins, ['http://127.0.0.1:8123']);
  });

  it('secrets come from files and never appear in the redacted view', () => {
    const dir = mkdtempSync(join(tmpdir(), 'conclave-cfg-'));
    try {
      const secret = join(dir, 'pw');
      writeFileSync(secret, 'hunter2-very-secret\n', { mode: 0o600 });
      const cfgPath = join(dir, 'v.toml');
      writeFileSync(cfgPath, `[wallet]\npassword_file = ${JSON.stringify(secret)}\n`);
      const c = loadConfigFile(cfgPath, { env: {} });
      assert.equal(readSecretFile(c.wallet.passwordFile, 'wallet.password_file'), 'hunter2-very-secret');
      const shown = JSON.stringify(redactedConfig(c));
      assert.ok(!shown.includes(secret) && !shown.includes('hunter2'));
      assert.deepEqual(problemKeys(() => readSecretFile(join(dir, 'missing'), 'wallet.password_file')), ['wallet.password_file']);
      assert.deepEqual(problemKeys(() => loadConfigFile(join(dir, 'nope.toml'), { env: {} })), ['(file)']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

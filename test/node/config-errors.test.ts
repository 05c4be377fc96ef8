// Config errors an operator can act on: TOML syntax errors with line and column, unknown keys and
// sections with "did you mean", --print-config in the file's own key names (TOML that parses back).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { closest, ConfigError, configSources, effectiveToml, loadConfigFile, parseConfig, SCHEMA } from '../../node/config.ts';
import { cliInProcess } from '../fixtures/cli-in-process.ts';

function problems(text: string): string[] {
  try {
    parseConfig(text, { env: {}, path: 'validator.toml' });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p) => `${p.key}: ${p.reason}`);
  }
  assert.fail('expected a ConfigError');
}

const cli = cliInProcess;

describe('config errors an operator can act on', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'conclave-cfgerr-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a TOML syntax error names the file, line and column and shows the line', () => {
    const [p] = problems('[chain]\nendpoint = "local"\nnetuid = = 3\n');
    assert.match(p, /not valid TOML at line 3, column \d+: invalid value \(line 3: "netuid = = 3"\)/);
    const [q] = problems('[chain\nnetuid = 3\n');
    assert.match(q, /line 1, column \d+/);
    const [r] = problems('[api]\nlisten = "127.0.0.1:8080\n');
    assert.match(r, /line 2, column \d+/);
  });

  it('unknown keys and sections: "did you mean" for typos, camelCase, a missing suffix and the wrong section', () => {
    const ps = problems('[p2p]\nlisten_addr = "/ip4/0.0.0.0/tcp/1"\n[node]\nnetuid = 3\ndataDir = "x"\nmdoe = "shadow"\n[wallet]\npassword = "x"\n[metric]\naddress = "1"\n[netuid]\n[zzz]\n');
    const has = (re: RegExp) => assert.ok(ps.some((p) => re.test(p)), `${re} in\n${ps.join('\n')}`);
    has(/^p2p\.listen_addr: unknown key; did you mean p2p\.listen\?/);
    has(/^node\.netuid: unknown key; did you mean chain\.netuid \(in \[chain\]\)\?/);
    has(/^node\.dataDir: unknown key; did you mean node\.data_dir\?/);
    has(/^node\.mdoe: unknown key; did you mean node\.mode\?/);
    has(/^wallet\.password: unknown key; did you mean wallet\.password_file\?/);
    has(/^metric: unknown section .*did you mean \[metrics\]\?/);
    has(/^netuid: unknown section .*chain\.netuid belongs in \[chain\]/);
    has(/^zzz: unknown section \(known: chain, wallet, /);
    assert.ok(!ps.join('\n').includes('"x"'), 'values (a password put in the wrong key) are never echoed');
    assert.equal(closest('quroum', ['quorum', 'burn_rate']), 'quorum');
    assert.equal(closest('completely_different', ['quorum']), null);
  });

  it('--print-config prints TOML with the file\'s key names and sources; it parses back to the same config', async () => {
    const path = join(dir, 'v.toml');
    writeFileSync(path, '[chain]\nnetuid = 7\n[wallet]\npassword_file = "/etc/conclave/pw"\n[api]\nlisten = "127.0.0.1:9999"\n');
    const r = await cli(['start', '--config', path, '--print-config'], { CONCLAVE_MODE: 'owner' });
    assert.equal(r.code, 0, r.stderr);
    const doc = parseToml(r.stdout) as Record<string, Record<string, unknown>>;
    const printed = Object.entries(doc).flatMap(([s, body]) => Object.keys(body).map((k) => `${s}.${k}`));
    assert.deepEqual(printed, SCHEMA.map((d) => d.key), 'every key, in schema order, with its TOML name');
    assert.equal(doc.chain.netuid, 7);
    assert.equal(doc.node.mode, 'owner');
    assert.equal(doc.node.data_dir !== undefined && doc.wallet.password_file, '(set)', 'secret-file paths are not printed');
    assert.match(r.stdout, /netuid = 7 {2}# from the file/);
    assert.match(r.stdout, /mode = "owner" {2}# from CONCLAVE_MODE/);
    assert.match(r.stdout, /log_level = "info" {2}# default/);
    assert.doesNotMatch(r.stdout, /dataDir|passwordFile|logLevel/, 'no internal (camelCase) names');
    // the printed file (minus the redacted secret path) loads to the same effective values
    const back = parseConfig(r.stdout.replace('password_file = "(set)"', 'password_file = "/etc/conclave/pw"'), { env: {} });
    const orig = loadConfigFile(path, { env: { CONCLAVE_MODE: 'owner' } });
    assert.equal(effectiveToml(back).replace(/ {2}#.*$/gm, ''), effectiveToml(orig).replace(/ {2}#.*$/gm, ''));
    assert.equal(configSources(orig)['node.mode'], 'env:CONCLAVE_MODE');
  });

  it('`conclave start` with a bad config: one JSON line on stderr naming every problem, exit 2', async () => {
    const path = join(dir, 'bad.toml');
    writeFileSync(path, '[node]\nmode = "decentralised"\nlogLevel = "debug"\n');
    const r = await cli(['start', '--config', path]);
    assert.equal(r.code, 2);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    const j = JSON.parse(lines[0]);
    assert.equal(j.level, 'error');
    assert.match(j.msg, /node\.mode: must be one of owner, shadow, decentralized/);
    assert.match(j.msg, /node\.logLevel: unknown key; did you mean node\.log_level\?/);
    const missing = await cli(['start', '--config', join(dir, 'nope.toml')]);
    assert.equal(missing.code, 2);
    assert.match(JSON.parse(missing.stderr.trim()).msg, /cannot read .*nope\.toml: no such file/);
  });
});

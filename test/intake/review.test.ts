// Static review: every named attack in test/intake/attacks is rejected for its expected rule, every
// legitimate training submission in test/intake/legit is accepted. The whole corpus is reviewed in
// one python process (host engine); one batch also goes through the Docker engine.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { buildZip } from './zip-writer.ts';
import { canonicalJson, chooseEngine, dockerAvailable, loadPolicy, policyHash, REVIEWER_PATH, reviewerFiles, reviewFiles, reviewSource } from '../../runtime/review.ts';
import type { BatchReview } from '../../runtime/review.ts';

const here = dirname(fileURLToPath(import.meta.url));
const attacksDir = join(here, 'attacks');
const legitDir = join(here, 'legit');
const attackFiles = readdirSync(attacksDir).filter((f) => f.endsWith('.py')).sort();
const legitFiles = readdirSync(legitDir).filter((f) => f.endsWith('.py')).sort();
const root = join(here, '..', '..');

function expectedRules(file: string): string[] {
  const m = /^# expect: (.+)$/m.exec(readFileSync(join(attacksDir, file), 'latin1'));
  assert.ok(m, `${file} lacks a '# expect:' header`);
  return m[1].trim().split(/\s+/);
}

describe('intake: static review corpus (host python3, one batch)', function () {
  this.timeout(60_000);
  let batch: BatchReview;
  const byId = new Map<string, BatchReview['results'][number]>();

  before(async () => {
    const inputs = [
      ...attackFiles.map((f) => ({ id: `attacks/${f}`, source: readFileSync(join(attacksDir, f)) })),
      ...legitFiles.map((f) => ({ id: `legit/${f}`, source: readFileSync(join(legitDir, f)) })),
    ];
    batch = await reviewFiles(inputs, { engine: 'host', fingerprint: true });
    for (const r of batch.results) byId.set(r.id, r);
  });

  it('has at least 150 attacks and 20 legitimate submissions', () => {
    assert.ok(attackFiles.length >= 150, `only ${attackFiles.length} attacks`);
    assert.ok(legitFiles.length >= 20, `only ${legitFiles.length} legitimate submissions`);
    const categories = new Set(attackFiles.map((f) => f.split('__')[0]));
    for (const c of ['frame', 'hierarchy', 'builtins', 'strings', 'import', 'timer', 'backend', 'optimizer', 'name', 'sysmodules', 'torch', 'patch', 'gc']) {
      assert.ok(categories.has(c), `no attack in category ${c}`);
    }
  });

  describe('attacks are rejected for the expected reason', () => {
    for (const f of attackFiles) {
      it(f.replace(/\.py$/, '').replace('__', ': '), () => {
        const r = byId.get(`attacks/${f}`)!;
        assert.equal(r.verdict, 'reject', `${f} was accepted`);
        const want = expectedRules(f);
        const got = r.findings.map((x) => x.rule);
        assert.ok(got.some((g) => want.includes(g)), `${f}: expected one of [${want}] but got [${got}]`);
        for (const finding of r.findings) assert.ok(finding.message.length > 0 && Number.isInteger(finding.line));
      });
    }
  });

  describe('legitimate submissions are accepted', () => {
    for (const f of legitFiles) {
      it(f.replace(/\.py$/, ''), () => {
        const r = byId.get(`legit/${f}`)!;
        assert.deepEqual(r.findings, [], `${f} was rejected: ${JSON.stringify(r.findings)}`);
        assert.equal(r.verdict, 'accept');
        assert.ok(r.fingerprint && r.fingerprint.tokens.length > 50, 'accepted files carry a token stream');
      });
    }
  });

  it('gives every result the batch policyHash', () => {
    assert.match(batch.policyHash, /^[0-9a-f]{64}$/);
    for (const r of batch.results) assert.equal(r.policyHash, batch.policyHash);
  });
});

describe('intake: review rules and policy', function () {
  this.timeout(30_000);
  const ok = readFileSync(join(legitDir, '03_custom_autograd.py'), 'utf8');

  it('narrowing: @staticmethod is accepted on autograd.Function methods, staticmethod() as a call is not', async () => {
    const b = await reviewFiles([
      { id: 'deco', source: ok },
      { id: 'call', source: ok.replace('class FusedCrossEntropy', 'helper = staticmethod(print)\n\n\nclass FusedCrossEntropy') },
      { id: 'outside-class', source: ok + '\n\n@staticmethod\ndef loose():\n    return 1\n' },
    ], { engine: 'host' });
    assert.equal(b.results[0].verdict, 'accept');
    assert.equal(b.results[1].verdict, 'reject');
    assert.equal(b.results[2].verdict, 'reject');
  });

  it('entrypoint contract applies only to entrypoint files', async () => {
    const helper = 'import torch\n\n\ndef scale(x):\n    return x * 2\n';
    const b = await reviewFiles([{ id: 'h', source: helper, entrypoint: false }, { id: 'e', source: helper, entrypoint: true }], { engine: 'host' });
    assert.equal(b.results[0].verdict, 'accept');
    assert.deepEqual(b.results[1].findings.map((f) => f.rule), ['entrypoint']);
  });

  it('policyHash = sha256(canonical policy JSON, image digest): key order does not matter, content and digest do', () => {
    const policy = loadPolicy();
    const reordered = JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(policy).reverse())));
    assert.notEqual(JSON.stringify(reordered), JSON.stringify(policy));
    assert.equal(canonicalJson(reordered), canonicalJson(policy));
    const d = 'sha256:' + 'ab'.repeat(32);
    assert.equal(policyHash(reordered, d), policyHash(policy, d));
    assert.notEqual(policyHash(policy, d), policyHash(policy, 'sha256:' + 'cd'.repeat(32)));
    assert.notEqual(policyHash({ ...policy, version: 2 }, d), policyHash(policy, d));
  });

  it('policyHash also pins the reviewer code: a change to review.py or to any rule module gives another hash', () => {
    const policy = loadPolicy();
    const d = 'sha256:' + 'ab'.repeat(32);
    const files = reviewerFiles();
    const paths = files.map((f) => f.path);
    assert.ok(paths.includes('review.py') && paths.includes('rules/__init__.py') && paths.includes('rules/names.py'), paths.join(' '));
    assert.ok(paths.every((p) => p.endsWith('.py') && !p.includes('__pycache__')));
    assert.equal(policyHash(policy, d), policyHash(policy, d, files));
    assert.equal(policyHash(policy, d, [...files].reverse()), policyHash(policy, d, files));
    for (const path of ['review.py', 'rules/names.py']) {
      const changed = files.map((f) => (f.path === path ? { ...f, source: f.source + '\n# a reviewer change\n' } : f));
      assert.notEqual(policyHash(policy, d, changed), policyHash(policy, d, files), path);
    }
    assert.notEqual(policyHash(policy, d, files.filter((f) => f.path !== 'rules/names.py')), policyHash(policy, d, files));
  });

  it('the driver run as a file (python3 -I -S -B review.py) reads its rule modules from beside it, writes no bytecode', async () => {
    const caches = [join(dirname(REVIEWER_PATH), '__pycache__'), join(dirname(REVIEWER_PATH), 'rules', '__pycache__')];
    const cachedBefore = caches.map((c) => existsSync(c));
    const inputs = [attackFiles[0], legitFiles[0]].map((f, i) => ({ id: f, source: readFileSync(join(i ? legitDir : attacksDir, f)) }));
    const viaArgs = await reviewFiles(inputs, { engine: 'host' });
    const request = JSON.stringify({ policy: loadPolicy(), fingerprint: false, files: inputs.map((f) => ({ id: f.id, source_b64: f.source.toString('base64'), entrypoint: true, localModules: [] })) });
    const r = spawnSync('python3', ['-I', '-S', '-B', REVIEWER_PATH], { input: request, encoding: 'utf8', cwd: here, timeout: 25_000 });
    assert.equal(r.status, 0, r.stderr);
    const asFile = JSON.parse(r.stdout) as { results: Array<{ verdict: string; findings: Array<{ rule: string }> }> };
    assert.deepEqual(asFile.results.map((x) => [x.verdict, x.findings.map((f) => f.rule)]), viaArgs.results.map((x) => [x.verdict, x.findings.map((f) => f.rule)]));
    assert.deepEqual(viaArgs.results.map((x) => x.verdict), ['reject', 'accept']);
    assert.deepEqual(caches.map((c) => existsSync(c)), cachedBefore, 'the reviewer wrote a __pycache__');
  });

  it('a policy change changes the verdict (the policy is data)', async () => {
    const policy = loadPolicy();
    const src = ok.replace('import torch\n', 'import torch\nimport json\n');
    assert.equal((await reviewSource(src, { engine: 'host', policy })).verdict, 'reject');
    const widened = { ...policy, allowedModules: [...(policy.allowedModules as string[]), 'json'] };
    assert.equal((await reviewSource(src, { engine: 'host', policy: widened })).verdict, 'accept');
  });

  it('runs the same review inside the sandbox image with network none (Docker engine)', async function () {
    if (!(await dockerAvailable())) this.skip(); // no Docker engine on this machine: the host fallback is what runs
    let choice;
    try { choice = await chooseEngine({ engine: 'docker' }); } catch (err) {
      console.log(`      skipped: ${(err as Error).message}`);
      this.skip();
    }
    const picks = [...attackFiles.slice(0, 10), ...legitFiles.slice(0, 3)];
    const inputs = picks.map((f) => ({ id: f, source: readFileSync(join(attackFiles.includes(f) ? attacksDir : legitDir, f)) }));
    const [inDocker, onHost] = await Promise.all([
      reviewFiles(inputs, { engine: 'docker', imageDigest: 'fixed' }),
      reviewFiles(inputs, { engine: 'host', imageDigest: 'fixed' }),
    ]);
    assert.equal(inDocker.engine, 'docker');
    assert.equal(inDocker.image, choice!.image);
    assert.deepEqual(inDocker.results.map((r) => [r.verdict, r.findings.map((f) => f.rule)]), onHost.results.map((r) => [r.verdict, r.findings.map((f) => f.rule)]));
    assert.deepEqual(inDocker.results.map((r) => r.verdict), [...Array(10).fill('reject'), 'accept', 'accept', 'accept']);
  });
});

describe('intake: conclave review CLI', function () {
  this.timeout(30_000);
  const cli = (args: string[]) => spawnSync(process.execPath, [join(root, 'node', 'cli.ts'), 'review', ...args],
    { encoding: 'utf8', timeout: 25_000, env: { ...process.env, CONCLAVE_REVIEW_ENGINE: 'host' } });

  it('exits 0 on accept with --json verdict', () => {
    const r = cli([join(legitDir, '01_baseline.py'), '--json']);
    assert.equal(r.status, 0, r.stderr);
    const v = JSON.parse(r.stdout);
    assert.equal(v.verdict, 'accept');
    assert.match(v.policyHash, /^[0-9a-f]{64}$/);
  });

  it('exits 1 on reject and names the rule', () => {
    const r = cli([join(attacksDir, 'hierarchy__tuple_subclasses.py')]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /class-hierarchy/);
  });

  it('a hostile ZIP is a verdict (exit 1, finding zip-<code>), never an error (exit 2)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'conclave-reviewcli-'));
    try {
      const train = readFileSync(join(legitDir, '01_baseline.py'));
      const cases: Array<[string, Buffer]> = [
        ['zip-bad-name', buildZip([{ name: 'train.py', data: train }, { name: '日'.repeat(90) + '.py', data: 'X = 1\n' }])],
        ['zip-shadowing', buildZip([{ name: 'train.py', data: train }, { name: 'math.py', data: 'X = 1\n' }])],
        ['zip-crc-mismatch', buildZip([{ name: 'train.py', data: train, crc: 1234 }])],
        ['zip-header-mismatch', buildZip([{ name: 'train.py', data: train, local: { name: 'other.py' } }])],
      ];
      for (const [rule, bytes] of cases) {
        const file = join(dir, `${rule}.zip`);
        writeFileSync(file, bytes);
        const r = cli([file, '--json']);
        assert.equal(r.status, 1, `${rule}: ${r.stderr}`);
        assert.deepEqual(JSON.parse(r.stdout).findings.map((f: { rule: string }) => f.rule), [rule]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits 2 on a missing file', () => {
    const r = cli([join(here, 'does-not-exist.py')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /does-not-exist/);
  });
});

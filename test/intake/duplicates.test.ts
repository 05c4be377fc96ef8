// Duplicate detection and quarantine over real reviewer token streams and a real LevelDB.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { reviewFiles } from '../../runtime/review.ts';
import { codePrint } from '../../runtime/fingerprint.ts';
import type { CodePrint } from '../../runtime/fingerprint.ts';
import { QuarantineStore } from '../../runtime/quarantine-store.ts';

const here = dirname(fileURLToPath(import.meta.url));
const original = readFileSync(join(here, 'legit', '08_helper_classes.py'), 'utf8');
// Every identifier renamed, comments/docstrings/formatting changed: same normalised AST.
const renamed = original
  .replace(/TokenCounter/g, 'Tally').replace(/LossTracker/g, 'Hist').replace(/Trainer/g, 'Runner')
  .replace(/_count/g, '_n').replace(/tracker/g, 'h').replace(/counter/g, 'c').replace(/history/g, 'vals')
  .replace(/"""Helper classes: a token counter and a running loss tracker."""/, '# my own work, honest')
  .replace(/, /g, ' ,  ');
// Lightly edited: a couple of statements added.
const edited = original.replace('        self.optimizer.zero_grad()\n',
  '        self.optimizer.zero_grad()\n        if loss.item() != loss.item():\n            raise ValueError("nan")\n');
const unrelated = readFileSync(join(here, 'legit', '03_custom_autograd.py'), 'utf8');

describe('intake: duplicates and quarantine', function () {
  this.timeout(30_000);
  const prints = new Map<string, CodePrint>();
  let dir: string;

  before(async () => {
    const b = await reviewFiles([
      { id: 'original', source: original }, { id: 'renamed', source: renamed },
      { id: 'edited', source: edited }, { id: 'unrelated', source: unrelated },
    ], { engine: 'host', fingerprint: true });
    for (const r of b.results) {
      assert.equal(r.verdict, 'accept', `${r.id}: ${JSON.stringify(r.findings)}`);
      prints.set(r.id, codePrint(r.fingerprint!));
    }
  });
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'conclave-quarantine-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const sub = (uid: number, id: string, block: number) =>
    ({ uid, minerHotkey: `5Hotkey${uid}`, codeSha256: String(uid).repeat(64).slice(0, 64), commitBlock: block, print: prints.get(id)! });

  it('renamed copy hashes identically; the texts differ', () => {
    assert.notEqual(renamed, original);
    assert.equal(prints.get('renamed')!.normHash, prints.get('original')!.normHash);
    assert.notEqual(prints.get('edited')!.normHash, prints.get('original')!.normHash);
  });

  it('renamed copy → duplicate, edited copy → quarantined with evidence, unrelated → allowed', async () => {
    const store = await QuarantineStore.open(dir);
    try {
      assert.equal((await store.intake(sub(1, 'original', 100))).status, 'allowed');
      const dup = await store.intake(sub(2, 'renamed', 101));
      assert.equal(dup.status, 'duplicate');
      assert.equal(dup.status === 'duplicate' && dup.of.uid, 1);
      const q = await store.intake(sub(3, 'edited', 102));
      assert.equal(q.status, 'quarantined', JSON.stringify(q));
      if (q.status === 'quarantined') {
        assert.ok(q.similarity >= 0.8 && q.similarity < 1);
        assert.ok(q.candidateSpans.length > 0 && q.priorSpans.length > 0);
      }
      const u = await store.intake(sub(4, 'unrelated', 103));
      assert.equal(u.status, 'allowed');
      assert.ok(u.status === 'allowed' && u.bestSimilarity < 0.8);
      const pending = await store.listQuarantine('pending');
      assert.equal(pending.length, 1);
      assert.equal(pending[0].candidate.uid, 3);
      assert.equal(pending[0].prior.uid, 1);
    } finally {
      await store.close();
    }
  });

  it('the first committer keeps it: an earlier commit is never the duplicate of a later one', async () => {
    const store = await QuarantineStore.open(dir);
    try {
      assert.equal((await store.intake(sub(2, 'renamed', 200))).status, 'allowed');
      const d = await store.intake(sub(1, 'original', 150));
      assert.equal(d.status, 'allowed', 'committed earlier, so it is the original even though it was seen later');
      const later = await store.intake(sub(5, 'original', 300));
      assert.equal(later.status === 'duplicate' && later.of.uid, 1);
    } finally {
      await store.close();
    }
  });

  it('operator resolution persists (LevelDB) and is honoured; CLI lists and resolves', async () => {
    let store = await QuarantineStore.open(dir);
    await store.intake(sub(1, 'original', 100));
    await store.intake(sub(3, 'edited', 102));
    const [rec] = await store.listQuarantine('pending');
    await store.close();
    const cli = (...a: string[]) => spawnSync(process.execPath, [join(here, '..', '..', 'node', 'cli.ts'), 'quarantine', ...a], { encoding: 'utf8', timeout: 15_000 });
    const list = cli('list', '--db', dir, '--json');
    assert.equal(list.status, 0, list.stderr);
    assert.equal(JSON.parse(list.stdout)[0].id, rec.id);
    const allow = cli('allow', rec.id, '--db', dir, '--note', 'same author, two hotkeys');
    assert.equal(allow.status, 0, allow.stderr);
    assert.equal(cli('reject', rec.id, '--db', dir).status, 1, 'already resolved');
    assert.equal(cli('allow', 'ffffffffffffffff', '--db', dir).status, 1);
    store = await QuarantineStore.open(dir);
    try {
      assert.equal((await store.intake(sub(3, 'edited', 102))).status, 'allowed');
      assert.equal((await store.listQuarantine('allowed')).length, 1);
    } finally {
      await store.close();
    }
  });
});

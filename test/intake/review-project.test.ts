// A ZIP project is reviewed as one program: what one file may not do is not allowed by splitting it
// across two (the optimizer handed to a helper in another module, a class of another module reached
// through the class, a forbidden name whose parts live in two files, the model patched by a helper).
// Each finding names the file it is in; an honest multi-file project (packages, relative imports,
// helpers that hold the optimizer and only step it) is accepted.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractZipProject } from '../../runtime/zip.ts';
import { moduleName, reviewProject } from '../../runtime/review-project.ts';
import { buildZip } from './zip-writer.ts';

const LOOP = `    logits = loss = None
    tokens = 0
    for _ in range(num_steps):
        batch = next(data_iterator).to(device)
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        tokens += batch.numel()
    return InnerStepsResult(logits.detach(), tokens, loss.item())
`;
const train = (imports: string, pre: string) => `from dataclasses import dataclass

import torch
import torch.nn.functional as F
${imports}


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
${pre}
${LOOP}`;

describe('intake: a ZIP project is reviewed as one program', function () {
  this.timeout(120_000);
  let parent: string;
  before(() => { parent = mkdtempSync(join(tmpdir(), 'conclave-revproj-')); });
  after(() => rmSync(parent, { recursive: true, force: true }));

  async function review(files: Record<string, string>) {
    const p = await extractZipProject(buildZip(Object.entries(files).map(([name, data]) => ({ name, data }))), { parent });
    return reviewProject(p, { engine: 'host' });
  }

  it('module names follow Python: helpers.py, pkg/util.py, pkg/__init__.py', () => {
    assert.deepEqual(['helpers.py', 'pkg/util.py', 'pkg/__init__.py', 'a/b/c.py'].map(moduleName), ['helpers', 'pkg.util', 'pkg', 'a.b.c']);
  });

  it('an honest project with packages, relative imports and a trainer holding the optimizer is accepted', async () => {
    const r = await review({
      'train.py': train('from trainer import Trainer\nfrom pkg.losses import lm_loss\nimport pkg.tags as tags', `    t = Trainer(model, optimizer, lm_loss)
    t.warmup(next(data_iterator).to(device))
    _ = tags.TAG + "-" + tags.suffix(num_steps)`),
      'trainer.py': `import torch


class Trainer:
    def __init__(self, model, optimizer, loss_fn):
        self._model = model
        self._opt = optimizer
        self._loss = loss_fn

    def warmup(self, batch):
        logits = self._model(batch[:, :-1])
        loss = self._loss(logits, batch[:, 1:])
        loss.backward()
        self._opt.step()
        self._opt.zero_grad(set_to_none=True)
        return loss.item()
`,
      'pkg/__init__.py': '',
      'pkg/losses.py': 'import torch.nn.functional as F\nfrom .util import flat\n\n\ndef lm_loss(logits, labels):\n    return F.cross_entropy(flat(logits), labels.reshape(-1))\n',
      'pkg/util.py': 'def flat(x):\n    return x.reshape(-1, x.size(-1))\n',
      'pkg/tags.py': 'TAG = "run"\n\n\ndef suffix(n):\n    return "steps%d" % n\n',
    });
    assert.equal(r.verdict, 'accept', JSON.stringify(r.findings));
  });

  const attacks: Array<[string, Record<string, string>, string, string]> = [
    ['the optimizer handed to a helper module that reads its internals', {
      'train.py': train('import helpers', '    helpers.bump(optimizer)'),
      'helpers.py': 'def bump(o):\n    o.defaults["lr"] = 10.0\n',
    }, 'helpers.py', 'optimizer-internals'],
    ['... through `from helpers import bump`', {
      'train.py': train('from helpers import bump', '    bump(optimizer)'),
      'helpers.py': 'def bump(o):\n    o.defaults["lr"] = 10.0\n',
    }, 'helpers.py', 'optimizer-internals'],
    ['... through a relative import inside a package', {
      'train.py': train('from pkg.api import tune', '    tune(optimizer)'),
      'pkg/__init__.py': '',
      'pkg/api.py': 'from .impl import bump\n\n\ndef tune(o):\n    return bump(o)\n',
      'pkg/impl.py': 'def bump(o):\n    return o.state\n',
    }, 'pkg/impl.py', 'optimizer-internals'],
    ['... held by a class of another module', {
      'train.py': train('import helpers', '    helpers.Holder(optimizer).poke()'),
      'helpers.py': 'class Holder:\n    def __init__(self, o):\n        self.o = o\n\n    def poke(self):\n        return self.o.defaults\n',
    }, 'helpers.py', 'optimizer-internals'],
    ['a method of another module\'s class reached through the class (any object as self)', {
      'train.py': train('import collections\nimport helpers', '    helpers.Box.peek(collections)'),
      'helpers.py': 'class Box:\n    def peek(self):\n        return self._sys\n',
    }, 'train.py', 'private-attribute'],
    ['a forbidden name whose parts live in two files', {
      'train.py': train('import helpers', '    n = helpers.HEAD + "bals__"'),
      'helpers.py': 'HEAD = "__glo"\n',
    }, 'train.py', 'forbidden-string'],
    ['... returned by a function of another module', {
      'train.py': train('from pkg.names import head', '    n = head() + "process"'),
      'pkg/__init__.py': '',
      'pkg/names.py': 'def head():\n    return "sub"\n',
    }, 'train.py', 'forbidden-string'],
    ['a forbidden name assembled in a list of another module, changed in place from the entrypoint', {
      'train.py': train('import helpers', '    helpers.PARTS.append("__glo")\n    helpers.name()'),
      'helpers.py': 'PARTS = []\n\n\ndef name():\n    return "".join(PARTS) + "bals__"\n',
    }, 'train.py', 'monkey-patching'],
    ['... the list imported by name (`from helpers import PARTS`)', {
      'train.py': train('from helpers import PARTS, name', '    PARTS.append("__glo")\n    name()'),
      'helpers.py': 'PARTS = []\n\n\ndef name():\n    return "".join(PARTS) + "bals__"\n',
    }, 'train.py', 'monkey-patching'],
    ['the optimizer kept in a container of another module and read there', {
      'train.py': train('import helpers', '    helpers.keep(optimizer)'),
      'helpers.py': 'HELD = []\n\n\ndef keep(o):\n    HELD.append(o)\n\n\ndef poke():\n    return HELD[0].state\n',
    }, 'helpers.py', 'optimizer-internals'],
    ['an import cycle between two helper modules', {
      'train.py': train('import a', '    a.f(optimizer)'),
      'a.py': 'import b\n\n\ndef f(o):\n    return b.g(o)\n',
      'b.py': 'import a\n\n\ndef g(o):\n    return o.param_groups\n',
    }, 'b.py', 'optimizer-internals'],
    ['the model patched by a helper module', {
      'train.py': train('import helpers', '    helpers.patch(model)'),
      'helpers.py': 'def patch(m):\n    m.forward = lambda x: x\n',
    }, 'helpers.py', 'monkey-patching'],
  ];
  for (const [title, files, file, rule] of attacks) {
    it(`refused: ${title}`, async () => {
      const r = await review(files);
      assert.equal(r.verdict, 'reject');
      const hit = r.files.find((f) => f.id === file)!;
      assert.ok(hit.findings.some((f) => f.rule === rule), `${file}: ${JSON.stringify(r.findings)}`);
    });
  }

  it('a file that does not parse is refused on its own; the others are still judged', async () => {
    const r = await review({
      'train.py': train('import helpers', '    helpers.bump(optimizer)'),
      'helpers.py': 'def bump(o):\n    o.defaults["lr"] = 10.0\n',
      'broken.py': 'def (:\n',
    });
    const by = Object.fromEntries(r.files.map((f) => [f.id, f.findings.map((x) => x.rule)]));
    assert.deepEqual(by['broken.py'], ['parse-error']);
    assert.ok(by['helpers.py'].includes('optimizer-internals'), JSON.stringify(by));
    assert.deepEqual(by['train.py'], []);
  });
});

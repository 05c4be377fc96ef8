// Project files may not shadow modules the evaluator or Python itself loads: the project directory is
// put first on sys.path, so a top-level `math.py`, `torch/`, `numpy.py`, `sitecustomize.py` would be
// imported instead of the real one. Refused: every top-level module or package name of the image's
// Python (sys.stdlib_module_names and the top-level modules of its site-packages, shipped in
// python-modules.json, generated from the image by `node tools/python-modules.ts`), the site hooks, the
// evaluator's own modules (docker/evaluator), and `.pth` files anywhere. Names compare case-insensitively
// after NFKC (Python normalises identifiers with NFKC).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ZipRefusal, shown } from './refusal.ts';
import { componentKey } from './names.ts';
import type { EntryName } from './names.ts';

const here = dirname(fileURLToPath(import.meta.url));
export const PYTHON_MODULES_PATH = join(here, 'python-modules.json');
const EVALUATOR_DIR = join(here, '..', '..', 'docker', 'evaluator');

/** Python source that prints the image's module lists as JSON (run with `python3 -I -c`). */
export const PYTHON_MODULES_PROBE = [
  'import json, pkgutil, sys',
  'std = sorted(sys.stdlib_module_names)',
  'site = sorted({m.name for m in pkgutil.iter_modules() if m.name not in sys.stdlib_module_names})',
  'print(json.dumps({"python": sys.version.split()[0], "stdlib": std, "sitePackages": site}))',
].join('\n');

export interface PythonModules { python: string; stdlib: string[]; sitePackages: string[] }

/** Loaded by every interpreter at start-up when present, whatever sys.stdlib_module_names says. */
export const SITE_HOOKS = ['sitecustomize', 'usercustomize'];
/** The interpreter's own module names that sys.stdlib_module_names leaves out. */
export const INTERPRETER_MODULES = ['__main__'];
/**
 * Modules torch loads on GPU builds (Inductor/Triton, CUDA wheels) and the packaging modules of a
 * pip/conda image: not in the CPU image this list is generated from, but present in the GPU one.
 */
export const GPU_IMAGE_MODULES = ['triton', 'nvidia', 'filelock', 'fsspec', 'jinja2', 'markupsafe', 'networkx', 'packaging',
  'setuptools', 'pkg_resources', '_distutils_hack', 'pip', 'torchvision', 'torchaudio', 'torchelastic', 'torchgen', 'functorch',
  'conda', 'PIL', 'tqdm', 'requests', 'urllib3', 'certifi', 'charset_normalizer', 'idna', 'yaml', 'psutil', 'optree', 'opt_einsum'];

let protectedNames: Map<string, string> | undefined;

export function shippedPythonModules(): PythonModules {
  return JSON.parse(readFileSync(PYTHON_MODULES_PATH, 'utf8')) as PythonModules;
}

function evaluatorModules(): string[] {
  try {
    return readdirSync(EVALUATOR_DIR, { withFileTypes: true })
      .filter((e) => (e.isDirectory() && e.name !== '__pycache__') || e.name.endsWith('.py'))
      .map((e) => e.name.replace(/\.py$/, ''));
  } catch {
    return [];
  }
}

/** key -> the module's real name. */
export function protectedModules(): Map<string, string> {
  if (!protectedNames) {
    const m = shippedPythonModules();
    protectedNames = new Map();
    for (const name of [...m.stdlib, ...m.sitePackages, ...SITE_HOOKS, ...INTERPRETER_MODULES, ...GPU_IMAGE_MODULES, ...evaluatorModules()]) protectedNames.set(componentKey(name), name);
  }
  return protectedNames;
}

/** The importable top-level name an entry defines, if any: `x.py` at the root → x, `x/...` → x. */
function topLevelModule(n: EntryName): string | null {
  if (n.components.length > 1 || n.isDir) return n.components[0];
  const m = /^(.*)\.py$/i.exec(n.components[0]);
  return m ? m[1] : null;
}

export function checkShadowing(names: EntryName[]): void {
  const table = protectedModules();
  for (const n of names) {
    const last = n.components[n.components.length - 1];
    if (!n.isDir && /\.pth$/i.test(last)) throw new ZipRefusal('shadowing', `entry ${shown(n.path)} is a .pth file (site hooks run code at interpreter start)`, n.path);
    const mod = topLevelModule(n);
    if (mod === null) continue;
    const real = table.get(componentKey(mod));
    if (real !== undefined) {
      throw new ZipRefusal('shadowing', `entry ${shown(n.path)} would shadow the module '${real}' that Python or the evaluator imports; rename it`, n.path);
    }
  }
}

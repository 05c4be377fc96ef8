// What build this is: the package version and the git commit, for `conclave --version`, the
// `conclave_build_info` metric, /v1/status and the first log line. The commit comes from
// $CONCLAVE_BUILD_COMMIT (set by an image build), else a BUILD_COMMIT file at the project root, else
// the checkout's .git (worktrees and packed refs included, read without running git), else "unknown".
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface BuildInfo {
  version: string;
  /** full commit hash, or "unknown" */
  commit: string;
  node: string;
  platform: string;
}

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** The commit HEAD points at in the git checkout at `root`, or null. */
export function gitCommit(root: string): string | null {
  const dotGit = join(root, '.git');
  if (!existsSync(dotGit)) return null;
  let gitDir = dotGit;
  if (statSync(dotGit).isFile()) {
    const m = /^gitdir:\s*(.+)\s*$/m.exec(read(dotGit) ?? '');
    if (!m) return null;
    gitDir = isAbsolute(m[1]) ? m[1] : join(root, m[1]);
  }
  const common = (() => {
    const c = read(join(gitDir, 'commondir'))?.trim();
    return c ? (isAbsolute(c) ? c : join(gitDir, c)) : gitDir;
  })();
  const head = read(join(gitDir, 'HEAD'))?.trim();
  if (!head) return null;
  if (/^[0-9a-f]{40}$/.test(head)) return head;
  const ref = /^ref:\s*(\S+)$/.exec(head)?.[1];
  if (!ref) return null;
  for (const dir of [gitDir, common]) {
    const v = read(join(dir, ref))?.trim();
    if (v && /^[0-9a-f]{40}$/.test(v)) return v;
  }
  const packed = read(join(common, 'packed-refs')) ?? '';
  for (const line of packed.split('\n')) {
    const [sha, name] = line.trim().split(' ');
    if (name === ref && /^[0-9a-f]{40}$/.test(sha)) return sha;
  }
  return null;
}

let cached: BuildInfo | undefined;

export function buildInfo(env: Record<string, string | undefined> = process.env): BuildInfo {
  if (cached && env === process.env) return cached;
  const pkg = JSON.parse(read(join(PROJECT_ROOT, 'package.json')) ?? '{}') as { version?: string };
  const fromEnv = env.CONCLAVE_BUILD_COMMIT?.trim();
  const fromFile = read(join(PROJECT_ROOT, 'BUILD_COMMIT'))?.trim();
  const commit = (fromEnv && /^[0-9a-f]{7,40}$/i.test(fromEnv) ? fromEnv.toLowerCase() : null)
    ?? (fromFile && /^[0-9a-f]{7,40}$/i.test(fromFile) ? fromFile.toLowerCase() : null)
    ?? gitCommit(PROJECT_ROOT)
    ?? 'unknown';
  const info = { version: pkg.version ?? '0.0.0', commit, node: process.version, platform: `${process.platform}-${process.arch}` };
  if (env === process.env) cached = info;
  return info;
}

/** "conclave 0.1.0 (commit 1a2b3c4d5e6f, node v24.9.0, linux-x64)" */
export function versionLine(b: BuildInfo = buildInfo()): string {
  return `conclave ${b.version} (commit ${b.commit === 'unknown' ? 'unknown' : b.commit.slice(0, 12)}, node ${b.node}, ${b.platform})`;
}

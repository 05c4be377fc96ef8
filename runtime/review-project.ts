// Static review of a whole extracted ZIP project: every .py file is reviewed (one reviewer process),
// the entrypoint file must carry the inner_steps contract, the other files may not be entrypoints. The
// files are analysed as one program (imports between them followed), each judged on its own findings.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { reviewFiles } from './review.ts';
import type { FileReview, Finding, ReviewOptions, TokenStream } from './review.ts';
import { localModulesOf } from './zip.ts';
import type { ExtractedProject } from './zip.ts';

export interface ProjectReview {
  verdict: 'accept' | 'reject';
  /** Findings of every file; each message starts with the file's path. */
  findings: Finding[];
  policyHash: string;
  files: FileReview[];
  /** The entrypoint's normalised token stream (duplicate detection), when requested. */
  fingerprint?: TokenStream;
}

/** 'helpers.py' → helpers, 'pkg/util.py' → pkg.util, 'pkg/__init__.py' → pkg (rules/project.py agrees). */
export function moduleName(path: string): string {
  const parts = path.replace(/\.py$/, '').split('/');
  if (parts[parts.length - 1] === '__init__') parts.pop();
  return parts.join('.');
}

export async function reviewProject(project: ExtractedProject, opts: ReviewOptions = {}): Promise<ProjectReview> {
  const pyFiles = project.files.filter((f) => f.path.endsWith('.py'));
  const localModules = localModulesOf(project.files);
  const inputs = await Promise.all(pyFiles.map(async (f) => ({
    id: f.path,
    source: await readFile(join(project.dir, ...f.path.split('/'))),
    entrypoint: f.path === project.entrypoint,
    localModules,
    project: 'project',
    module: moduleName(f.path),
  })));
  const batch = await reviewFiles(inputs, { fingerprint: true, ...opts });
  const findings = batch.results.flatMap((r) => r.findings.map((f) => ({ ...f, message: `${r.id}: ${f.message}` })));
  const entry = batch.results.find((r) => r.id === project.entrypoint);
  return {
    verdict: findings.length === 0 && batch.results.every((r) => r.verdict === 'accept') ? 'accept' : 'reject',
    findings,
    policyHash: batch.policyHash,
    files: batch.results,
    fingerprint: entry?.fingerprint,
  };
}

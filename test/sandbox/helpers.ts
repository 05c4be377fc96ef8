// Shared set-up for the sandbox tests: the image (built when missing or stale), one evaluator whose
// run reference is computed once for the whole suite, and a session label to find leftover containers.
import Dockerode from 'dockerode';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { ensureEvaluatorImage, seccompProfileText, type ImageInfo } from '../../runtime/sandbox-image.ts';
import { loadPolicy, type EvaluatorPolicy } from '../../runtime/evaluator-policy.ts';
import { SubmissionEvaluator, type EvaluatorConfig } from '../../runtime/evaluate.ts';
import { DockerScheduler } from '../../runtime/docker-hosts.ts';

export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
export const RUN_ID = 4242;
/** The run's chain randomness (what the node reads as the hash of the run's epoch start block). */
export const RANDOMNESS = '0x' + 'c0ffee'.repeat(10) + '0123';
export const OTHER_RANDOMNESS = '0x' + 'beef'.repeat(16);
export const docker = new Dockerode();
export const session = 'test-' + randomBytes(6).toString('hex');
let root: string | undefined;
/** Created on first use (the evaluate suite removes it in its after hook). */
export function testCacheRoot(): string {
  root ??= mkdtempSync(join(tmpdir(), 'conclave-sandbox-test-'));
  return root;
}

let image: Promise<ImageInfo> | undefined;
export function testImage(): Promise<ImageInfo> {
  image ??= ensureEvaluatorImage({ docker });
  return image;
}

/** CI-sized policy: fewer repetitions than the default (the checks run on every repetition anyway). */
export function testPolicy(repetitions: number, warmup: number): EvaluatorPolicy {
  const p = loadPolicy();
  return { ...p, repetitions, warmupRepetitions: warmup };
}

export async function makeEvaluator(policy: EvaluatorPolicy, concurrency: number, extra: Partial<EvaluatorConfig> = {}): Promise<SubmissionEvaluator> {
  const img = await testImage();
  return new SubmissionEvaluator({
    scheduler: new DockerScheduler([{ config: { name: 'local', socketPath: '/var/run/docker.sock', concurrency }, docker }]),
    image: img.tag, imageDigest: img.digest, hardwareClass: 'cpu-2core', policy, seccompProfile: seccompProfileText(),
    cacheRoot: testCacheRoot(), runnerSession: session, ...extra,
  });
}

export async function ourContainers(): Promise<string[]> {
  const list = await docker.listContainers({ all: true, filters: { label: [`conclave.sandbox.session=${session}`] } });
  return list.map((c) => c.Id);
}

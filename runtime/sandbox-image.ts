// Builds the evaluator image offline: debootstrap minbase (python3-minimal, python3-torch,
// python3-numpy) → `docker import` as conclave-base:bookworm (only when that image is missing), then
// docker/Dockerfile.cpu on top (evaluator, sandbox user, seccomp profile) → conclave-evaluator:cpu.
// Idempotent: the image carries a label with the hash of its inputs; a current image is not rebuilt.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Dockerode from 'dockerode';

export const DOCKER_DIR = fileURLToPath(new URL('../docker/', import.meta.url));
export const BASE_IMAGE = 'conclave-base:bookworm';
/** The evaluator image's tag; $CONCLAVE_EVALUATOR_IMAGE names another (e.g. two checkouts side by side on one engine). */
export const CPU_IMAGE = process.env.CONCLAVE_EVALUATOR_IMAGE || 'conclave-evaluator:cpu';
export const INPUTS_LABEL = 'conclave.inputs';
export const SECCOMP_PATH = join(DOCKER_DIR, 'seccomp.json');

export interface ImageBuildOptions {
  docker: Dockerode;
  tag?: string;
  baseTag?: string;
  dockerfile?: string;
  /** where debootstrap's root filesystem is cached (env CONCLAVE_ROOTFS_DIR; default /var/tmp/conclave/rootfs) */
  rootfsDir?: string;
  mirror?: string;
  force?: boolean;
  log?: (line: string) => void;
}

export interface ImageInfo { tag: string; digest: string; built: boolean; inputsHash: string; baseBuilt: boolean }

export function seccompProfileText(): string {
  const text = readFileSync(SECCOMP_PATH, 'utf8');
  JSON.parse(text); // a broken profile must fail here, not as an opaque Docker error
  return text;
}

/** The files that go into the build context (evaluator sources, Dockerfile, seccomp profile). */
export function contextFiles(dockerfile: string): string[] {
  const out: string[] = [dockerfile, 'seccomp.json'];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (name === '__pycache__' || name.endsWith('.pyc')) continue;
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p); else out.push(relative(DOCKER_DIR, p));
    }
  };
  walk(join(DOCKER_DIR, 'evaluator'));
  return out;
}

export function inputsHash(dockerfile: string, baseId: string): string {
  const h = createHash('sha256').update(`base ${baseId}\n`);
  for (const f of contextFiles(dockerfile)) {
    const data = readFileSync(join(DOCKER_DIR, f));
    h.update(`${f} ${data.length}\n`).update(data);
  }
  return h.digest('hex');
}

async function imageInfo(docker: Dockerode, tag: string): Promise<Dockerode.ImageInspectInfo | null> {
  try { return await docker.getImage(tag).inspect(); } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return null;
    throw e;
  }
}

function runLogged(cmd: string, args: string[], log: (l: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout.on('data', (d: Buffer) => log(d.toString().trimEnd()));
    p.stderr.on('data', (d: Buffer) => log(d.toString().trimEnd()));
    p.on('error', (e) => reject(new Error(`${cmd} could not start: ${e.message}. Install it (apt-get install ${cmd}) or load ${BASE_IMAGE} from another machine.`)));
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.slice(0, 3).join(' ')}... exited with ${code}`))));
  });
}

/** conclave-base:bookworm: from the debootstrap root filesystem (made when missing), via docker import. */
export async function ensureBaseImage(opts: ImageBuildOptions): Promise<{ id: string; built: boolean }> {
  const baseTag = opts.baseTag ?? BASE_IMAGE;
  const log = opts.log ?? (() => undefined);
  const have = await imageInfo(opts.docker, baseTag);
  if (have) return { id: have.Id, built: false };
  const rootfs = opts.rootfsDir ?? process.env.CONCLAVE_ROOTFS_DIR ?? '/var/tmp/conclave/rootfs';
  if (!existsSync(join(rootfs, 'usr/bin/python3'))) {
    log(`debootstrap bookworm into ${rootfs} (minbase + python3-minimal, python3-torch, python3-numpy)`);
    mkdirSync(rootfs, { recursive: true });
    await runLogged('debootstrap', ['--variant=minbase', '--include=python3-minimal,python3-torch,python3-numpy', 'bookworm', rootfs,
      opts.mirror ?? 'http://deb.debian.org/debian'], log);
  }
  log(`docker import ${rootfs} as ${baseTag}`);
  const [repo, tag] = baseTag.split(':');
  const tar = spawn('tar', ['-C', rootfs, '--numeric-owner', '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const tarDone = new Promise<void>((res, rej) => tar.on('close', (c) => (c === 0 ? res() : rej(new Error(`tar of ${rootfs} exited with ${c}`)))));
  const stream = await opts.docker.importImage(tar.stdout, { repo, tag });
  await new Promise<void>((res, rej) => opts.docker.modem.followProgress(stream, (e) => (e ? rej(e) : res())));
  await tarDone;
  const made = await imageInfo(opts.docker, baseTag);
  if (!made) throw new Error(`docker import finished but ${baseTag} is not there`);
  return { id: made.Id, built: true };
}

/** Builds the evaluator image unless the current one was built from the same inputs. */
export async function ensureEvaluatorImage(opts: ImageBuildOptions): Promise<ImageInfo> {
  const tag = opts.tag ?? CPU_IMAGE;
  const dockerfile = opts.dockerfile ?? 'Dockerfile.cpu';
  const log = opts.log ?? (() => undefined);
  seccompProfileText();
  const base = await ensureBaseImage(opts);
  const hash = inputsHash(dockerfile, base.id);
  const current = await imageInfo(opts.docker, tag);
  if (!opts.force && current && current.Config?.Labels?.[INPUTS_LABEL] === hash) {
    return { tag, digest: current.Id, built: false, inputsHash: hash, baseBuilt: base.built };
  }
  log(`building ${tag} from docker/${dockerfile}`);
  const stream = await opts.docker.buildImage({ context: DOCKER_DIR, src: contextFiles(dockerfile) }, {
    t: tag, dockerfile, labels: JSON.stringify({ [INPUTS_LABEL]: hash }), networkmode: 'none', rm: true, forcerm: true, pull: false,
  } as unknown as Dockerode.ImageBuildOptions);
  let buildError: string | undefined;
  await new Promise<void>((res, rej) => opts.docker.modem.followProgress(stream, (e) => (e ? rej(e) : res()), (ev: { stream?: string; error?: string }) => {
    if (ev.error) buildError = ev.error;
    if (ev.stream?.trim()) log(ev.stream.trimEnd());
  }));
  if (buildError) throw new Error(`docker build of ${tag} failed: ${buildError}`);
  const made = await imageInfo(opts.docker, tag);
  if (!made || made.Config?.Labels?.[INPUTS_LABEL] !== hash) throw new Error(`docker build finished but ${tag} does not carry the expected inputs label`);
  return { tag, digest: made.Id, built: true, inputsHash: hash, baseBuilt: base.built };
}

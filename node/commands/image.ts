// `conclave image`: build the sandbox evaluator image offline and print its digest.
import Dockerode from 'dockerode';
import { parseFlags, printJson, type Command } from '../cli-kit.ts';
import { CPU_IMAGE, ensureEvaluatorImage } from '../../runtime/sandbox-image.ts';

const help = `Usage: conclave image [--tag TAG] [--rootfs DIR] [--force] [--json] [--quiet]

Build the sandbox evaluator image offline and print its digest (the digest feeds policyHash).

The base image conclave-base:bookworm is made from Debian packages when it is missing
(debootstrap --variant=minbase with python3-minimal, python3-torch, python3-numpy, then
docker import); docker/Dockerfile.cpu adds the evaluator, a non-root user and the seccomp
profile. Idempotent: when the image was built from the same inputs it is not rebuilt.

Options:
  --tag TAG      image tag to build (default: ${CPU_IMAGE})
  --rootfs DIR   debootstrap root filesystem cache (default: $CONCLAVE_ROOTFS_DIR or /var/tmp/conclave/rootfs)
  --force        rebuild even when the image is current
  --json         print {tag, digest, built, inputsHash} as JSON
  --quiet        no build log on stderr

Examples:
  npm run image
  conclave image --json
  conclave image --force --rootfs /srv/conclave/rootfs
`;

const command: Command = {
  name: 'image',
  help,
  async run(argv) {
    const { values } = parseFlags(argv, {
      tag: { type: 'string' }, rootfs: { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' }, quiet: { type: 'boolean' },
    }, false);
    const docker = new Dockerode();
    try {
      await docker.ping();
    } catch (e) {
      process.stderr.write(`conclave image: no Docker engine reachable (${(e as Error).message}). Start dockerd or set DOCKER_HOST.\n`);
      return 2;
    }
    const info = await ensureEvaluatorImage({
      docker, tag: values.tag, rootfsDir: values.rootfs, force: values.force,
      log: values.quiet ? undefined : (l) => process.stderr.write(l + '\n'),
    });
    if (values.json) printJson(info);
    else process.stdout.write(`${info.tag} ${info.digest}${info.built ? '' : ' (current, not rebuilt)'}\n`);
    return 0;
  },
};

export default command;

// conclave review FILE: static review of a submission (.py or ZIP project) with CPython's ast.
import { readFile, rm } from 'node:fs/promises';
import type { Command } from '../cli-kit.ts';
import { parseFlags, printJson, UsageError } from '../cli-kit.ts';
import { loadPolicy, reviewSource, ReviewError } from '../../runtime/review.ts';
import type { ReviewEngine } from '../../runtime/review.ts';
import { reviewProject } from '../../runtime/review-project.ts';
import { extractZipProject, looksLikeZip, ZipRefusal } from '../../runtime/zip.ts';
import { IntakeFault } from '../../runtime/intake-fault.ts';

const help = `Usage: conclave review FILE [options]

Static review of a miner submission: a Python file, or a ZIP project whose entrypoint is train.py.
The verdict comes from CPython's own ast, run inside the sandbox image with network none when a
Docker engine and the image are present, otherwise by the host's python3 (isolated mode).

Options:
  --json               print the verdict as JSON {verdict, findings, policyHash}
  --engine ENGINE      auto | docker | host (default: $CONCLAVE_REVIEW_ENGINE or auto)
  --image IMAGE        review image (default: $CONCLAVE_REVIEW_IMAGE, else conclave-evaluator:cpu,
                       else conclave-base:bookworm)
  --policy FILE        policy JSON (default: docker/review/policy.v1.json)
  --image-digest D     evaluator image digest for policyHash (default: the review image's digest)
  -h, --help           show this help

Exit status: 0 accepted, 1 rejected (any refusal of the archive or finding of the review, incl.
too-complex), 2 error of this machine or of the command line (unreadable FILE, the reviewer or Docker
not starting, no space to extract, bad flags). A ZIP refusal is reported as the finding zip-<code>.

Examples:
  conclave review submission.py
  conclave review project.zip --json
  conclave review train.py --engine host --policy my-policy.json
`;

const command: Command = {
  name: 'review',
  help,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      json: { type: 'boolean' },
      engine: { type: 'string' },
      image: { type: 'string' },
      policy: { type: 'string' },
      'image-digest': { type: 'string' },
    });
    if (positionals.length !== 1) throw new UsageError('expected exactly one FILE to review');
    const engine = (values.engine ?? process.env.CONCLAVE_REVIEW_ENGINE ?? 'auto') as ReviewEngine;
    if (!['auto', 'docker', 'host'].includes(engine)) throw new UsageError(`--engine must be auto, docker or host (got '${engine}')`);
    const file = positionals[0];
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      process.stderr.write(`conclave review: cannot read ${file}: ${(err as Error).message}\n`);
      return 2;
    }
    const opts = {
      engine, image: values.image, imageDigest: values['image-digest'],
      policy: values.policy ? loadPolicy(values.policy) : undefined,
    };
    let verdict: { verdict: 'accept' | 'reject'; findings: Array<{ rule: string; line: number; col: number; message: string }>; policyHash: string };
    try {
      if (looksLikeZip(bytes)) {
        let project;
        try {
          project = await extractZipProject(bytes);
        } catch (err) {
          if (!(err instanceof ZipRefusal)) throw err;
          const hash = (await reviewSource('', { ...opts, entrypoint: false })).policyHash;
          verdict = { verdict: 'reject', findings: [{ rule: `zip-${err.code}`, line: 0, col: 0, message: err.message }], policyHash: hash };
          project = undefined;
        }
        if (project) {
          try {
            const r = await reviewProject(project, opts);
            verdict = { verdict: r.verdict, findings: r.findings, policyHash: r.policyHash };
          } finally {
            await rm(project.dir, { recursive: true, force: true });
          }
        }
      } else {
        const r = await reviewSource(bytes, opts);
        verdict = { verdict: r.verdict, findings: r.findings, policyHash: r.policyHash };
      }
    } catch (err) {
      if (err instanceof ReviewError || err instanceof IntakeFault) {
        process.stderr.write(`conclave review: ${err.message}\n`);
        return 2;
      }
      throw err;
    }
    if (values.json) printJson(verdict!);
    else {
      process.stdout.write(`${verdict!.verdict === 'accept' ? 'ACCEPT' : 'REJECT'} ${file}\n`);
      for (const f of verdict!.findings) process.stdout.write(`  ${f.line}:${f.col}  ${f.rule.padEnd(20)} ${f.message}\n`);
      process.stdout.write(`policyHash ${verdict!.policyHash}\n`);
    }
    return verdict!.verdict === 'accept' ? 0 : 1;
  },
};

export default command;

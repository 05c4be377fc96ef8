// conclave fetch URL --sha256 HEX: fetch a miner submission with the SSRF-safe fetcher.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from '../cli-kit.ts';
import { parseFlags, printJson, requireFlag, UsageError, optionalIntFlag } from '../cli-kit.ts';
import { FETCH_DEFAULTS, fetchSubmission, FetchRefusal } from '../../runtime/fetch.ts';

const help = `Usage: conclave fetch URL --sha256 HEX [options]

Fetch a miner's submission the way the validator does: http/https only, every resolved address
checked against private/loopback/link-local/reserved ranges and pinned for the connection, at most
3 redirects (each re-checked), a size cap enforced while streaming, HTML pages and listings refused,
and the sha256 of the bytes compared with the commitment's hash.

Options:
  --sha256 HEX         expected sha256 of the submission (required)
  --out FILE           where to write the bytes (default: a fresh file under the temp directory)
  --max-bytes N        size cap in bytes (default: ${FETCH_DEFAULTS.maxBytes})
  --timeout-ms N       total timeout (default: ${FETCH_DEFAULTS.totalTimeoutMs})
  --json               print the result as JSON
  -h, --help           show this help

Exit status: 0 fetched (prints the path of the bytes), 1 refused (prints the code and the reason),
2 usage error or the bytes cannot be written (--out exists, no space).

Examples:
  conclave fetch https://raw.githubusercontent.com/miner/sub/main/train.py --sha256 9f2c...e1
  conclave fetch https://example.com/project.zip --sha256 9f2c...e1 --out /tmp/project.zip --json
`;

const command: Command = {
  name: 'fetch',
  help,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      sha256: { type: 'string' }, out: { type: 'string' }, 'max-bytes': { type: 'string' },
      'timeout-ms': { type: 'string' }, json: { type: 'boolean' },
    });
    if (positionals.length !== 1) throw new UsageError('expected exactly one URL');
    const sha256 = requireFlag(values.sha256, 'sha256');
    if (!/^[0-9a-fA-F]{64}$/.test(sha256)) throw new UsageError('--sha256 must be 64 hex digits');
    try {
      const r = await fetchSubmission(positionals[0], {
        sha256, maxBytes: optionalIntFlag(values['max-bytes'], 'max-bytes', { min: 1 }), totalTimeoutMs: optionalIntFlag(values['timeout-ms'], 'timeout-ms', { min: 1 }),
      });
      let path: string;
      try {
        path = values.out ?? join(await mkdtemp(join(tmpdir(), 'conclave-fetch-')), 'submission');
        await writeFile(path, r.bytes, { flag: 'wx' });
      } catch (err) {
        process.stderr.write(`conclave fetch: fetched ${r.bytes.length} bytes but cannot write them${values.out ? ` to ${values.out}` : ''}: ${(err as Error).message}; ` +
          'pass --out with a new file in a writable directory\n');
        return 2;
      }
      if (values.json) printJson({ ok: true, path, sha256: r.sha256, bytes: r.bytes.length, finalUrl: r.finalUrl, hops: r.hops });
      else process.stdout.write(`${path}\n`);
      return 0;
    } catch (err) {
      if (!(err instanceof FetchRefusal)) throw err;
      if (values.json) printJson({ ok: false, code: err.code, reason: err.message, url: err.url });
      else process.stdout.write(`refused (${err.code}): ${err.message}\n`);
      return 1;
    }
  },
};

export default command;

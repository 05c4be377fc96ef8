// `conclave devnet` (npm run devnet): a whole subnet on this machine, end to end.
import { writeFileSync } from 'node:fs';
import { parseFlags, type Command, intFlag } from '../cli-kit.ts';

const help = `Usage: conclave devnet [--runs N] [--json-summary FILE] [--block-ms MS] [--byzantine] [--keep]

Run a complete Conclave subnet on this machine: the devchain (default genesis: 4 validators of
unequal stake, 6 miners), the miners' code served from a loopback HTTP server, 4 validator
processes (conclave start, generated TOML configs in a temp dir) and the real Docker sandbox.
The miners: honest, faster honest, a renamed copy of the faster one (duplicate), a timer cheat,
one that skips backward(), and one whose URL redirects to another loopback address
(fetch-failed). Shows progress (evaluations, commitments, reports, certificates, weights), then
a table (miner, consensus score, status, winner) and the verdict of conclave audit against one
validator's API. Needs a Docker engine; builds conclave-evaluator:cpu when it is missing.

Options:
  --runs N              runs (epochs) to complete                              [default: 1]
  --json-summary FILE   also write the summary as JSON to FILE
  --block-ms MS         block time while validators work                       [default: 1000]
  --commit-window N     commit window in blocks (fast-forwarded once all
                        validators have committed)                             [default: 400]
  --kill-one            SIGKILL validator 3 (the smallest stake) once it has
                        committed its report hash: the others must still certify
  --byzantine           validator 3 is an adversary: it proposes selectively (leaving
                        an honest report out), relays bindings naming honest node keys,
                        fetches reports before the reveal window and brute-forces the
                        salted commitments; ok only if the honest validators certify the
                        honest outcome and every attempt is refused (listed in the summary)
  --keep                keep the temp dir (configs, data, logs) afterwards
  --timeout S           give up after S seconds                                [default: 900]

Exit status: 0 when every run was certified by every live validator with one certificate and
the audit verifies; 1 otherwise; 2 on bad usage or when there is no Docker engine.

Examples:
  npm run devnet
  conclave devnet --runs 2 --json-summary devnet.json
  conclave devnet --kill-one --keep
  npm run devnet -- --byzantine --json-summary byzantine.json
`;

const command: Command = {
  name: 'devnet',
  help,
  async run(argv) {
    const { values } = parseFlags(argv, {
      runs: { type: 'string' }, 'json-summary': { type: 'string' }, 'block-ms': { type: 'string' }, 'commit-window': { type: 'string' },
      'kill-one': { type: 'boolean' }, byzantine: { type: 'boolean' }, keep: { type: 'boolean' }, timeout: { type: 'string' },
    });
    const runs = intFlag(values.runs, 'runs', 1, { min: 1, max: 20 });
    const blockMs = intFlag(values['block-ms'], 'block-ms', 1000, { min: 100, max: 60_000 });
    const commitWindow = intFlag(values['commit-window'], 'commit-window', 400, { min: 10, max: 100_000 });
    const timeoutS = intFlag(values.timeout, 'timeout', 900, { min: 30, max: 86_400 });
    const { runDevnet, formatSummary, DevnetError } = await import('../devnet/devnet.ts');
    let summary;
    try {
      if (values['kill-one'] && values.byzantine) throw new DevnetError('--kill-one and --byzantine both act on validator 3: choose one');
      summary = await runDevnet({ runs, blockMs, commitWindow, keep: values.keep, timeoutMs: timeoutS * 1000, kill: values['kill-one'] ? { index: 3, phase: 'committed' } : undefined, byzantine: values.byzantine });
    } catch (err) {
      if (err instanceof DevnetError) {
        process.stderr.write(`conclave devnet: ${err.message}\n`);
        return 2;
      }
      throw err;
    }
    process.stdout.write(formatSummary(summary));
    if (values['json-summary']) writeFileSync(values['json-summary'], JSON.stringify(summary, null, 2) + '\n');
    return summary.ok ? 0 : 1;
  },
};

export default command;

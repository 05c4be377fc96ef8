// conclave archive put|get|list|equivocations|repair --db DIR
import { readFile } from 'node:fs/promises';
import type { Command } from '../cli-kit.ts';
import { UsageError, parseFlags, printJson, requireFlag, optionalIntFlag } from '../cli-kit.ts';
import { Archive } from '../archive.ts';
import { cryptoReady } from '../../proto/signer.ts';
import { parseSignedScoreReportJson, scoreReportHash, type SignedScoreReport } from '../../proto/score-report.ts';

const help = `Usage: conclave archive <put|get|list|equivocations|repair> --db DIR [options]

Work with a Conclave LevelDB archive (signed score reports, equivocation proofs, certificates).
The archive is single-writer: stop a node before pointing this command at its --db.
  put            Verify and archive signed reports from --in (one object or an array).
                 A second, different report of the same validator and run is kept as an
                 equivocation proof, never over the first. Exit 1 if any report is invalid.
  get            Print the report of --validator in --run (exit 1 if absent).
  list           Without --run: the runs with their report counts. With --run: that run's reports.
  equivocations  Print equivocation proofs (pairs of conflicting signed reports), optionally of --run.
  repair         Run LevelDB's repair on a damaged store (back the directory up first).

Options:
  --db DIR             Archive directory (required)
  --in FILE            put: JSON file with a signed report or an array of them
  --run N              Run id (block number at which the run's epoch starts)
  --validator SS58     get: the validator hotkey
  --verify             get/list: re-verify signatures while reading
  --json               Machine-readable output

Examples:
  conclave archive put --db ./archive --in signed.json
  conclave archive list --db ./archive --run 4200000
  conclave archive get --db ./archive --run 4200000 --validator 5F...
  conclave archive equivocations --db ./archive
`;

const options = {
  db: { type: 'string' },
  in: { type: 'string' },
  run: { type: 'string' },
  validator: { type: 'string' },
  verify: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
} as const;

function summary(s: SignedScoreReport) {
  return { runId: s.report.runId, validatorHotkey: s.report.validatorHotkey, sha256: scoreReportHash(s.report), entries: s.report.entries.length, issuedAt: s.report.issuedAt };
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, options);
  const [sub, ...extra] = positionals;
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  if (!['put', 'get', 'list', 'equivocations', 'repair'].includes(sub ?? '')) {
    throw new UsageError(sub ? `unknown subcommand '${sub}' (expected put, get, list, equivocations or repair)` : 'missing subcommand: put, get, list, equivocations or repair');
  }
  const dir = requireFlag(values.db, 'db');
  if (sub === 'repair') {
    await Archive.repair(dir);
    process.stdout.write(`repaired ${dir}\n`);
    return 0;
  }
  await cryptoReady();
  const runId = optionalIntFlag(values.run, 'run');
  let items: SignedScoreReport[] = [];
  if (sub === 'put') {
    const path = requireFlag(values.in, 'in');
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(path, 'utf8'));
    } catch (err) {
      throw new UsageError(`cannot read --in ${path}: ${(err as Error).message}`);
    }
    items = (Array.isArray(raw) ? raw : [raw]).map((x, i) => {
      try {
        return parseSignedScoreReportJson(x);
      } catch (err) {
        throw new Error(`${path}${Array.isArray(raw) ? ` item ${i}` : ''}: ${(err as Error).message}; nothing was archived`);
      }
    });
  }
  const archive = await Archive.open(dir, { createIfMissing: sub === 'put' });
  try {
    switch (sub) {
      case 'put': {
        const results = await archive.putReports(items);
        if (values.json) printJson(results);
        else results.forEach((r, i) => process.stdout.write(`${r.status.padEnd(12)} ${r.status === 'invalid' ? r.reason : `run ${items[i].report.runId} ${items[i].report.validatorHotkey} ${r.hash}`}\n`));
        return results.some((r) => r.status === 'invalid') ? 1 : 0;
      }
      case 'get': {
        const validator = requireFlag(values.validator, 'validator');
        const r = await archive.getReport(requireFlag(runId, 'run'), validator, { verify: values.verify });
        if (!r) {
          process.stderr.write(`no report of ${validator} for run ${runId} in ${dir}\n`);
          return 1;
        }
        printJson(r);
        return 0;
      }
      case 'list': {
        if (runId === undefined) {
          const runs = [];
          for (const id of await archive.runIds()) runs.push({ runId: id, reports: (await archive.reportsOfRun(id)).items.length });
          if (values.json) printJson(runs);
          else if (runs.length === 0) process.stdout.write(`no reports in ${dir}\n`);
          else for (const r of runs) process.stdout.write(`run ${r.runId}  ${r.reports} report(s)\n`);
          return 0;
        }
        const res = await archive.reportsOfRun(runId, { verify: values.verify });
        if (values.json) printJson({ reports: res.items.map(summary), corrupt: res.corrupt });
        else {
          for (const s of res.items.map(summary)) process.stdout.write(`${s.validatorHotkey}  ${s.sha256}  ${s.entries} entries\n`);
          for (const c of res.corrupt) process.stdout.write(`UNREADABLE ${c.key}: ${c.reason}\n`);
          if (res.items.length === 0 && res.corrupt.length === 0) process.stdout.write(`no reports for run ${runId}\n`);
        }
        return res.corrupt.length ? 1 : 0;
      }
      case 'equivocations': {
        const res = await archive.equivocations({ runId });
        if (values.json) printJson(res);
        else {
          for (const p of res.items) {
            process.stdout.write(`run ${p.runId}  ${p.validatorHotkey}\n  first   ${scoreReportHash(p.first.report)}\n  second  ${scoreReportHash(p.second.report)}\n`);
          }
          for (const c of res.corrupt) process.stdout.write(`UNREADABLE ${c.key}: ${c.reason}\n`);
          if (res.items.length === 0) process.stdout.write('no equivocations\n');
        }
        return res.corrupt.length ? 1 : 0;
      }
    }
  } finally {
    await archive.close();
  }
  return 2;
}

const command: Command = { name: 'archive', help, run };
export default command;

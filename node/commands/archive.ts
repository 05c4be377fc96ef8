// conclave archive put|get|list|equivocations|repair --db DIR
import type { Command } from '../cli-kit.ts';
import { UsageError, parseFlags, printJson, requireFlag, optionalIntFlag } from '../cli-kit.ts';
import { Archive, ArchiveError, UNKNOWN_CHAIN, normalizeChain, repairArchive, type PutReportResult, type ResolvedRun } from '../archive.ts';
import { cryptoReady, publicKeyToHotkey } from '../../proto/signer.ts';
import {
  encodeSignedScoreReportJson, scoreReportHash, type SignedScoreReport,
} from '../../proto/score-report.ts';
import { putFromFile } from './archive-put.ts';


const help = `Usage: conclave archive <put|get|list|equivocations|repair> --db DIR [options]

Work with a Conclave archive (signed score reports, equivocation proofs, certificates).
Reports are kept per chain (genesis hash), subnet (netuid), run and validator.
  put            Verify and archive signed reports from --in (one object or an array).
                 A second, different report of the same validator for the same run of the
                 same subnet is kept as an equivocation proof, never over the first; a proof
                 once stored is never replaced. Takes the archive's lock: stop a node that
                 uses this --db first. Exit 1 if any report is invalid.
  get            Print the report of --validator in --run (exit 1 if absent).
  list           Without --run: the runs with their report counts. With --run: that run's reports.
  equivocations  Print equivocation proofs (pairs of conflicting signed reports), optionally of --run.
  repair         Repair a damaged archive. Works on a copy and swaps it in only after checking
                 that every entry readable before is readable after; the old store is kept
                 (superseded-*). Safe to interrupt at any point. Needs free space for a copy.

get, list and equivocations are read-only: they read a private snapshot of the archive, so
they work beside a running node and on a read-only mount (a backup), and write nothing.

Options:
  --db DIR             Archive directory (required)
  --in FILE            put: JSON file (regular file, at most 32 MiB) with a signed report or an
                       array of them; read as a stream, each report bounded like 'report verify'
  --run N              Run id (block number at which the run's epoch starts)
  --netuid N           Subnet (default: every subnet; get needs it when the run exists in several)
  --genesis HASH       Chain genesis hash (0x…): put files reports under it (default: the chain of
                       the node that created the archive, else "unknown"); reads filter by it
                       (default: every chain)
  --validator SS58     get: the validator hotkey
  --verify             get/list: re-verify signatures while reading
  --json               Machine-readable output

Exit status: 0 ok; 1 invalid input, a missing report, an unreadable entry, or a refused repair;
2 usage errors.

Examples:
  conclave archive put --db ./archive --in signed.json
  conclave archive list --db ./archive --run 4200000
  conclave archive get --db ./archive --run 4200000 --netuid 1 --validator 5F...
  conclave archive equivocations --db ./archive
  conclave archive repair --db ./archive
`;

const options = {
  db: { type: 'string' },
  in: { type: 'string' },
  run: { type: 'string' },
  netuid: { type: 'string' },
  genesis: { type: 'string' },
  validator: { type: 'string' },
  verify: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
} as const;

function chainLabel(chain: string): string {
  return chain === UNKNOWN_CHAIN ? 'unknown' : `0x${chain.slice(0, 8)}…`;
}

function summary(s: SignedScoreReport) {
  return { runId: s.report.runId, netuid: s.report.netuid, validatorHotkey: s.report.validatorHotkey, sha256: scoreReportHash(s.report), entries: s.report.entries.length, issuedAt: s.report.issuedAt };
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, options);
  const [sub, ...extra] = positionals;
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  if (!['put', 'get', 'list', 'equivocations', 'repair'].includes(sub ?? '')) {
    throw new UsageError(sub ? `unknown subcommand '${sub}' (expected put, get, list, equivocations or repair)` : 'missing subcommand: put, get, list, equivocations or repair');
  }
  const dir = requireFlag(values.db, 'db');
  const runId = optionalIntFlag(values.run, 'run');
  const netuid = optionalIntFlag(values.netuid, 'netuid', { max: 65535 });
  let genesis: string | undefined;
  if (values.genesis !== undefined) {
    try {
      genesis = normalizeChain(values.genesis);
    } catch (err) {
      throw new UsageError(`--genesis: ${(err as Error).message}`);
    }
  }
  try {
    if (sub === 'repair') return await repair(dir, values.json);
    await cryptoReady();
    if (sub === 'put') return await putFromFile(dir, requireFlag(values.in, 'in'), genesis, values.json);
    const archive = await Archive.openReadOnly(dir);
    try {
      const chain = genesis ?? 'any';
      if (sub === 'get') return await get(archive, dir, chain, requireFlag(runId, 'run'), netuid, requireFlag(values.validator, 'validator'), values.verify, values.json);
      if (sub === 'list') return await list(archive, dir, chain, runId, netuid, values.verify, values.json);
      return await equivocations(archive, chain, runId, netuid, values.json);
    } finally {
      await archive.close();
    }
  } catch (err) {
    if (err instanceof ArchiveError) {
      process.stderr.write(`conclave archive ${sub}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

async function repair(dir: string, json: boolean): Promise<number> {
  const r = await repairArchive(dir, { log: json ? undefined : (l) => process.stderr.write(`  ${l}\n`) });
  if (json) printJson(r);
  else {
    const before = r.before.opened
      ? `${r.before.entries} entries were readable before${r.before.complete ? '' : ` (reading stopped early: ${r.before.error})`}`
      : `the store did not open before (${r.before.error})`;
    process.stdout.write(`repaired ${dir}: ${before}; all of them are readable in the repaired store, which holds ${r.after.entries} entries `
      + `(${r.after.reports} reports, ${r.after.equivocations} equivocation proofs, ${r.after.certificates} certificates; ${r.salvaged} salvaged).\n`
      + `The previous store is kept in ${r.supersededDir}; delete it once you are satisfied.\n`);
  }
  return 0;
}

async function runsMatching(archive: Archive, chain: string, runId: number | undefined, netuid: number | undefined): Promise<ResolvedRun[]> {
  const all = await archive.runs({ chain, netuid });
  return runId === undefined ? all : all.filter((r) => r.runId === runId);
}

async function get(archive: Archive, dir: string, chain: string, runId: number, netuid: number | undefined, validator: string, verify: boolean, json: boolean): Promise<number> {
  const found: SignedScoreReport[] = [];
  for (const r of await runsMatching(archive, chain, runId, netuid)) {
    const s = await archive.getReport(r, validator, { verify });
    if (s) found.push(s);
  }
  if (found.length === 0) {
    process.stderr.write(`no report of ${validator} for run ${runId}${netuid === undefined ? '' : ` of netuid ${netuid}`} in ${dir}\n`);
    return 1;
  }
  if (found.length > 1) {
    const where = found.map((s) => `netuid ${s.report.netuid}`).join(', ');
    process.stderr.write(`${validator} has reports for run ${runId} in several subnets or chains (${where}); choose one with --netuid (and --genesis)\n`);
    return 1;
  }
  printJson(found[0]);
  return 0;
}

async function list(archive: Archive, dir: string, chain: string, runId: number | undefined, netuid: number | undefined, verify: boolean, json: boolean): Promise<number> {
  const runs = await runsMatching(archive, chain, runId, netuid);
  if (runId === undefined) {
    const rows = [];
    for (const r of runs) rows.push({ ...r, reports: await archive.reportCount(r) });
    if (json) printJson(rows);
    else if (rows.length === 0) process.stdout.write(`no reports in ${dir}\n`);
    else for (const r of rows) process.stdout.write(`chain ${chainLabel(r.chain)}  netuid ${r.netuid}  run ${r.runId}  ${r.reports} report(s)\n`);
    return 0;
  }
  const out = [];
  let corrupt = 0;
  for (const r of runs) {
    const res = await archive.reportsOfRun(r, { verify });
    corrupt += res.corrupt.length;
    out.push({ ...r, reports: res.items.map(summary), corrupt: res.corrupt });
  }
  if (json) printJson(runs.length === 1 ? out[0] : out);
  else {
    for (const r of out) {
      process.stdout.write(`chain ${chainLabel(r.chain)}  netuid ${r.netuid}  run ${r.runId}\n`);
      for (const s of r.reports) process.stdout.write(`  ${s.validatorHotkey}  ${s.sha256}  ${s.entries} entries\n`);
      for (const c of r.corrupt) process.stdout.write(`  UNREADABLE ${c.key}: ${c.reason}\n`);
    }
    if (out.length === 0) process.stdout.write(`no reports for run ${runId}\n`);
  }
  return corrupt ? 1 : 0;
}

async function equivocations(archive: Archive, chain: string, runId: number | undefined, netuid: number | undefined, json: boolean): Promise<number> {
  const res = await archive.equivocations({ chain, netuid, runId });
  if (json) printJson(res);
  else {
    for (const p of res.items) {
      process.stdout.write(`chain ${chainLabel(p.chain)}  netuid ${p.netuid}  run ${p.runId}  ${p.validatorHotkey}\n  first   ${scoreReportHash(p.first.report)}\n  second  ${scoreReportHash(p.second.report)}\n`);
    }
    for (const c of res.corrupt) process.stdout.write(`UNREADABLE ${c.key}: ${c.reason}\n`);
    if (res.items.length === 0) process.stdout.write('no equivocations\n');
  }
  return res.corrupt.length ? 1 : 0;
}

const command: Command = { name: 'archive', help, run };
export default command;

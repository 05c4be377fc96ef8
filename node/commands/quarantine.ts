// conclave quarantine list|allow|reject: operator resolution of near-duplicate submissions.
import type { Command } from '../cli-kit.ts';
import { parseFlags, printJson, requireFlag, UsageError } from '../cli-kit.ts';
import { QuarantineError, QuarantineStore } from '../../runtime/quarantine-store.ts';
import type { QuarantineStatus } from '../../runtime/quarantine-store.ts';

const help = `Usage: conclave quarantine <list|allow|reject> [ID] --db DIR [options]

Near-duplicate submissions (similarity above the threshold to an earlier commitment) are quarantined:
they score nothing until an operator resolves them. allow lets the submission compete; reject marks
it a duplicate of the earlier one. Evidence (similarity, matching line spans) is in the intake DB.

Commands:
  list                 list quarantined submissions (default: pending only)
  allow ID             let quarantined submission ID compete
  reject ID            mark quarantined submission ID as a duplicate

Options:
  --db DIR             intake LevelDB directory (required)
  --status S           list filter: pending | allowed | rejected | all (default: pending)
  --note TEXT          operator's note stored with the resolution
  --json               machine-readable output
  -h, --help           show this help

Exit status: 0 done, 1 refused (unknown ID, already resolved), 2 usage or database error.

Examples:
  conclave quarantine list --db ~/.conclave/intake
  conclave quarantine allow 3f9a0c1d2e4b5a69 --db ~/.conclave/intake --note "checked by hand"
`;

const command: Command = {
  name: 'quarantine',
  help,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      db: { type: 'string' }, status: { type: 'string' }, note: { type: 'string' }, json: { type: 'boolean' },
    });
    const [action, id] = positionals;
    if (!['list', 'allow', 'reject'].includes(action ?? '')) throw new UsageError('expected list, allow or reject');
    const db = requireFlag(values.db, 'db');
    let store: QuarantineStore;
    try {
      store = await QuarantineStore.open(db);
    } catch (err) {
      process.stderr.write(`conclave quarantine: ${(err as Error).message}\n`);
      return 2;
    }
    try {
      if (action === 'list') {
        const s = values.status ?? 'pending';
        if (!['pending', 'allowed', 'rejected', 'all'].includes(s)) throw new UsageError('--status must be pending, allowed, rejected or all');
        const recs = await store.listQuarantine(s === 'all' ? undefined : (s as QuarantineStatus));
        if (values.json) printJson(recs);
        else if (recs.length === 0) process.stdout.write(`no ${s === 'all' ? '' : s + ' '}quarantined submissions\n`);
        else {
          for (const r of recs) {
            process.stdout.write(`${r.id}  ${r.status.padEnd(8)} uid ${r.candidate.uid} (${r.candidate.minerHotkey}) ~ uid ${r.prior.uid} ` +
              `(${r.prior.minerHotkey})  similarity ${r.similarity.toFixed(3)}  lines ${r.candidateSpans.map((x) => `${x.fromLine}-${x.toLine}`).join(',')}\n`);
          }
        }
        return 0;
      }
      if (!id) throw new UsageError(`${action} needs the quarantine ID (see \`conclave quarantine list\`)`);
      const rec = await store.resolve(id, action === 'allow' ? 'allowed' : 'rejected', values.note);
      if (values.json) printJson(rec);
      else process.stdout.write(`${rec.id} ${rec.status}\n`);
      return 0;
    } catch (err) {
      if (err instanceof QuarantineError) {
        process.stderr.write(`conclave quarantine: ${err.message}\n`);
        return 1;
      }
      throw err;
    } finally {
      await store.close();
    }
  },
};

export default command;

// `conclave audit --run RUN --source URL|MULTIADDR [--chain ENDPOINT] [--json]`
import type { Command } from '../cli-kit.ts';
import { UsageError, parseFlags, printJson, requireFlag, intFlag } from '../cli-kit.ts';
import { loadConfigFile, parseConfig } from '../config.ts';
import { InputError } from '../bounded/input-error.ts';
import type { JsonLimits } from '../bounded/json.ts';
import { clip } from '../../proto/clip.ts';
import { encodeRoster } from '../../proto/roster.ts';

const help = `Usage: conclave audit --run RUN (--source URL|MULTIADDR | --archive DIR) [--chain ENDPOINT] [--netuid N] [--commit-window BLOCKS] [--rules-from CONFIG] [--json]

Re-verify a past run from a validator's published evidence (or an archive directory) and the
chain alone; nothing the certificate claims is trusted: every vote is attributed by its binding
(hotkey + node-key signatures, this chain and subnet) to a member holding stake at the run's
block and the quorum is recomputed; the counted set is rebuilt from the salted commitments on
chain by the commit deadline (every counted report must be revealed with the salt that opens its
commitment), and the committed-but-uncounted and revealed-but-uncommitted reports are listed with
the reason; the incumbent is rebuilt from the previous certified run the decision names (verified
the same way) or from the weights on chain at the run's start block; median, coverage, winner,
weights, missed reveals and exclusions are recomputed; each validator's weights are read at the
block it set them.
Exit 0 only when every check holds; 1 when any fails (the JSON names each failed check).

Options:
  --run RUN               run id (block number of the epoch start)
  --source URL|MULTIADDR  where to fetch the run's evidence: a validator's API, e.g. http://127.0.0.1:8080,
                          or its p2p address with peer id, e.g. /ip4/127.0.0.1/tcp/30333/p2p/12D3KooW...
                          (read-only run-bundle protocol; no validator key needed; the roster is then
                          derived from chain state at the run block and checked against the certificate)
  --archive DIR           read the run's reports and certificate from a Conclave archive directory instead
                          (a node's <dataDir>/archive, a backup, a read-only mount): opened read-only as a
                          private snapshot, so it works beside the running node and writes nothing; the
                          roster is derived from chain state as for a multiaddr source
  --timeout-ms MS         deadline for fetching the evidence from the source (default: 30000)
  --chain ENDPOINT        finney | test | local | ws(s)://URL (default: local)
  --netuid N              subnet (default: 1)
  --commit-window BLOCKS  commit window of the subnet's validators (default: --rules-from's, or derived from
                          the subnet's tempo at the run block as the validators derive it: 150 at tempo 360)
  --rules-from CONFIG     take the subnet's consensus rules (quorum, burn uid and rate, dethrone
                          margin, min stake, missed-reveals limit, commit window) from a validator TOML
                          config; default: the built-in defaults of validator.example.toml
  --json                  machine-readable result

Evidence is bounded: an HTTP source's responses are refused past 32 MiB (run metadata 8 MiB),
a p2p bundle past 32 MiB, and JSON nesting, strings and value counts are limited; a malformed
source answer is invalid input (exit 1), with the field named.

Examples:
  conclave audit --run 7200 --source http://127.0.0.1:8080 --json
  conclave audit --run 7200 --archive /mnt/backup/archive --chain ws://127.0.0.1:9944
  conclave audit --run 7200 --source /ip4/127.0.0.1/tcp/30333/p2p/12D3KooWExample --chain ws://127.0.0.1:9944
`;

/** Why a request to `url` failed, in words: the address, and refused / no such host / timed out / TLS. */
export function unreachableReason(url: string, err: unknown, timeoutMs: number): string {
  let e: any = err;
  for (let i = 0; i < 4 && e?.cause && !e.code; i++) e = e.cause;
  const code: string | undefined = e?.code ?? (err as any)?.code;
  const name = (err as Error)?.name;
  let host = url;
  try { host = new URL(url).host; } catch { /* keep the url */ }
  if (name === 'TimeoutError' || name === 'AbortError' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT') return `no answer from ${host} within ${timeoutMs} ms (--timeout-ms raises the limit)`;
  switch (code) {
    case 'ECONNREFUSED': return `connection refused by ${host}: nothing listens there (is the validator running, and is that its api.listen address?)`;
    case 'ENOTFOUND': case 'EAI_AGAIN': return `cannot resolve the host name of ${host} (${code})`;
    case 'EHOSTUNREACH': case 'ENETUNREACH': return `${host} is unreachable from here (${code}: no route)`;
    case 'ECONNRESET': case 'UND_ERR_SOCKET': return `${host} closed the connection (${code}): is that an HTTP API?`;
    default:
      if (code && /CERT|TLS|SSL/.test(code)) return `TLS with ${host} failed (${code})`;
      return `${host}: ${e?.message ?? String(err)}${code ? ` (${code})` : ''}`;
  }
}

const MAX_RUN_JSON_BYTES = 8 * 1024 * 1024;
const MAX_REPORTS_JSON_BYTES = 32 * 1024 * 1024;
// What a validator API answers for one run: the run (a roster of at most a few thousand miners) and its
// reports (one signed report per validator, as hex: a 4096-entry report is about 660 KB of hex).
// Values are capped well above that but far below what would cost memory: 32 MiB of `{}` is 10
// million objects. The run's longest string is its certified run (certificate + the voters' bindings, as
// hex): with 64 validators and a few thousand miners it passes 64 KiB, so strings get 1 MiB.
const RUN_JSON_LIMITS: JsonLimits = { maxDepth: 16, maxValues: 200_000, maxStringChars: 1024 * 1024 };
const REPORTS_JSON_LIMITS: JsonLimits = { maxDepth: 16, maxValues: 100_000, maxStringChars: 4 * 1024 * 1024 };

/** Evidence from a validator's HTTP API, shape-checked: a malformed answer names the field. */
function apiEvidence(url: string, run: unknown, reps: unknown) {
  const obj = (v: unknown, what: string): Record<string, unknown> => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new InputError(`${url}: ${what}: expected a JSON object`);
    return v as Record<string, unknown>;
  };
  const str = (v: unknown, what: string): string => {
    if (typeof v !== 'string') throw new InputError(`${url}: ${what}: expected a string, got ${clip(v)}`);
    return v;
  };
  const r = obj(run, 'run');
  const p = obj(reps, 'reports response');
  if (!Array.isArray(r.roster)) throw new InputError(`${url}: run.roster: expected an array`);
  try {
    encodeRoster(r.roster as import('../../proto/roster.ts').RosterEntry[]); // the canonical encoder checks every entry's fields
  } catch (err) {
    throw new InputError(`${url}: run.roster: ${(err as Error).message}`);
  }
  if (!Array.isArray(p.reports)) throw new InputError(`${url}: reports: expected an array`);
  if (p.sealed === true) throw new InputError(`${url}: the run is sealed on that validator (its reveal window has not opened yet): audit it once the run is decided`);
  const certified = p.certifiedRunHex ?? r.certifiedRunHex ?? null;
  if (certified !== null && typeof certified !== 'string') throw new InputError(`${url}: certifiedRunHex: expected a hex string or null, got ${clip(certified)}`);
  return {
    roster: r.roster as import('../../proto/roster.ts').RosterEntry[],
    rosterHash: str(r.rosterHash, 'run.rosterHash'), policyHash: str(r.policyHash, 'run.policyHash'), hardwareClass: str(r.hardwareClass, 'run.hardwareClass'),
    reveals: p.reports.map((x, i) => {
      const o = obj(x, `reports[${i}]`);
      return { hotkey: str(o.hotkey, `reports[${i}].hotkey`).slice(0, 64), revealHex: str(o.revealHex, `reports[${i}].revealHex`) };
    }),
    certifiedRunHex: certified as string | null,
  };
}

/**
 * The run's evidence from an archive directory, read-only. Reports archived without a chain (e.g. by
 * `archive put` without --genesis) are used when the chain's own namespace has none for the run.
 */
async function archiveBundle(dir: string, genesis: string, netuid: number, runId: number): Promise<import('../audit.ts').RunBundleEvidence> {
  const { Archive, UNKNOWN_CHAIN } = await import('../archive.ts');
  const { revealsOfRun, certifiedRunOf } = await import('../validator/evidence.ts');
  const { encodeCertifiedRun } = await import('../../proto/consensus.ts');
  const archive = await Archive.openReadOnly(dir, { chain: genesis });
  try {
    for (const chain of [genesis, UNKNOWN_CHAIN]) {
      const ref = { chain, netuid, runId };
      const reveals = await revealsOfRun(archive, ref);
      const certified = await certifiedRunOf(archive, ref);
      if (reveals.length > 0 || certified) return { reports: reveals, certificate: certified ? encodeCertifiedRun(certified) : null };
    }
  } finally {
    await archive.close();
  }
  throw new InputError(`run ${runId} of netuid ${netuid} is not in the archive ${dir} (for this chain or an unknown one)`);
}

/** GET `url` as JSON within `maxBytes` and the JSON limits; every failure says what went wrong with the source. */
async function getJson(url: string, timeoutMs: number, maxBytes: number, limits: JsonLimits): Promise<unknown> {
  const { readBoundedBody, readJsonBody } = await import('../bounded/http.ts');
  const { parseJsonBounded } = await import('../bounded/json.ts');
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new Error(`cannot read the evidence from --source: GET ${url} failed: ${unreachableReason(url, err, timeoutMs)}`);
  }
  if (!res.ok) {
    let detail = '';
    try {
      const body = parseJsonBounded((await readBoundedBody(res, 64 * 1024, url)).toString('utf8'), url) as { error?: unknown };
      detail = typeof body?.error === 'string' ? body.error.slice(0, 200) : '';
    } catch { /* not JSON, or too long to be an error message */ }
    throw new Error(`cannot read the evidence from --source: GET ${url} answered HTTP ${res.status}${detail ? `: ${detail}` : ''}`);
  }
  try {
    return await readJsonBody(res, maxBytes, url, limits);
  } catch (err) {
    if (err instanceof InputError) throw new InputError(`cannot read the evidence from --source: ${err.message}${/not valid JSON/.test(err.message) ? ': is that a Conclave validator API?' : ''}`);
    throw new Error(`cannot read the evidence from --source: GET ${url} failed while reading: ${unreachableReason(url, err, timeoutMs)}`);
  }
}

const command: Command = {
  name: 'audit',
  help,
  async run(argv) {
    const { values } = parseFlags(argv, { run: { type: 'string' }, source: { type: 'string' }, archive: { type: 'string' }, chain: { type: 'string' }, netuid: { type: 'string' }, 'commit-window': { type: 'string' }, 'rules-from': { type: 'string' }, 'timeout-ms': { type: 'string' }, json: { type: 'boolean' } }, false);
    const runId = intFlag(requireFlag(values.run, 'run'), 'run', 0);
    if (values.source !== undefined && values.archive !== undefined) throw new UsageError('give either --source or --archive, not both');
    const archiveDir = values.archive;
    const source = archiveDir === undefined ? requireFlag(values.source, 'source').replace(/\/$/, '') : '';
    const viaP2p = source.startsWith('/');
    if (archiveDir === undefined && viaP2p && !/\/p2p\/[^/]+$/.test(source)) throw new UsageError('--source multiaddr must end in /p2p/<peer id> (the validator logs it as "mesh listening"), e.g. /ip4/127.0.0.1/tcp/30333/p2p/12D3KooW...');
    if (archiveDir === undefined && !viaP2p && !/^https?:\/\//.test(source)) throw new UsageError('--source must be an http(s) URL of a validator API (http://127.0.0.1:8080) or a p2p multiaddr (/ip4/127.0.0.1/tcp/30333/p2p/12D3KooW...)');
    const timeoutMs = intFlag(values['timeout-ms'], 'timeout-ms', 30_000, { min: 1 });
    const cfg = values['rules-from'] ? loadConfigFile(values['rules-from'], { env: {} }) : parseConfig('', { env: {} });
    const netuid = intFlag(values.netuid, 'netuid', cfg.chain.netuid, { max: 65535 });
    const commitWindowFlag = intFlag(values['commit-window'], 'commit-window', cfg.consensus.commitWindowBlocks, { min: 1 });
    const { cryptoReady } = await import('../../proto/signer.ts');
    await cryptoReady();
    // the lean reader: the audit only reads, and @polkadot/api's load and metadata decoration were most of its CPU
    const { LeanChainReader } = await import('../chain/lean/reader.ts');
    const { auditRun, evidenceFromBundle } = await import('../audit.ts');
    const { auditChainWeights } = await import('../audit-chain-reads.ts');
    const { rulesFromConfig, membersOf } = await import('../validator/decision.ts');
    const { derivedWindows } = await import('../validator/windows.ts');
    const { nextEpochAt } = await import('../chain/epoch-schedule.ts');
    const { decodeCertifiedRun } = await import('../../proto/consensus.ts');
    const { fromHex, toHex } = await import('../../proto/codec.ts');
    type Evidence = Pick<import('../audit.ts').AuditInput, 'reveals' | 'certifiedRunHex' | 'roster' | 'rosterHash' | 'policyHash' | 'hardwareClass' | 'rosterFrom'>;
    const { fetchRunBundle } = viaP2p ? await import('../p2p/run-bundle.ts') : { fetchRunBundle: null };
    let fromApi: Evidence | null = null;
    let bundle: import('../audit.ts').RunBundleEvidence | null = null;
    if (archiveDir !== undefined) {
      // read below, once the chain's genesis hash (the archive's key) is known
    } else if (fetchRunBundle) {
      bundle = await fetchRunBundle(source, netuid, runId, { timeoutMs });
    } else {
      const run = await getJson(`${source}/v1/runs/${runId}`, timeoutMs, MAX_RUN_JSON_BYTES, RUN_JSON_LIMITS);
      const reps = await getJson(`${source}/v1/runs/${runId}/reports`, timeoutMs, MAX_REPORTS_JSON_BYTES, REPORTS_JSON_LIMITS);
      fromApi = apiEvidence(source, run, reps);
    }
    const client = await LeanChainReader.connect({ endpoint: values.chain ?? 'local' });
    try {
      const genesisHash = await client.genesisHash();
      /** The certified run of `id` as the source serves it (hex), or null. */
      const certifiedRunAt = async (id: number): Promise<string | null> => {
        try {
          if (archiveDir !== undefined) {
            const b = await archiveBundle(archiveDir, genesisHash, netuid, id);
            return b.certificate ? toHex(b.certificate) : null;
          }
          if (fetchRunBundle) {
            const b = await fetchRunBundle(source, netuid, id, { timeoutMs });
            return b.certificate ? toHex(b.certificate) : null;
          }
          const rec = (await getJson(`${source}/v1/runs/${id}`, timeoutMs, MAX_RUN_JSON_BYTES, RUN_JSON_LIMITS)) as { certifiedRunHex?: unknown };
          return typeof rec?.certifiedRunHex === 'string' ? rec.certifiedRunHex : null;
        } catch {
          return null;
        }
      };
      if (archiveDir !== undefined) bundle = await archiveBundle(archiveDir, genesisHash, netuid, runId);
      const evidence: Evidence = fromApi ?? evidenceFromBundle(bundle!, (await client.minerRoster(netuid, runId)).entries);
      const metagraph = await client.metagraph(netuid, runId);
      const members = membersOf(metagraph, cfg.consensus.minStake);
      // the run's windows as its validators fixed them when it opened: the flag / --rules-from's, else
      // derived from the subnet's tempo at the run block (0 = derive, node/validator/windows.ts)
      const schedule = await client.epochSchedule(netuid, runId);
      const commitWindow = commitWindowFlag || derivedWindows(schedule.tempo).commitBlocks;
      const commitEnd = runId + commitWindow;
      const commitments = await client.scoreCommitments(netuid, runId, commitEnd);
      let decision = null;
      try {
        decision = evidence.certifiedRunHex ? decodeCertifiedRun(fromHex(evidence.certifiedRunHex)).certificate.decision : null;
      } catch {
        // auditRun reports certificate-decodes
      }
      let previous: import('../audit.ts').AuditInput['previous'] = null;
      if (decision?.previous) {
        const hex = await certifiedRunAt(decision.previous.runId);
        if (hex) previous = { certifiedRunHex: hex, metagraph: await client.metagraph(netuid, decision.previous.runId) };
      }
      // weights set for this run: the last update after its commit deadline and before the next run's
      // weights could land (the next run starts when the chain's epoch schedule at the run block says it
      // fires; plain set_weights lands after its commit deadline; on a commit-reveal subnet the chain
      // reveals a run's timelocked commit RevealPeriodEpochs epochs on, so the next run's lands a tempo later)
      const hp = await client.hyperparams(netuid, runId);
      const nextRun = nextEpochAt(schedule);
      const best = (await client.bestBlock()).number;
      const windowEnd = Math.min(best, hp.commitRevealEnabled ? nextRun + Math.max(1, hp.revealPeriodEpochs ?? 1) * schedule.tempo - 1 : nextRun + commitWindow);
      const { chainWeightsAtStart, chainWeights } = await auditChainWeights(client, { netuid, runId, hotkeys: members, commitEnd, windowEnd, atStart: decision !== null && !decision.previous });
      const result = auditRun({ runId, netuid, genesisHash, ...evidence, metagraph, commitments, previous, chainWeightsAtStart, chainWeights, rules: rulesFromConfig(cfg) });
      if (values.json) printJson(result);
      else {
        for (const c of result.checks) process.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'} ${c.check}${c.detail ? `: ${c.detail}` : ''}\n`);
        for (const u of result.uncounted) process.stdout.write(`uncounted  ${u.hotkey}: ${u.reason}\n`);
        for (const u of result.uncommitted) process.stdout.write(`uncommitted ${u.hotkey} report ${u.reportHash.slice(0, 12)}…: ${u.reason}\n`);
        process.stdout.write(`incumbent ${result.incumbent.uid ?? 'none'} (from ${result.incumbent.from}${result.incumbent.previousRunId !== null ? ` run ${result.incumbent.previousRunId}` : ''})\n`);
        process.stdout.write(`\nrun ${runId}: ${result.ok ? 'VERIFIED' : `${result.failed.length} check(s) failed`}; winner ${result.winner ?? 'none'}\n`);
      }
      return result.ok ? 0 : 1;
    } finally {
      client.close();
    }
  },
};

export default command;

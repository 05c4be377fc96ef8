// `conclave audit --run RUN --source URL|MULTIADDR [--chain ENDPOINT] [--json]`
import type { Command } from '../cli-kit.ts';
import { UsageError, parseFlags, printJson, requireFlag, intFlag } from '../cli-kit.ts';
import { loadConfigFile, parseConfig } from '../config.ts';

const help = `Usage: conclave audit --run RUN --source URL|MULTIADDR [--chain ENDPOINT] [--netuid N] [--commit-window BLOCKS] [--rules-from CONFIG] [--json]

Re-verify a past run from a validator's published evidence and the chain alone: fetch its
reports and certificate, verify every signature against the metagraph at the run's block,
check every report hash against that validator's on-chain commitment, recompute median,
winner and weights, compare with the weights set on chain, and list equivocations.
Exit 0 only when every check holds; 1 when any fails (the JSON names each failed check).

Options:
  --run RUN               run id (block number of the epoch start)
  --source URL|MULTIADDR  where to fetch the run's evidence: a validator's API, e.g. http://127.0.0.1:8080,
                          or its p2p address with peer id, e.g. /ip4/127.0.0.1/tcp/30333/p2p/12D3KooW...
                          (read-only run-bundle protocol; no validator key needed; the roster is then
                          derived from chain state at the run block and checked against the certificate)
  --timeout-ms MS         deadline for fetching the evidence from the source (default: 30000)
  --chain ENDPOINT        finney | test | local | ws(s)://URL (default: local)
  --netuid N              subnet (default: 1)
  --commit-window BLOCKS  commit window of the subnet's validators (default: 150, or --rules-from's)
  --rules-from CONFIG     take the subnet's consensus rules (quorum, burn uid and rate, dethrone
                          margin, min stake, commit window) from a validator TOML config; default:
                          the built-in defaults of validator.example.toml
  --json                  machine-readable result

Examples:
  conclave audit --run 7200 --source http://127.0.0.1:8080 --json
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

async function getJson(url: string, timeoutMs: number): Promise<any> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new Error(`cannot read the evidence from --source: GET ${url} failed: ${unreachableReason(url, err, timeoutMs)}`);
  }
  if (!res.ok) {
    let detail = '';
    try { detail = String((await res.json())?.error ?? ''); } catch { /* not JSON */ }
    throw new Error(`cannot read the evidence from --source: GET ${url} answered HTTP ${res.status}${detail ? `: ${detail}` : ''}`);
  }
  try {
    return await res.json();
  } catch (err) {
    throw new Error(`cannot read the evidence from --source: GET ${url} did not answer JSON (${(err as Error).message}): is that a Conclave validator API?`);
  }
}

const command: Command = {
  name: 'audit',
  help,
  async run(argv) {
    const { values } = parseFlags(argv, { run: { type: 'string' }, source: { type: 'string' }, chain: { type: 'string' }, netuid: { type: 'string' }, 'commit-window': { type: 'string' }, 'rules-from': { type: 'string' }, 'timeout-ms': { type: 'string' }, json: { type: 'boolean' } }, false);
    const runId = intFlag(requireFlag(values.run, 'run'), 'run', 0);
    const source = requireFlag(values.source, 'source').replace(/\/$/, '');
    const viaP2p = source.startsWith('/');
    if (viaP2p && !/\/p2p\/[^/]+$/.test(source)) throw new UsageError('--source multiaddr must end in /p2p/<peer id> (the validator logs it as "mesh listening"), e.g. /ip4/127.0.0.1/tcp/30333/p2p/12D3KooW...');
    if (!viaP2p && !/^https?:\/\//.test(source)) throw new UsageError('--source must be an http(s) URL of a validator API (http://127.0.0.1:8080) or a p2p multiaddr (/ip4/127.0.0.1/tcp/30333/p2p/12D3KooW...)');
    const timeoutMs = intFlag(values['timeout-ms'], 'timeout-ms', 30_000, { min: 1 });
    const cfg = values['rules-from'] ? loadConfigFile(values['rules-from'], { env: {} }) : parseConfig('', { env: {} });
    const netuid = intFlag(values.netuid, 'netuid', cfg.chain.netuid, { max: 65535 });
    const commitWindow = intFlag(values['commit-window'], 'commit-window', cfg.consensus.commitWindowBlocks, { min: 1 });
    const { cryptoReady } = await import('../../proto/signer.ts');
    await cryptoReady();
    const { SubtensorClient } = await import('../chain/client.ts');
    const { auditRun, evidenceFromBundle } = await import('../audit.ts');
    const { rulesFromConfig, membersOf } = await import('../validator/decision.ts');
    type Evidence = Pick<import('../audit.ts').AuditInput, 'reports' | 'certificateHex' | 'roster' | 'rosterHash' | 'policyHash' | 'hardwareClass' | 'rosterFrom'>;
    let fromApi: Evidence | null = null;
    let bundle: import('../audit.ts').RunBundleEvidence | null = null;
    if (viaP2p) {
      const { fetchRunBundle } = await import('../p2p/run-bundle.ts');
      bundle = await fetchRunBundle(source, netuid, runId, { timeoutMs });
    } else {
      const run = await getJson(`${source}/v1/runs/${runId}`, timeoutMs);
      const reps = await getJson(`${source}/v1/runs/${runId}/reports`, timeoutMs);
      fromApi = {
        roster: run.roster, rosterHash: run.rosterHash, policyHash: run.policyHash, hardwareClass: run.hardwareClass,
        reports: reps.reports.map((r: { hotkey: string; signedHex: string }) => ({ hotkey: r.hotkey, signedHex: r.signedHex })),
        certificateHex: reps.certificateHex,
      };
    }
    const client = await SubtensorClient.connect({ endpoint: values.chain ?? 'local' });
    try {
      const evidence: Evidence = fromApi ?? evidenceFromBundle(bundle!, (await client.minerRoster(netuid, runId)).entries);
      const metagraph = await client.metagraph(netuid, runId);
      const commitments = await client.scoreCommitments(netuid, runId, runId + commitWindow);
      const chainWeights = new Map<string, { uid: number; weight: number }[]>();
      for (const m of membersOf(metagraph, cfg.consensus.minStake)) chainWeights.set(m.hotkey, (await client.weightsOf(netuid, m.hotkey)) ?? []);
      const result = auditRun({ runId, netuid, incumbent: null, ...evidence, metagraph, commitments, chainWeights, rules: rulesFromConfig(cfg) });
      if (values.json) printJson(result);
      else {
        for (const c of result.checks) process.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'} ${c.check}${c.detail ? `: ${c.detail}` : ''}\n`);
        process.stdout.write(`\nrun ${runId}: ${result.ok ? 'VERIFIED' : `${result.failed.length} check(s) failed`}; winner ${result.winner ?? 'none'}\n`);
      }
      return result.ok ? 0 : 1;
    } finally {
      await client.close();
    }
  },
};

export default command;

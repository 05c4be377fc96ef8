// Figures of a scale run (bench/scale.bench.ts and test/scale): latency from the reveal opening to
// each node's certificate, per-node traffic, CPU, signature checks and memory, agreement checks, and
// `conclave audit` of the run timed as a separate process.
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NETUID, type NodeInfo, type ScaleNetwork } from './network.ts';
import { SubtensorClient } from '../../node/chain/client.ts';
import { loadConfigFile } from '../../node/config.ts';
import { auditRun as auditCore, evidenceFromBundle, type AuditInput } from '../../node/audit.ts';
import { auditChainWeights } from '../../node/audit-chain-reads.ts';
import { decodeCertifiedRun } from '../../proto/consensus.ts';
import { fromHex, toHex } from '../../proto/codec.ts';
import { fetchRunBundle } from '../../node/p2p/run-bundle.ts';
import { membersOf, rulesFromConfig } from '../../node/validator/decision.ts';
import { pct, perNode, type RunResult } from './run.ts';
import { buildCli } from '../../tools/build-cli.ts';

const CLI = fileURLToPath(new URL('../../node/cli.ts', import.meta.url));
const MiB = 1024 * 1024;
const round = (x: number | null, d = 1) => (x === null || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d);
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

/** Honest agreement: every honest live node certified, one decision among them, nobody two. */
export function agreement(net: ScaleNetwork, r: RunResult, honest: (index: number) => boolean) {
  const live = new Set(net.liveNodes().map((x) => x.index));
  const honestNodes = net.nodes.filter((x) => honest(x.index) && live.has(x.index)).map((x) => x.index);
  const decisions = new Set(honestNodes.filter((i) => r.certified.has(i)).map((i) => r.certified.get(i)!.decision));
  return {
    honest_nodes: honestNodes.length,
    honest_certified: honestNodes.filter((i) => r.certified.has(i)).length,
    honest_decisions: decisions.size,
    nodes_certifying_two: r.twoDecisions.length,
    archive_conflicts: r.archiveConflicts.length,
    quorum_miss: r.quorumMiss.length,
    same_decision: decisions.size === 1 && r.twoDecisions.length === 0 && r.archiveConflicts.length === 0,
    all_honest_certified: honestNodes.every((i) => r.certified.has(i)),
    winner: [...r.certified.values()][0]?.winner ?? null,
    counted: [...new Set([...r.certified.values()].map((c) => c.counted))],
  };
}

/** Latency (ms) from `fromMs` to each node's certificate, over the nodes `which` selects. */
export function latency(r: RunResult, fromMs: number, which: (index: number) => boolean) {
  const xs = [...r.certified.values()].filter((c) => which(c.index)).map((c) => c.at - fromMs);
  return { samples: xs.length, p50_ms: pct(xs, 50), p99_ms: pct(xs, 99), max_ms: xs.length ? Math.max(...xs) : null };
}

/** The per-node resource figures of a run. */
export function resources(net: ScaleNetwork, r: RunResult) {
  const p = perNode(r, net.opts.nodesPerWorker);
  const sent = p.traffic.map((t) => t.sent / MiB);
  const recv = p.traffic.map((t) => t.received / MiB);
  const total = p.traffic.map((t) => (t.sent + t.received) / MiB);
  return {
    traffic_nodes: p.traffic.length,
    sent_mib_mean: round(mean(sent), 2), sent_mib_max: round(sent.length ? Math.max(...sent) : null, 2),
    received_mib_mean: round(mean(recv), 2), received_mib_max: round(recv.length ? Math.max(...recv) : null, 2),
    traffic_mib_mean: round(mean(total), 2), traffic_mib_max: round(total.length ? Math.max(...total) : null, 2),
    // reports sent in the compact form, and compact frames ignored by a node that did not hold the roster
    reports_sent_compact: p.traffic.reduce((s, t) => s + t.compact, 0),
    reports_ignored_unknown_roster: p.traffic.reduce((s, t) => s + t.unknownRoster, 0),
    // what the sent bytes were, per node (mean MiB; frames before noise/yamux/gossipsub framing; forwarding of others' gossip not included)
    sent_parts_mib_mean: {
      own_gossip_publishes: round(mean(p.traffic.map((t) => t.parts.published / MiB)), 2),
      direct_consensus: round(mean(p.traffic.map((t) => t.parts.directSent / MiB)), 2),
      fetch_served: round(mean(p.traffic.map((t) => t.parts.fetchServed / MiB)), 2),
    },
    fetch_served_mib_max: round(p.traffic.length ? Math.max(...p.traffic.map((t) => t.parts.fetchServed / MiB)) : null, 2),
    cpu_ms_per_node_mean: round(mean(p.cpuMs), 0), cpu_ms_per_node_max_worker: round(p.cpuMs.length ? Math.max(...p.cpuMs) : null, 0),
    sr25519_verifications_per_node: round(mean(p.verifies.map((v) => v.sr)), 1),
    ed25519_verifications_per_node: round(mean(p.verifies.map((v) => v.ed)), 1),
    rss_mib_per_node_mean: round(mean(p.rss.map((x) => x / MiB)), 1), rss_mib_per_node_max: round(p.rss.length ? Math.max(...p.rss) / MiB : null, 1),
    rss_mib_per_process_max: round(Math.max(...r.after.map((w) => w.rssBytes)) / MiB, 1),
  };
}

export function load(): number[] {
  return loadavg().map((x) => round(x, 2)!);
}

/** Output of a child process run to completion (asynchronously: the devchain it talks to lives in this process). */
function run(cmd: string, args: string[], timeoutMs: number): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => { stdout += d.toString(); });
    p.stderr.on('data', (d) => { stderr = (stderr + d.toString()).slice(-20_000); });
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.once('close', (status) => {
      clearTimeout(t);
      resolve({ status, stdout, stderr });
    });
  });
}

/** Runs `conclave audit` of `runId` against `node`'s run bundle and the devchain; CPU and RSS from /usr/bin/time. */
/**
 * `conclave audit` of `runId` as a separate process, its CPU and RSS: the evidence from `node`'s mesh port
 * (run-bundle protocol, `via` 'multiaddr') or read from its archive directory (`via` 'archive', a read-only
 * snapshot while the node runs); the chain from the devchain either way.
 */
export async function auditRun(net: ScaleNetwork, runId: number, node = net.nodes.find((x) => x.role === 'honest')!, via: 'multiaddr' | 'archive' = 'multiaddr',
  opts: { cli?: 'source' | 'compiled'; validatorsPaused?: boolean } = {}) {
  const cli = opts.cli ?? 'source';
  const evidence = via === 'multiaddr' ? ['--source', node.multiaddr] : ['--archive', join(node.dataDir, 'archive')];
  const args = [cli === 'compiled' ? await compiledCli() : CLI, 'audit', '--run', String(runId), ...evidence, '--chain', net.chain.url, '--netuid', String(NETUID),
    '--commit-window', String(net.opts.commitWindow), '--rules-from', node.configPath, '--json'];
  const t0 = Date.now();
  const audit = () => run('/usr/bin/time', ['-f', 'TIME %U %S %M', process.execPath, ...args], 180_000);
  const r = opts.validatorsPaused ? await net.whilePaused(audit) : await audit();
  const wallMs = Date.now() - t0;
  const m = /TIME ([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr ?? '');
  let result: { ok?: boolean; failed?: string[]; checks?: unknown[] } = {};
  try {
    result = JSON.parse(r.stdout);
  } catch {
    // not JSON: the exit status and stderr say why
  }
  return {
    exit: r.status, ok: result.ok ?? false, failed: result.failed ?? [], checks: Array.isArray(result.checks) ? result.checks.length : 0,
    cpu_ms: m ? Math.round((Number(m[1]) + Number(m[2])) * 1000) : null, max_rss_mib: m ? round(Number(m[3]) / 1024, 1) : null, wall_ms: wallMs,
    error: r.status === 0 ? undefined : (r.stderr ?? '').split('\n').filter((l) => l && !l.startsWith('TIME')).slice(-3).join(' | '),
    via, cli, validators_paused: opts.validatorsPaused ?? false, source: evidence[1], data: join(net.dir),
  };
}

let compiled: Promise<string> | null = null;
/** The compiled CLI (tools/build-cli.ts into dist/, what bin/conclave runs once built), built once per bench. */
function compiledCli(): Promise<string> {
  compiled ??= buildCli({ outdir: fileURLToPath(new URL('../../dist', import.meta.url)), ifAvailable: false }).then((r) => join(r!.outdir, 'cli.js'));
  return compiled;
}

/** CPU of loading the modules `conclave audit` imports (node/cli.ts, its chain reader, run-bundle client, audit), in a fresh process with the CLI's module caches (node/module-caches.ts), warm from the audit run before. */
export async function auditModuleLoad() {
  return scriptCpuMs(`${CLI_PRELUDE} await import(${repoModule('node/chain/lean/reader.ts')}); await import(${repoModule('node/p2p/run-bundle.ts')}); await import(${repoModule('node/audit.ts')}); await (await import(${repoModule('proto/signer.ts')})).cryptoReady();`);
}

/** A repository module's absolute path as a JS string literal, for code run by scriptCpuMs. */
const repoModule = (rel: string) => JSON.stringify(join(fileURLToPath(new URL('../../', import.meta.url)), rel));
/** What the CLI does before a command loads: its module caches, its kit. */
const CLI_PRELUDE = `(await import(${repoModule('node/module-caches.ts')})).enableModuleCaches(); await import(${repoModule('node/cli-kit.ts')});`;

/** User + system CPU (ms) of a fresh `node` running the ES module `code`, or null when it failed. */
async function scriptCpuMs(code: string): Promise<number | null> {
  const r = await run('/usr/bin/time', ['-f', 'TIME %U %S', process.execPath, '--input-type=module', '-e', code], 120_000);
  const m = /TIME ([\d.]+) ([\d.]+)/.exec(r.stderr);
  return r.status === 0 && m ? Math.round((Number(m[1]) + Number(m[2])) * 1000) : null;
}

/**
 * Where the audit's module-load CPU goes: each part the command loads, in its own fresh process with
 * the CLI's module caches (warm: the smallest of `tries`), less a process that loads only the CLI kit.
 * `chain_reader` is the audit's chain reader (node/chain/lean) connected to `chainUrl` with the runtime's
 * metadata fetched and parsed (one read); `polkadot_api_client` is what the audit used before it, @polkadot/api
 * imported and connected (metadata fetched and decorated), for comparison;
 * `p2p_client` is libp2p with tcp, noise and yamux (the run-bundle client of a multiaddr source);
 * `sr25519_wasm` initialises @polkadot/wasm-crypto; `audit_core` is node/audit.ts and what it imports.
 * Parts share dependencies, so they do not add up to the audit's module load.
 */
export async function auditModuleCosts(chainUrl: string, tries = 2) {
  const parts: Record<string, string> = {
    baseline: '',
    chain_reader: `const { LeanChainReader } = await import(${repoModule('node/chain/lean/reader.ts')}); const c = await LeanChainReader.connect({ endpoint: ${JSON.stringify(chainUrl)} }); await c.hyperparams(${NETUID}); c.close();`,
    polkadot_api_client: `const { SubtensorClient } = await import(${repoModule('node/chain/client.ts')}); const c = await SubtensorClient.connect({ endpoint: ${JSON.stringify(chainUrl)} }); await c.close();`,
    p2p_client: `await import(${repoModule('node/p2p/run-bundle.ts')});`,
    sr25519_wasm: `await (await import(${repoModule('proto/signer.ts')})).cryptoReady();`,
    audit_core: `await import(${repoModule('node/audit.ts')});`,
  };
  const cpu: Record<string, number | null> = {};
  for (const [name, code] of Object.entries(parts)) {
    let best: number | null = null;
    for (let i = 0; i < tries; i++) {
      const ms = await scriptCpuMs(`${CLI_PRELUDE} ${code} process.exit(0);`);
      if (ms !== null) best = Math.min(best ?? Infinity, ms);
    }
    cpu[name] = best;
  }
  const base = cpu.baseline;
  return {
    cli_startup: base,
    ...Object.fromEntries(Object.entries(cpu).filter(([k]) => k !== 'baseline').map(([k, v]) => [k, v !== null && base !== null ? v - base : null])),
  };
}

/**
 * The verification work of an audit, in this process: the run bundle and chain state fetched as
 * `conclave audit` fetches them (node/commands/audit.ts), then only `auditRun` (reveals against salted
 * commitments, report signatures, certificate votes against bindings and stake, the recomputed counted
 * set, incumbent and decision, chain weights) timed with process.cpuUsage.
 */
export async function auditVerifyCpu(net: ScaleNetwork, runId: number, node: NodeInfo) {
  const bundle = await fetchRunBundle(node.multiaddr, NETUID, runId, { timeoutMs: 60_000 });
  const client = await SubtensorClient.connect({ endpoint: net.chain.url });
  try {
    const cfg = loadConfigFile(node.configPath, { env: {} });
    const evidence = evidenceFromBundle(bundle, (await client.minerRoster(NETUID, runId)).entries);
    const metagraph = await client.metagraph(NETUID, runId);
    const members = membersOf(metagraph, cfg.consensus.minStake);
    const commitEnd = runId + net.opts.commitWindow;
    const commitments = await client.scoreCommitments(NETUID, runId, commitEnd);
    let decision = null;
    try {
      decision = evidence.certifiedRunHex ? decodeCertifiedRun(fromHex(evidence.certifiedRunHex)).certificate.decision : null;
    } catch {
      // auditRun reports certificate-decodes
    }
    let previous: AuditInput['previous'] = null;
    if (decision?.previous) {
      const prev = await fetchRunBundle(node.multiaddr, NETUID, decision.previous.runId, { timeoutMs: 60_000 });
      if (prev.certificate) previous = { certifiedRunHex: toHex(prev.certificate), metagraph: await client.metagraph(NETUID, decision.previous.runId) };
    }
    // the bench's window: every update on chain now (the bench audits right after the run)
    const windowEnd = (await client.bestBlock()).number;
    const { chainWeightsAtStart, chainWeights } = await auditChainWeights(client, { netuid: NETUID, runId, hotkeys: members, commitEnd, windowEnd, atStart: decision !== null && !decision.previous });
    const c0 = process.cpuUsage();
    const result = auditCore({ runId, netuid: NETUID, genesisHash: net.chain.genesisHash, ...evidence, metagraph, commitments, previous, chainWeightsAtStart, chainWeights, rules: rulesFromConfig(cfg) });
    const cpu = process.cpuUsage(c0);
    return { verify_cpu_ms: Math.round((cpu.user + cpu.system) / 100) / 10, verify_reveals: bundle.reports.length, verify_ok: result.ok, verify_failed: result.checks.filter((c) => !c.ok).map((c) => c.check).slice(0, 10) };
  } finally {
    await client.close();
  }
}

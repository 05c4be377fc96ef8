// `npm run devnet`: a whole subnet on this machine. The devchain (in process, blocks paced by the
// devnet), the miners' loopback file server, 4 `conclave start` validator processes with generated
// configs, the real Docker sandbox; progress from the validators' JSON logs; at the end a table of the
// certified decision and the verdict of `conclave audit` against one validator's API.
//
// Block pacing: 1 block per `blockMs`; fast-forwarded (60 ms blocks) only while every live validator
// is idle waiting for a window to close (all committed, or all done and another run is wanted), so a
// run lasts as long as the evaluations take, not as long as the worst-case window.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Dockerode from 'dockerode';
import { DevChain } from '../devchain/devchain.ts';
import { devValidatorSeed } from '../devchain/genesis.ts';
import { loadOrCreateNodeKey } from '../keys/node-key.ts';
import { DEVNET_MINERS, devHotkeyFile, devnetGenesis, devnetPolicy, freePorts, startMinerServer, writeValidatorConfig, type MinerServer } from './setup.ts';
import { ensureEvaluatorImage } from '../../runtime/sandbox-image.ts';
import { ADVERSARY_INDEX, ByzantineDirector, type ByzantineSummary } from './byzantine.ts';
import { SANDBOX_LABEL } from '../../runtime/sandbox.ts';
import { getJson, runAudit, summariseRun, type DevnetSummary, type RunSummary } from './summary.ts';

export { formatSummary, type DevnetSummary, type MinerRow, type RunSummary, type ValidatorWeights } from './summary.ts';

export class DevnetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DevnetError';
  }
}

export interface DevnetOptions {
  runs?: number;
  blockMs?: number;
  commitWindow?: number;
  revealWindow?: number;
  /** Kill validator `index` (SIGKILL) once its first run reaches `phase` (test of liveness). */
  kill?: { index: number; phase: 'evaluating' | 'committed' | 'publishing' };
  /** Dev faults per validator index (config dev.fault). */
  faults?: Record<number, string>;
  /**
   * Validator 3 is an adversary (node/devnet/byzantine.ts): selective counting, a binding hijack, an
   * early-reveal fetch and copying; `ok` needs the honest outcome certified and every attempt refused.
   */
  byzantine?: boolean;
  /** Keep the temp dir (logs, data) after the run. */
  keep?: boolean;
  /** Whole devnet deadline (default 15 min). */
  timeoutMs?: number;
  log?: (line: string) => void;
  /** Called once the validators' APIs are up (tests probe them while the devnet runs). */
  onReady?: (x: { apis: string[]; chainUrl: string; dir: string }) => void;
  /**
   * Awaited once the runs and the audits are done, before the validators are stopped (tests drive
   * a browser against the live APIs here). `apis`: the live validators' API URLs; `runIds`: the
   * finished runs. Bounded by `onRunsDoneTimeoutMs` (default 60 s); a throw or a timeout becomes a problem.
   */
  onRunsDone?: (x: { apis: string[]; runIds: number[] }) => Promise<void>;
  onRunsDoneTimeoutMs?: number;
}

interface Child {
  index: number;
  hotkey: string;
  proc: ChildProcess;
  alive: boolean;
  killed: boolean;
  api: string;
  phase: Map<number, string>;
}

const CLI = fileURLToPath(new URL('../cli.ts', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


/** Refuses at once, naming the fix, when no Docker engine answers. */
export async function requireDocker(docker = new Dockerode()): Promise<void> {
  try {
    await Promise.race([docker.ping(), sleep(5000).then(() => { throw new Error('no answer within 5 s'); })]);
  } catch (err) {
    throw new DevnetError(
      `the devnet evaluates submissions in the real Docker sandbox, but no Docker engine answers (${(err as Error).message}). ` +
      'Install Docker Engine (https://docs.docker.com/engine/install/), start it (sudo systemctl start docker, or dockerd), ' +
      'make sure this user may use /var/run/docker.sock (or set DOCKER_HOST), then run `npm run devnet` again.',
    );
  }
}

export async function runDevnet(opts: DevnetOptions = {}): Promise<DevnetSummary> {
  const t0 = Date.now();
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const runsWanted = Math.max(1, opts.runs ?? 1);
  const blockMs = opts.blockMs ?? 1000;
  const commitWindow = opts.commitWindow ?? 400;
  const revealWindow = opts.revealWindow ?? 6;
  // the epoch must leave a tenth of itself after the windows for consensus and weights (node/validator/windows.ts)
  const tempo = Math.max(commitWindow + revealWindow + 60, Math.ceil((commitWindow + revealWindow) / 0.9) + 2);
  const deadline = t0 + (opts.timeoutMs ?? 15 * 60_000);
  const problems: string[] = [];

  const docker = new Dockerode();
  await requireDocker(docker);
  log('devnet: checking the evaluator image (conclave-evaluator:cpu; built when missing or stale)…');
  const image = await ensureEvaluatorImage({ docker, log: (l) => log(`  image: ${l}`) });
  log(`devnet: image ${image.tag} ${image.digest.slice(7, 19)}${image.built ? ' (built now)' : ''}`);

  const dir = mkdtempSync(join(tmpdir(), 'conclave-devnet-'));
  const children: Child[] = [];
  let chain: DevChain | undefined;
  let miners: MinerServer | undefined;
  let pacer: NodeJS.Timeout | undefined;
  let summary: DevnetSummary | undefined;
  let stopping = false;
  try {
    miners = await startMinerServer();
    log(`devnet: miners served from ${miners.origin} (redirect target ${miners.internalOrigin} is NOT allowed)`);
    const { genesis, validators, late } = await devnetGenesis(miners, tempo);
    chain = new DevChain({ genesis, port: 0, blockMs: 0 });
    await chain.start();
    const c = chain;
    for (const x of late) c.setCommitment(1, x.hotkey, x.text);
    c.produceBlock();
    // runs start when the subnet's epoch fires (LastEpochBlock): get just past the first one after the
    // late commitment, so that the first run's roster holds both copies
    const lastEpoch = () => Number(c.read('subtensorModule', 'lastEpochBlock', [1]));
    while (lastEpoch() < 2) c.produceBlock();
    c.produceBlock();
    log(`devnet: devchain ${c.url} at block #${c.head} (epoch fired at #${lastEpoch()}); tempo ${tempo}, commit window ${commitWindow}, reveal window ${revealWindow}, commit-reveal weights on, ${blockMs} ms blocks`);

    const policyFile = join(dir, 'evaluator-policy.json');
    writeFileSync(policyFile, JSON.stringify(devnetPolicy(), null, 2));
    const walletPath = join(dir, 'wallets');
    const setups: { index: number; hotkey: string; configPath: string; apiUrl: string; stake: string }[] = [];
    const free = await freePorts(2 * validators);
    const ports = Array.from({ length: validators }, (_, i) => ({ p2p: free[2 * i], api: free[2 * i + 1] }));
    const peers: string[] = [];
    for (let i = 0; i < validators; i++) {
      const vdir = join(dir, `v${i}`);
      mkdirSync(join(vdir, 'data'), { recursive: true });
      const key = await loadOrCreateNodeKey(join(vdir, 'data'));
      peers.push(`/ip4/127.0.0.1/tcp/${ports[i].p2p}/p2p/${key.peerId}`);
    }
    for (let i = 0; i < validators; i++) {
      const hk = await devHotkeyFile(devValidatorSeed(i));
      mkdirSync(join(walletPath, 'devnet', 'hotkeys'), { recursive: true });
      writeFileSync(join(walletPath, 'devnet', 'hotkeys', `validator${i}`), hk.json, { mode: 0o600 });
      const configPath = writeValidatorConfig({
        dir: join(dir, `v${i}`), index: i, walletPath, chainUrl: c.url, p2pPort: ports[i].p2p, apiPort: ports[i].api,
        bootstrap: peers.filter((_, j) => j !== i), allowOrigin: miners.origin, policyFile, commitWindow, revealWindow,
        fault: opts.byzantine && i === ADVERSARY_INDEX ? 'adversary' : opts.faults?.[i], evaluationTimeoutS: 240,
      });
      const stake = genesis.subnets[0].neurons[i].stake;
      setups.push({ index: i, hotkey: hk.hotkey, configPath, apiUrl: `http://127.0.0.1:${ports[i].api}`, stake: String(stake) });
    }

    // paced blocks
    let killedDone = false;
    const liveChildren = () => children.filter((x) => x.alive);
    let targetRun: number | null = null;
    const doneRuns: number[] = [];
    const fastForward = (): boolean => {
      const live = liveChildren();
      if (live.length === 0) return false;
      // between runs: hurry to the next epoch start while another run is wanted
      if (targetRun === null) return doneRuns.length > 0 && doneRuns.length < runsWanted;
      // idle until a window closes: all committed, or all waiting for the chain to reveal their weights
      const phases = live.map((x) => x.phase.get(targetRun!));
      return phases.every((p) => p === 'committed') || phases.every((p) => p === 'confirming' || p === 'done');
    };
    const director = opts.byzantine
      ? new ByzantineDirector({ validators: setups.map((s) => ({ index: s.index, hotkey: s.hotkey, api: s.apiUrl, multiaddr: peers[s.index] })), chainUrl: c.url, dir, log })
      : null;
    const pace = () => {
      if (!director?.holding) c.produceBlock(); // the adversary's attempts run while the honest reports are sealed
      pacer = setTimeout(pace, fastForward() ? 60 : blockMs);
    };
    pacer = setTimeout(pace, blockMs);

    for (const s of setups) {
      const logFile = createWriteStream(join(dir, `v${s.index}`, 'node.log'));
      const proc = spawn(process.execPath, [CLI, 'start', '--config', s.configPath], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CONCLAVE_LOG_LEVEL: 'info' } });
      const child: Child = { index: s.index, hotkey: s.hotkey, proc, alive: true, killed: false, api: s.apiUrl, phase: new Map() };
      children.push(child);
      proc.on('exit', (code, sig) => {
        child.alive = false;
        if (!child.killed && !stopping) {
          problems.push(`validator ${s.index} exited (code ${code}, signal ${sig}); see ${join(dir, `v${s.index}`, 'node.log')}`);
          log(`v${s.index} EXITED (code ${code}${sig ? `, ${sig}` : ''}) — log: ${join(dir, `v${s.index}`, 'node.log')}`);
        }
      });
      let buf = '';
      const onData = (d: Buffer) => {
        logFile.write(d);
        buf += d.toString();
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          onLine(child, line);
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
    }

    const minerName = (uid: number) => {
      const i = uid - validators;
      return i >= 0 && i < DEVNET_MINERS.length ? `${DEVNET_MINERS[i].kind}` : `uid ${uid}`;
    };
    function onLine(child: Child, line: string): void {
      let m: Record<string, any>;
      try {
        m = JSON.parse(line);
      } catch {
        if (line.trim()) log(`v${child.index} | ${line.slice(0, 300)}`);
        return;
      }
      director?.onMessage(child.index, m);
      const tag = `v${child.index}`;
      switch (m.msg) {
        case 'run phase':
          child.phase.set(m.runId, m.phase);
          if (targetRun === null && m.phase === 'evaluating') targetRun = m.runId;
          if (m.phase === 'done' && m.runId === targetRun && liveChildren().every((x) => x.phase.get(m.runId) === 'done')) {
            doneRuns.push(m.runId);
            // the next run may have opened while this one waited for its reveal
            const later = liveChildren().flatMap((x) => [...x.phase.keys()]).filter((id) => id > m.runId);
            targetRun = doneRuns.length < runsWanted && later.length ? Math.min(...later) : null;
          }
          if (opts.kill && !killedDone && opts.kill.index === child.index && m.phase === opts.kill.phase) {
            killedDone = true;
            child.killed = true;
            child.proc.kill('SIGKILL');
            log(`${tag} KILLED (SIGKILL) in phase ${m.phase} of run ${m.runId}, as asked`);
          }
          if (['committed', 'publishing', 'consensus', 'confirming', 'done'].includes(m.phase)) log(`${tag} run ${m.runId}: ${m.phase}`);
          if (director && m.phase === 'committed' && children.filter((x) => x.index !== ADVERSARY_INDEX).every((x) => x.phase.get(m.runId) === 'committed')) {
            void director.onHonestCommitted(m.runId);
          }
          break;
        case 'run opened': log(`${tag} run ${m.runId} opened`); break;
        case 'evaluating': log(`${tag} evaluating uid ${m.uid} (${minerName(m.uid)})`); break;
        case 'evaluated': log(`${tag} evaluated uid ${m.uid} (${minerName(m.uid)}): ${m.status}${m.status === 'scored' ? ` MFU ${(m.score / 1e6).toFixed(5)}` : ''} in ${(m.ms / 1000).toFixed(1)} s`); break;
        case 'report commitment on chain': log(`${tag} salted report commitment ${String(m.commitment).slice(0, 12)}… on chain at block ${m.block}`); break;
        case 'report published': log(`${tag} report published to ${m.peers} peer(s)`); break;
        case 'run certified': log(`${tag} CERTIFIED run ${m.runId}: winner uid ${m.winner} (${m.winner === null ? '-' : minerName(m.winner)}), ${m.counted} report(s) counted, ${m.latencyMs} ms`); break;
        case 'weights set': log(`${tag} weights set on chain (uids ${JSON.stringify(m.uids)}) at block ${m.block}`); break;
        case 'weights committed (timelocked; revealed by the chain in a later epoch)': log(`${tag} weights committed timelocked (uids ${JSON.stringify(m.uids)}) at block ${m.block}, drand round ${m.revealRound}, reveal expected from block ${m.expectedRevealBlock}`); break;
        case 'weights reveal confirmed on chain': log(`${tag} weights revealed by the chain at block ${m.revealBlock} (committed at ${m.commitBlock})`); break;
        case 'API listening': log(`${tag} API ${m.url}`); break;
        default:
          if (m.level === 'warn' || m.level === 'error') log(`${tag} ${m.level}: ${m.msg}${m.error ? `: ${String(m.error).slice(0, 240)}` : ''}`);
      }
    }

    // wait for the APIs
    for (const ch of children) {
      while (Date.now() < deadline) {
        if (!ch.alive) throw new DevnetError(`validator ${ch.index} exited during start-up; see ${join(dir, `v${ch.index}`, 'node.log')}`);
        try {
          await getJson(`${ch.api}/healthz`, 2000).catch(async (e) => {
            // 503 (not yet healthy) still means the API is up
            if (String(e.message).includes('HTTP 503')) return;
            throw e;
          });
          break;
        } catch {
          await sleep(500);
        }
      }
    }
    opts.onReady?.({ apis: children.map((x) => x.api), chainUrl: c.url, dir });

    while (doneRuns.length < runsWanted && Date.now() < deadline) {
      if (liveChildren().length === 0) throw new DevnetError('every validator has exited; see the logs under ' + dir);
      await sleep(500);
    }
    if (doneRuns.length < runsWanted) problems.push(`only ${doneRuns.length} of ${runsWanted} run(s) finished before the deadline`);

    const runs: RunSummary[] = [];
    for (const runId of doneRuns) runs.push(await summariseRun(runId, liveChildren(), minerName));
    for (const r of runs) {
      for (const w of r.weightsByValidator) {
        if (w.result === 'set' && w.revealConfirmed !== true) problems.push(`run ${r.runId}: validator ${w.index}'s weights ${w.committed ? `were committed but not confirmed revealed (${w.reason ?? 'no reason'})` : 'were not committed'}`);
      }
    }
    let audit: DevnetSummary['audit'] = null;
    let auditP2p: DevnetSummary['audit'] = null;
    const auditor = liveChildren()[0];
    if (auditor && runs.length) {
      const runId = runs[runs.length - 1].runId;
      audit = await runAudit(auditor.api, c.url, runId, setups[auditor.index].configPath, commitWindow);
      log(`devnet: conclave audit --run ${runId} --source ${auditor.api}: ${audit.ok ? 'VERIFIED' : `FAILED (${audit.failed.join(', ')})`}`);
      auditP2p = await runAudit(peers[auditor.index], c.url, runId, setups[auditor.index].configPath, commitWindow);
      log(`devnet: conclave audit --run ${runId} --source ${peers[auditor.index]}: ${auditP2p.ok ? 'VERIFIED' : `FAILED (${auditP2p.failed.join(', ')})`}`);
    }
    for (const r of runs) {
      if (r.certifiedBy.length === 0) problems.push(`run ${r.runId}: no certificate`);
      if (!r.sameCertificate) problems.push(`run ${r.runId}: validators hold different certificates`);
    }
    if (audit && !audit.ok) problems.push(`audit failed: ${audit.failed.join(', ')}`);
    if (auditP2p && !auditP2p.ok) problems.push(`audit over libp2p failed: ${auditP2p.failed.join(', ')}`);
    let byzantine: ByzantineSummary | undefined;
    if (director) {
      const judged = await director.finish(runs, c.url);
      byzantine = judged.summary;
      problems.push(...judged.problems);
      for (const a of byzantine.attempts) log(`devnet: run ${a.runId ?? '?'}: adversary ${a.attack}: ${a.refused ? 'REFUSED' : 'NOT REFUSED'} — ${a.what}`);
    }
    if (opts.onRunsDone) {
      const hookMs = opts.onRunsDoneTimeoutMs ?? 60_000;
      const err = await runBounded(() => opts.onRunsDone!({ apis: liveChildren().map((x) => x.api), runIds: [...doneRuns] }), hookMs);
      if (err) problems.push(`onRunsDone hook: ${err}`);
    }
    summary = {
      ok: problems.length === 0 && runs.length === runsWanted,
      chain: c.url,
      dir,
      validators: setups.map((s) => ({ index: s.index, hotkey: s.hotkey, stake: s.stake, api: s.apiUrl, alive: children[s.index].alive, killed: children[s.index].killed })),
      runs,
      audit,
      auditP2p,
      ...(byzantine ? { byzantine } : {}),
      elapsedMs: Date.now() - t0,
      problems,
    };
    return summary;
  } finally {
    stopping = true;
    if (pacer) clearTimeout(pacer);
    await Promise.all(children.map(async (ch) => {
      if (!ch.alive) return;
      ch.proc.kill('SIGTERM');
      const exited = await Promise.race([new Promise<boolean>((r) => ch.proc.once('exit', () => r(true))), sleep(8000).then(() => false)]);
      if (!exited) ch.proc.kill('SIGKILL');
    }));
    await chain?.stop().catch(() => undefined);
    await miners?.close().catch(() => undefined);
    await reapLeftovers(docker, dir);
    if (!opts.keep && summary?.ok) rmSync(dir, { recursive: true, force: true });
    else log(`devnet: logs and data kept in ${dir}`);
  }
}

/** Runs `fn` for at most `ms`; returns null when it settled in time, else why not (a hung hook must not hang the devnet). */
async function runBounded(fn: () => Promise<void>, ms: number): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      Promise.resolve().then(fn).then(() => null, (e: unknown) => (e instanceof Error ? e.message : String(e))),
      new Promise<string>((r) => { timer = setTimeout(() => r(`did not finish within ${ms} ms; the validators were stopped anyway`), ms); }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sandbox containers the killed validator left behind (their scratch dirs live under our temp dir). */
async function reapLeftovers(docker: Dockerode, dir: string): Promise<void> {
  try {
    const list = await docker.listContainers({ all: true, filters: { label: [SANDBOX_LABEL] } });
    for (const ct of list) {
      const mine = (ct.Mounts ?? []).some((m) => typeof m.Source === 'string' && m.Source.startsWith(dir));
      if (mine) await docker.getContainer(ct.Id).remove({ force: true }).catch(() => undefined);
    }
  } catch {
    // best effort: a leftover is reaped by its owner's next `conclave start`
  }
}

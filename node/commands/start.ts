// `conclave start --config validator.toml`: the validator node.
import { join } from 'node:path';
import type { Command } from '../cli-kit.ts';
import { parseFlags, requireFlag } from '../cli-kit.ts';
import { ConfigError, divergenceGate, effectiveToml, loadConfigFile, parseHostPort, redactedConfig, type NodeConfig } from '../config.ts';
import { jsonLogger, type EvaluatorPort } from '../validator/ports.ts';
import { runWindows } from '../validator/windows.ts';
import type { ApiServer } from '../api/server.ts';
import type { NodeLogger } from '../logging/logger.ts';
import { checkListenable, listenErrorCode, listenErrorMessage, listenSpecs } from '../listen-check.ts';
import { PASSWORD_ENV } from '../keys/password.ts';
import { routeForeignOutput } from '../logging/capture.ts';
import { archivePort, logMeshMessages } from './start-adapters.ts';
import { StartRefused, commitRevealRefusal, crRuntimeProblem, listenOrRefuse, windowsRefusal } from './start-refusals.ts';
import { encodeEquivocationProof, type EquivocationProof } from '../../proto/consensus.ts';
import { toHex } from '../../proto/codec.ts';

const toHexProof = (p: EquivocationProof) => toHex(encodeEquivocationProof(p));

export { StartRefused, commitRevealRefusal, windowsRefusal };

const help = `Usage: conclave start --config FILE [--password-file FILE] [--print-config]

Start the validator node: connect to the chain, join the validator mesh, evaluate every
submission of each run in the Docker sandbox, commit the report hash on chain, publish the
report after the commit window, reach PBFT consensus with the other validators, archive the
evidence and set weights according to node.mode. A read-only HTTP API serves runs, reports,
divergence, the dashboard, /healthz and Prometheus /metrics on api.listen (metrics.address
moves /metrics to its own address). Every log line on stderr is JSON.

Options:
  --config FILE         TOML config (see validator.example.toml; every key has a default and an
                        environment variable override, e.g. CONCLAVE_NETUID)
  --password-file FILE  password of a hotkey btcli encrypted (its first line); beats
                        ${PASSWORD_ENV} and wallet.password_file
  --print-config        print the effective config as TOML (key names as in the file, where each
                        value came from; secret file paths hidden) and exit

Examples:
  conclave start --config validator.toml
  CONCLAVE_MODE=shadow conclave start --config validator.toml
  conclave start --config validator.toml --password-file /etc/conclave/hotkey.password
`;

export interface StartOptions {
  evaluator?: EvaluatorPort;
  log?: NodeLogger;
  /** `--password-file` given on the command line */
  passwordFile?: string;
  /**
   * A chain connection the caller owns and shares (several nodes of one process on one RPC endpoint:
   * the scale harness, bench/scale); the node signs its own extrinsics and does not close it.
   */
  client?: import('../chain/client.ts').SubtensorClient;
}

/** What `conclave start` tells the operator to change when the hotkey cannot be found or decrypted. */
const START_WALLET_HINT = 'wallet.path, wallet.name and wallet.hotkey in the config (or CONCLAVE_WALLET_PATH, CONCLAVE_WALLET, CONCLAVE_HOTKEY)';
const START_PASSWORD_HINT = `--password-file FILE, wallet.password_file in the config, or the environment variable ${PASSWORD_ENV}`;

export async function startNode(cfg: NodeConfig, opts: StartOptions = {}) {
  const log = opts.log ?? jsonLogger(cfg.node.logLevel);
  const { buildInfo } = await import('../version.ts');
  const build = buildInfo();
  const { cryptoReady } = await import('../../proto/signer.ts');
  await cryptoReady();
  const { loadHotkey } = await import('../keys/wallet.ts');
  const { loadOrCreateNodeKey } = await import('../keys/node-key.ts');
  const { ValidatorStore } = await import('../validator/store.ts');
  const { nodeMetrics } = await import('../metrics.ts');
  const { SubtensorClient } = await import('../chain/client.ts');
  const { Mesh } = await import('../p2p/mesh.ts');
  const { chainPort, meshPort, serveRunBundles } = await import('../validator/wiring.ts');
  const { PbftConsensus } = await import('../validator/consensus-adapter.ts');
  const { rulesFromConfig, membersOf } = await import('../validator/decision.ts');
  const { Validator } = await import('../validator/validator.ts');
  const { buildApi } = await import('../api/routes.ts');
  const { Archive, inspectDir } = await import('../archive.ts');
  const { NodeStatus } = await import('../status/node-status.ts');
  const { watchChain, watchPeers } = await import('../status/watchers.ts');
  const { registerProcessMetrics } = await import('../status/process-metrics.ts');
  const { libp2pLogger } = await import('../logging/capture.ts');
  const { AxonAnnouncer } = await import('../chain/axon-announcer.ts');

  // fail fast, before touching the chain: every port the config names must be free
  const busy = await checkListenable(listenSpecs(cfg));
  if (busy) throw new StartRefused(busy);

  const signer = await loadHotkey(
    { wallet: cfg.wallet.name, hotkey: cfg.wallet.hotkey, walletPath: cfg.wallet.path },
    {
      password: { flagFile: opts.passwordFile, configFile: cfg.wallet.passwordFile },
      passwordHint: START_PASSWORD_HINT,
      locationHint: START_WALLET_HINT,
      onWarning: (m) => log.warn(m),
    },
  );
  const nodeKey = await loadOrCreateNodeKey(cfg.node.dataDir);
  log.info('starting validator', { version: build.version, commit: build.commit, hotkey: signer.hotkey, peerId: nodeKey.peerId, config: redactedConfig(cfg) });

  const store = await ValidatorStore.open(join(cfg.node.dataDir, 'state'));
  // fail fast on a directory that is not an archive, before touching the chain
  const archiveDir = join(cfg.node.dataDir, 'archive');
  inspectDir(archiveDir, ARCHIVE_LOCATION);
  const metrics = nodeMetrics();
  const cleanup: (() => Promise<unknown>)[] = [() => store.close()];
  const undo = async () => {
    for (const f of cleanup.reverse()) await f().catch(() => undefined);
  };
  const stopProcessMetrics = registerProcessMetrics(metrics.registry);
  cleanup.push(async () => stopProcessMetrics());
  try {
    const client = opts.client ?? await SubtensorClient.connect({
      endpoint: cfg.chain.endpoint,
      log: (l) => log.debug(l),
      onOutage: (e) => (e.state === 'down'
        ? log.warn('chain connection lost: reconnecting with backoff; runs wait', { endpoint: e.endpoint })
        : log.info('chain connection back', { endpoint: e.endpoint, downMs: e.downMs })),
    });
    const chain = chainPort(client, signer, cfg.chain.netuid);
    if (!opts.client) cleanup.push(() => chain.close());
    let validatorRef: { status(): ReturnType<import('../validator/validator.ts').Validator['status']> } | undefined;
    const status = new NodeStatus({
      mode: cfg.node.mode, netuid: cfg.chain.netuid, hotkey: signer.hotkey, peerId: nodeKey.peerId, endpoint: client.endpoint, build,
      minPeers: cfg.health.minPeers, maxHeadAgeMs: cfg.health.maxHeadAgeS * 1000, metrics, log,
      recentRuns: (n) => store.listRuns(n),
      runLoop: () => validatorRef?.status() ?? { currentEpoch: null, epochBlocks: null, current: null, tickError: null },
    });
    const stopChainWatch = watchChain(status, {
      connected: () => client.isConnected,
      best: async () => (await client.bestBlock()).number,
      finalized: async () => client.blockNumber((await client.api.rpc.chain.getFinalizedHead()).toHex()),
    });
    cleanup.push(async () => stopChainWatch());
    // The archive keys evidence by chain (genesis hash) and subnet, so it opens once the chain is known
    // (the directory itself was checked before connecting).
    const archive = await Archive.open(archiveDir, { chain: await client.blockHash(0), location: ARCHIVE_LOCATION });
    cleanup.push(() => archive.close());
    const hp = await client.hyperparams(cfg.chain.netuid);
    const windows = windowsRefusal(hp.tempo, cfg.consensus, cfg.chain.netuid);
    if (windows) throw new StartRefused(windows);
    const runtimeProblem = hp.commitRevealEnabled ? crRuntimeProblem(client) : null;
    const refusal = commitRevealRefusal(cfg.node.mode, cfg.chain.netuid, hp.commitRevealEnabled, runtimeProblem);
    if (refusal) throw new StartRefused(refusal);
    if (hp.commitRevealEnabled) {
      if (runtimeProblem) log.warn('commit-reveal weights are enabled on this subnet but this runtime cannot take timelocked commits: weights are not set', { netuid: cfg.chain.netuid, mode: cfg.node.mode, problem: runtimeProblem });
      else log.info('commit-reveal weights are enabled on this subnet: weights go as timelocked commits (drand), revealed by the chain an epoch later', { netuid: cfg.chain.netuid, revealPeriodEpochs: hp.revealPeriodEpochs });
    }
    const schedule = await client.epochSchedule(cfg.chain.netuid);
    log.info('subnet epoch schedule', { model: schedule.model, tempo: schedule.tempo, block: schedule.block, windows: runWindows(hp.tempo, cfg.consensus) });
    const neurons = await chain.metagraph();
    const me = neurons.find((n) => n.hotkey === signer.hotkey);
    if (!me) log.warn('this hotkey is not registered on the subnet: the node observes but its reports will not count', { hotkey: signer.hotkey, netuid: cfg.chain.netuid });
    const genesisHash = client.api.genesisHash.toHex();
    const mesh = new Mesh({
      netuid: cfg.chain.netuid,
      genesisHash,
      hotkey: signer,
      nodeKeySeed: nodeKey.seed,
      listen: [cfg.p2p.listen],
      bootstrap: cfg.p2p.bootstrap,
      logger: libp2pLogger(log),
      // one run per epoch of tempo + 1 blocks of subtensor's 12 s: peer scoring's windows (node/p2p/scoring.ts)
      runIntervalMs: (hp.tempo + 1) * 12_000,
    });
    const members = () => membersOf(neurons, cfg.consensus.minStake).map((m) => ({ hotkey: m.hotkey, stake: m.stake, axon: neurons.find((n) => n.uid === m.uid)?.axon }));
    const setMembers = () => {
      const list = members();
      mesh.setValidatorSet(list);
      status.setOtherValidators(list.filter((m) => m.hotkey !== signer.hotkey).length);
    };
    setMembers();
    const bindingProofs = archive.kv('binding-equivocations');
    mesh.onEvent((e) => {
      if (e.type !== 'equivocation') return;
      const [a, b] = [e.proof.a, e.proof.b];
      log.warn('a node key is bound to two hotkeys: the second binding was refused (proof archived)', { nodeKey: a.nodePublicKey, hotkeys: [a.hotkey, b.hotkey], detail: e.detail });
      void bindingProofs.put(`${a.nodePublicKey}/${b.hotkey}`, { nodeKey: a.nodePublicKey, hotkeys: [a.hotkey, b.hotkey], proofHex: toHexProof(e.proof) }).catch(() => undefined);
    });
    try {
      await mesh.start();
    } catch (err) {
      const code = listenErrorCode(err);
      const spec = listenSpecs(cfg).find((x) => x.key === 'p2p.listen');
      if (code && spec) throw new StartRefused(listenErrorMessage(spec, code));
      throw err;
    }
    // the validator set (stake, permits, axons to dial) follows the metagraph: every 30 s, every 5 s
    // while no peer is admitted (an isolated node looks harder), and right after our own axon lands
    let refreshing = false;
    let lastRefresh = Date.now();
    const refreshMembers = () => {
      if (refreshing) return;
      refreshing = true;
      lastRefresh = Date.now();
      chain.metagraph().then((n) => {
        neurons.splice(0, neurons.length, ...n);
        setMembers();
      }).catch(() => metrics.chainErrors.inc({ op: 'metagraph' })).finally(() => { refreshing = false; });
    };
    const announcer = cfg.p2p.announceAxon
      ? new AxonAnnouncer({ client, signer, netuid: cfg.chain.netuid, configured: cfg.p2p.announceAddress, listenAddrs: () => mesh.multiaddrs(), log, onServed: () => refreshMembers() })
      : null;
    await announcer?.check();
    serveRunBundles(mesh, archive); // auditors fetch past runs by multiaddr (read-only, rate-limited)
    mesh.onEvent((e) => {
      if (e.type === 'equivocation') return; // logged above, with the proof archived
      if (e.type === 'binding-refused') return log.warn('relayed binding refused', { from: e.fromPeer, hotkey: e.hotkey, nodeKey: e.nodeKey, reason: e.reason.slice(0, 300) });
      (e.type === 'banned' ? log.warn : log.debug)(`mesh peer ${e.type}`, { ...e });
    });
    const mport = logMeshMessages(meshPort(mesh), log);
    metrics.registry.onCollect(() => metrics.gossipRejections.catchUp('reason', mesh.metrics().rejected));
    cleanup.push(() => mport.close());
    log.info('mesh listening', { peerId: mesh.peerId, addrs: mesh.multiaddrs() });
    const stopPeerWatch = watchPeers(status, () => {
      const m = mesh.metrics();
      return { connected: m.connections, admitted: m.admittedPeers };
    });
    cleanup.push(async () => stopPeerWatch());
    // conclave_healthy follows /healthz even when nothing probes it (a scraper only reads the gauge)
    const healthTimer = setInterval(() => void status.health().catch(() => undefined), 15_000);
    healthTimer.unref();
    cleanup.push(async () => clearInterval(healthTimer));
    let evaluator = opts.evaluator;
    if (!evaluator) {
      const { sandboxEvaluator, sandboxOwner } = await import('../validator/evaluator-adapter.ts');
      // labels this validator's containers and first removes the ones a killed earlier process left
      const port = await sandboxEvaluator(cfg, log, { owner: sandboxOwner(signer.hotkey, cfg.node.dataDir) });
      cleanup.push(() => port.close());
      evaluator = port;
    }
    const validator = new Validator({
      config: cfg,
      chain,
      mesh: mport,
      evaluator,
      consensus: new PbftConsensus({
        nodeSigner: nodeKey.signer,
        hotkey: signer.hotkey,
        rules: rulesFromConfig(cfg),
        // dev.fault = "adversary" (loopback devchain only): selective proposals, see node/devnet/adversary.ts
        tamper: cfg.dev.fault === 'adversary' ? (await import('../devnet/adversary.ts')).adversaryTamper(log) : undefined,
        timing: { viewTimeoutMs: cfg.consensus.viewTimeoutS * 1000, proposeDelayMs: 2000 },
        onReject: (reason, runId) => {
          metrics.gossipRejections.inc({ reason: `consensus: ${reason.split(':')[0].slice(0, 40)}` });
          // a refused proposal is rare and telling (a faulty or Byzantine proposer): say why
          if (/^proposal/.test(reason)) log.info('consensus proposal refused', { runId, reason: reason.slice(0, 300) });
        },
      }),
      store,
      signer,
      metrics,
      log,
      archive: archivePort(archive, cfg.chain.netuid, log),
    });
    validatorRef = validator;
    const health = async () => status.health();
    let api: ApiServer | undefined;
    if (cfg.api.listen) {
      const hp = parseHostPort(cfg.api.listen)!;
      api = buildApi({
        store, signer, netuid: cfg.chain.netuid, metrics, health, archive: { equivocations: (f) => archive.equivocations({ ...f, netuid: cfg.chain.netuid }) }, gate: divergenceGate(cfg), divergenceWindow: cfg.shadow.window,
        status: () => status.snapshot(), serveMetrics: cfg.metrics.address === '',
      }, { rateLimitPerMinute: cfg.api.rateLimitPerMinute, maxResponseBytes: cfg.api.maxResponseBytes, cors: cfg.api.cors });
      const a = await listenOrRefuse(api, cfg, 'api.listen', hp);
      cleanup.push(() => api!.close());
      log.info('API listening', { url: `http://${a.host}:${a.port}` });
    }
    let metricsServer: ApiServer | undefined;
    if (cfg.metrics.address) {
      const { buildMetricsServer } = await import('../api/metrics-server.ts');
      const hp = parseHostPort(cfg.metrics.address)!;
      metricsServer = buildMetricsServer(metrics, health);
      const a = await listenOrRefuse(metricsServer, cfg, 'metrics.address', hp);
      cleanup.push(() => metricsServer!.close());
      log.info('metrics listening', { url: `http://${a.host}:${a.port}/metrics` });
    }
    const refresh = setInterval(() => {
      const isolated = mesh.admittedPeerCount() === 0;
      if (Date.now() - lastRefresh >= (isolated ? 5_000 : 30_000)) refreshMembers();
      void announcer?.check(); // serves the axon again if the address changed (or a refused serve may be retried)
    }, 5_000);
    refresh.unref();
    await validator.start();
    const stop = async () => {
      clearInterval(refresh);
      await validator.stop();
      await undo();
    };
    return { validator, stop, api, mesh, metricsServer, status };
  } catch (err) {
    await undo();
    throw err;
  }
}

const ARCHIVE_LOCATION = 'node.data_dir (the archive is <data_dir>/archive)';

/** Every option `conclave start` takes (a test checks that each --flag its help and errors name is here). */
export const START_OPTIONS = {
  config: { type: 'string' },
  'print-config': { type: 'boolean' },
  'password-file': { type: 'string' },
} as const;

/** A startup failure as the one JSON line an operator reads: the cause, and the fix in the message. */
function startFailure(log: NodeLogger, err: unknown): number {
  const e = err as Error & { problems?: { key: string; reason: string }[]; file?: string };
  if (err instanceof ConfigError) {
    const list = e.problems!.map((p) => (p.key === e.file || p.key === '(file)' ? p.reason : `${p.key}: ${p.reason}`)).join('; ');
    log.error(`invalid config${e.file ? ` ${e.file}` : ''}: ${list} — fix it (every key: validator.example.toml) and start again`, { problems: e.problems, ...(e.file ? { file: e.file } : {}) });
    return 2;
  }
  if (err instanceof StartRefused) {
    log.error(`refusing to start: ${e.message}`);
    return 2;
  }
  const known = ['WalletError', 'NodeKeyError', 'ChainUnavailableError', 'ChainSchemaError', 'ArchiveError', 'DockerHostConfigError', 'PolicyError', 'StartRefused'];
  log.error(`cannot start: ${e?.message ?? String(err)}`, { error: e?.name ?? 'Error', ...(!known.includes(e?.name) || log.enabled('debug') ? { stack: e?.stack } : {}) });
  return 2;
}

const command: Command = {
  name: 'start',
  help,
  async run(argv) {
    const { values } = parseFlags(argv, START_OPTIONS, false);
    const configPath = requireFlag(values.config, 'config');
    // From here on every line on stderr is JSON: ours, polkadot-js's, libp2p's (DEBUG=…) and Node's warnings.
    let log: NodeLogger = jsonLogger(validLevel(process.env.CONCLAVE_LOG_LEVEL));
    let unroute = routeOutput(log);
    let cfg: NodeConfig;
    try {
      cfg = loadConfigFile(configPath);
    } catch (err) {
      unroute();
      return startFailure(log, err);
    }
    if (values['print-config']) {
      unroute();
      process.stdout.write(effectiveToml(cfg));
      return 0;
    }
    unroute();
    log = jsonLogger(cfg.node.logLevel);
    unroute = routeOutput(log);
    const onFatal = (kind: string) => (err: unknown) => {
      log.error(`${kind}: ${(err as Error)?.message ?? String(err)}`, { stack: (err as Error)?.stack });
      process.exit(1);
    };
    process.on('uncaughtException', onFatal('uncaught exception'));
    process.on('unhandledRejection', onFatal('unhandled promise rejection'));
    let node;
    try {
      node = await startNode(cfg, { log, passwordFile: values['password-file'] });
    } catch (err) {
      const code = startFailure(log, err);
      unroute();
      return code;
    }
    const signal = await new Promise<string>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
    });
    log.info('stopping', { signal });
    await node.stop();
    log.info('stopped');
    unroute();
    return 0;
  },
};

function validLevel(v: string | undefined): 'debug' | 'info' | 'warn' | 'error' {
  return v === 'debug' || v === 'warn' || v === 'error' ? v : 'info';
}

/** console.*, debug/weald (libp2p with DEBUG=…) and process warnings → the JSON logger (node/logging/capture.ts). */
function routeOutput(log: NodeLogger): () => void {
  return routeForeignOutput(log);
}

export default command;

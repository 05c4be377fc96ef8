// `conclave start --config validator.toml`: the validator node.
import { join } from 'node:path';
import type { Command } from '../cli-kit.ts';
import { parseFlags, requireFlag } from '../cli-kit.ts';
import { ConfigError, divergenceGate, loadConfigFile, parseHostPort, redactedConfig, type NodeConfig } from '../config.ts';
import { jsonLogger, type EvaluatorPort } from '../validator/ports.ts';
import type { ApiServer } from '../api/server.ts';

const help = `Usage: conclave start --config FILE [--print-config]

Start the validator node: connect to the chain, join the validator mesh, evaluate every
submission of each run in the Docker sandbox, commit the report hash on chain, publish the
report after the commit window, reach PBFT consensus with the other validators, archive the
evidence and set weights according to node.mode. A read-only HTTP API serves runs, reports,
divergence and Prometheus metrics on api.listen.

Options:
  --config FILE       TOML config (see validator.example.toml; every key has a default and an
                      environment variable override, e.g. CONCLAVE_NETUID)
  --print-config      print the effective config (secrets redacted) and exit

Examples:
  conclave start --config validator.toml
  CONCLAVE_MODE=shadow conclave start --config validator.toml
`;

/** The node refuses to start: the message says why and what to do (printed without a stack). */
export class StartRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartRefused';
  }
}

/**
 * Decentralized mode must be able to set the certified weights. On a commit-reveal subnet the chain
 * refuses plain set_weights and Conclave does not implement commit_timelocked_weights, so such a node
 * would evaluate and vote but never move emissions: refuse to start rather than fail silently.
 */
export function commitRevealRefusal(mode: NodeConfig['node']['mode'], netuid: number, commitRevealEnabled: boolean): string | null {
  if (mode !== 'decentralized' || !commitRevealEnabled) return null;
  return `subnet ${netuid} has commit-reveal weights enabled (CommitRevealWeightsEnabled): the chain refuses plain set_weights there, `
    + 'and Conclave does not implement commit_timelocked_weights (drand timelock encryption) yet, so in decentralized mode this validator '
    + 'could never set the certified weights. Either run in shadow mode (node.mode = "shadow" or CONCLAVE_MODE=shadow: consensus, '
    + 'certificates and the divergence record still work; weights are not set while commit-reveal is on), or ask the subnet owner '
    + `to disable commit-reveal (sudo_set_commit_reveal_weights_enabled(${netuid}, false)) and start again.`;
}

export async function startNode(cfg: NodeConfig, opts: { evaluator?: EvaluatorPort; log?: ReturnType<typeof jsonLogger> } = {}) {
  const log = opts.log ?? jsonLogger(cfg.node.logLevel);
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
  const { Archive } = await import('../archive.ts');

  const signer = await loadHotkey({ wallet: cfg.wallet.name, hotkey: cfg.wallet.hotkey, walletPath: cfg.wallet.path });
  const nodeKey = await loadOrCreateNodeKey(cfg.node.dataDir);
  log.info('starting validator', { hotkey: signer.hotkey, peerId: nodeKey.peerId, config: redactedConfig(cfg) });

  const store = await ValidatorStore.open(join(cfg.node.dataDir, 'state'));
  const archive = await Archive.open(join(cfg.node.dataDir, 'archive'));
  const metrics = nodeMetrics();
  const cleanup: (() => Promise<unknown>)[] = [() => archive.close(), () => store.close()];
  const undo = async () => {
    for (const f of cleanup.reverse()) await f().catch(() => undefined);
  };
  try {
    const client = await SubtensorClient.connect({ endpoint: cfg.chain.endpoint, log: (l) => log.debug(l) });
    const chain = chainPort(client, signer, cfg.chain.netuid);
    cleanup.push(() => chain.close());
    const hp = await client.hyperparams(cfg.chain.netuid);
    const refusal = commitRevealRefusal(cfg.node.mode, cfg.chain.netuid, hp.commitRevealEnabled);
    if (refusal) throw new StartRefused(refusal);
    if (hp.commitRevealEnabled) log.warn('commit-reveal weights are enabled on this subnet: set_weights is refused on chain, so this node records consensus and divergence but sets no weights', { netuid: cfg.chain.netuid, mode: cfg.node.mode });
    const neurons = await chain.metagraph();
    const me = neurons.find((n) => n.hotkey === signer.hotkey);
    if (!me) log.warn('this hotkey is not registered on the subnet: the node observes but its reports will not count', { hotkey: signer.hotkey, netuid: cfg.chain.netuid });
    const mesh = new Mesh({
      netuid: cfg.chain.netuid,
      hotkey: signer,
      nodeKeySeed: nodeKey.seed,
      listen: [cfg.p2p.listen],
      bootstrap: cfg.p2p.bootstrap,
    });
    const members = () => membersOf(neurons, cfg.consensus.minStake).map((m) => ({ hotkey: m.hotkey, stake: m.stake, axon: neurons.find((n) => n.uid === m.uid)?.axon }));
    mesh.setValidatorSet(members());
    await mesh.start();
    serveRunBundles(mesh, archive); // auditors fetch past runs by multiaddr (read-only, rate-limited)
    const mport = meshPort(mesh);
    metrics.registry.onCollect(() => metrics.gossipRejections.catchUp('reason', mesh.metrics().rejected));
    cleanup.push(() => mport.close());
    log.info('mesh listening', { peerId: mesh.peerId, addrs: mesh.multiaddrs() });
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
        timing: { viewTimeoutMs: cfg.consensus.viewTimeoutS * 1000, proposeDelayMs: 2000 },
        onReject: (reason) => metrics.gossipRejections.inc({ reason: `consensus: ${reason.split(':')[0].slice(0, 40)}` }),
      }),
      store,
      signer,
      metrics,
      log,
      archive: archivePort(archive, log),
    });
    let api: ApiServer | undefined;
    if (cfg.api.listen) {
      const hp = parseHostPort(cfg.api.listen)!;
      api = buildApi({ store, signer, netuid: cfg.chain.netuid, metrics, health: () => validator.health(), archive, gate: divergenceGate(cfg), divergenceWindow: cfg.shadow.window }, { rateLimitPerMinute: cfg.api.rateLimitPerMinute, maxResponseBytes: cfg.api.maxResponseBytes, cors: cfg.api.cors });
      const a = await api.listen(hp.host, hp.port);
      cleanup.push(() => api!.close());
      log.info('API listening', { url: `http://${a.host}:${a.port}` });
    }
    // the validator set follows the metagraph (stake, permits, axons) every few blocks
    const refresh = setInterval(() => {
      chain.metagraph().then((n) => {
        neurons.splice(0, neurons.length, ...n);
        mesh.setValidatorSet(members());
      }).catch(() => metrics.chainErrors.inc({ op: 'metagraph' }));
    }, 60_000);
    refresh.unref();
    await validator.start();
    const stop = async () => {
      clearInterval(refresh);
      await validator.stop();
      await undo();
    };
    return { validator, stop, api, mesh };
  } catch (err) {
    await undo();
    throw err;
  }
}

/** The loop's ArchivePort over node/archive.ts (best effort: the archive refusing never stops a run). */
function archivePort(archive: import('../archive.ts').Archive, log: ReturnType<typeof jsonLogger>): import('../validator/validator.ts').ArchivePort {
  const proofs = archive.kv('consensus-equivocations');
  return {
    putSignedReport: async (signed) => {
      const r = await archive.putReport(signed, { verified: true }); // the loop verified it (ArchivePort contract)
      if (r.status === 'equivocation') log.warn('equivocation archived', { runId: signed.report.runId, validator: signed.report.validatorHotkey });
    },
    putCertificate: async (runId, bytes) => {
      const r = await archive.putCertificate(runId, bytes);
      if (r === 'conflict') log.warn('a different certificate for this run is already archived (first wins)', { runId });
    },
    putEquivocation: (runId, hotkey, proofHex) => proofs.put(`${runId}/${hotkey}`, { runId, hotkey, proofHex }),
    putEvaluation: (code, record) => archive.putEvaluation(code, record),
  };
}

const command: Command = {
  name: 'start',
  help,
  async run(argv) {
    const { values } = parseFlags(argv, { config: { type: 'string' }, 'print-config': { type: 'boolean' } }, false);
    let cfg: NodeConfig;
    try {
      cfg = loadConfigFile(requireFlag(values.config, 'config'));
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`conclave start: ${err.message}\nFix the keys above (see validator.example.toml) and start again.\n`);
        return 2;
      }
      throw err;
    }
    if (values['print-config']) {
      process.stdout.write(JSON.stringify(redactedConfig(cfg), null, 2) + '\n');
      return 0;
    }
    let node;
    try {
      node = await startNode(cfg);
    } catch (err) {
      if (err instanceof StartRefused) {
        process.stderr.write(`conclave start: refusing to start: ${err.message}\n`);
        return 2;
      }
      throw err;
    }
    await new Promise<void>((resolve) => {
      const done = () => resolve();
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
    });
    await node.stop();
    return 0;
  },
};

export default command;

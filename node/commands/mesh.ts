// `conclave mesh`: a standalone mesh member driven over a JSON-lines control channel
// (commands on stdin, events and replies on stdout). Used for debugging and by test/p2p.
import { createInterface } from 'node:readline';
import { parseFlags, requireFlag, UsageError, type Command, intFlag, optionalIntFlag } from '../cli-kit.ts';
import { Mesh, type MeshEvent } from '../p2p/mesh.ts';
import { cryptoReady, sr25519SignerFromSeed, type Sr25519Signer } from '../../proto/signer.ts';
import { fromHex, sha256Hex } from '../../proto/codec.ts';
import { signScoreReport, type ScoreReport } from '../../proto/score-report.ts';
import { encodeReveal, freshSalt } from '../../proto/reveal.ts';

/** Genesis hash a standalone mesh scopes its bindings to unless --genesis names the chain's (every member of one mesh must use the same). */
export const STANDALONE_GENESIS = sha256Hex('conclave standalone mesh');
import type { ValidatorInfo } from '../p2p/admission.ts';
import { bigintAsString } from '../json-bigint.ts';

const help = `Usage: conclave mesh --hotkey-seed HEX --node-seed HEX [options]

Run one P2P mesh member (libp2p: TCP, noise, yamux, gossipsub, kad-dht /conclave/kad/1.0.0) and drive it
over a JSON-lines control channel: one command per line on stdin, one event or reply per line on stdout.
The member admits peers only when they present a binding record signed by a hotkey in the validator set.

Options:
  --netuid N            subnet id the mesh serves (default 1)
  --genesis HASH        genesis hash of the chain (0x + 64 hex) the bindings are scoped to (default: a fixed
                        standalone value; a validator uses its chain's, 'conclave start' reads it from the chain)
  --listen MADDR        listen multiaddr, repeatable (default /ip4/127.0.0.1/tcp/0)
  --bootstrap MADDR     bootstrap multiaddr, repeatable (with or without /p2p/<peer id>)
  --hotkey-seed HEX     32-byte sr25519 mini-secret of the validator hotkey (64 hex chars)
  --node-seed HEX       32-byte ed25519 seed of the node key / libp2p identity (64 hex chars)
  --validators JSON     validator set: [{"hotkey":SS58,"stake":"rao","axon":{"ip","port"}}] or @FILE (default: empty)
  --run N               current run id (block number of the epoch start); omit to disable run pinning
  --heartbeat-ms N      gossipsub heartbeat (default 700)
  --maintain-ms N       reconnect / re-announce loop period (default 5000)
  --grace-ms N          admission grace for a connected peer without binding (default 10000)
  --strike-limit N      invalid messages before a peer is disconnected and banned (default 5)
  --announce-ms N       binding re-announce period (default 60000)
  --publish-wait-ms N   how long a publish waits for admitted subscribers before reporting "queued" (default 5000)
  --reports-per-author N  distinct reports accepted per author and run (default 2: a validator's report and
                        the second one that proves an equivocation); raise it to publish many test reports
  --no-dht              do not run the Kademlia DHT
  --archive DIR         serve past runs from this node archive (LevelDB, node/archive.ts) on the read-only
                        run-bundle protocol /conclave/run-bundle/1.0.0 (what 'conclave audit --source MADDR' reads)

Control commands (stdin, one JSON object per line; "id" is echoed in the reply):
  {"cmd":"report","runId":N,"tag":"x"}          sign and publish a synthetic score report (as a reveal: salt + signed report)
  {"cmd":"report","forge":true}                 publish a reveal whose report has a corrupted sr25519 signature (testing)
  {"cmd":"burst","count":N}                     publish N synthetic reports back to back (throughput probe)
  {"cmd":"consensus","hex":"..."}               publish an opaque consensus payload for the current run
  {"cmd":"set-validators","validators":[...]}   replace the validator set
  {"cmd":"set-run","runId":N}                   set the current run
  {"cmd":"block","peers":[PEER_ID...]} / {"cmd":"unblock"}   simulate / heal a partition
  {"cmd":"dial","addr":MADDR}  {"cmd":"sync"}  {"cmd":"fetch","hash":H}  {"cmd":"peers"}  {"cmd":"metrics"}  {"cmd":"stop"}
  {"cmd":"gossip-streams"}                      diagnostic: state of gossipsub's outbound stream per peer

Events (stdout): ready {peerId, multiaddrs, hotkey}, report {hash, validator, runId, tag, via, from},
  consensus {hash, hex, runId, signer, via}, admitted, refused, dropped, banned, reply {id, ok, ...}.

Examples:
  conclave mesh --hotkey-seed $(openssl rand -hex 32) --node-seed $(openssl rand -hex 32) --run 100
  conclave mesh --bootstrap /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW... --validators @validators.json --run 100
`;

function out(obj: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ ...obj, at: Date.now() }, bigintAsString) + '\n');
}

export function parseValidators(value: unknown): ValidatorInfo[] {
  if (!Array.isArray(value)) throw new UsageError('validators: expected a JSON array of {"hotkey","stake"}');
  return value.map((v, i) => {
    if (!v || typeof v.hotkey !== 'string') throw new UsageError(`validators[${i}]: missing "hotkey" (SS58)`);
    let stake: bigint;
    try {
      stake = BigInt(v.stake ?? 0);
    } catch {
      throw new UsageError(`validators[${i}]: "stake" must be an integer amount of rao`);
    }
    return { hotkey: v.hotkey, stake, axon: v.axon };
  });
}

async function readValidators(arg: string | undefined): Promise<ValidatorInfo[]> {
  if (!arg) return [];
  const { parseJsonBounded } = await import('../bounded/json.ts');
  const limits = { maxDepth: 8, maxValues: 100_000, maxStringChars: 4096 };
  if (arg.startsWith('@')) {
    const { readJsonFileBounded } = await import('../bounded/json-file.ts');
    return parseValidators(await readJsonFileBounded(arg.slice(1), { maxBytes: 4 * 1024 * 1024, what: '--validators', limits }));
  }
  return parseValidators(parseJsonBounded(arg, '--validators', limits));
}

function syntheticReport(hotkey: Sr25519Signer, netuid: number, runId: number, tag: string): ScoreReport {
  return {
    version: 1, netuid, runId,
    rosterHash: sha256Hex(`roster:${runId}`),
    policyHash: sha256Hex('policy'),
    hardwareClass: 'cpu-test',
    validatorHotkey: hotkey.hotkey,
    entries: [{ uid: 0, minerHotkey: hotkey.hotkey, codeSha256: sha256Hex(`code:${tag}`), score: 1000 + (parseInt(sha256Hex(tag).slice(0, 4), 16) % 1000), status: 'scored' }],
    issuedAt: Date.now(),
  };
}

const command: Command = {
  name: 'mesh',
  help,
  async run(argv) {
    const { values } = parseFlags(argv, {
      netuid: { type: 'string' },
      genesis: { type: 'string' },
      listen: { type: 'string', multiple: true },
      bootstrap: { type: 'string', multiple: true },
      'hotkey-seed': { type: 'string' },
      'node-seed': { type: 'string' },
      validators: { type: 'string' },
      run: { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      'maintain-ms': { type: 'string' },
      'grace-ms': { type: 'string' },
      'strike-limit': { type: 'string' },
      'announce-ms': { type: 'string' },
      'publish-wait-ms': { type: 'string' },
      'reports-per-author': { type: 'string' },
      'no-dht': { type: 'boolean' },
      archive: { type: 'string' },
    }, false);
    await cryptoReady();
    let hotkey: Sr25519Signer;
    let nodeSeed: Uint8Array;
    try {
      hotkey = sr25519SignerFromSeed(fromHex(requireFlag(values['hotkey-seed'], 'hotkey-seed'), 32, '--hotkey-seed'));
      nodeSeed = fromHex(requireFlag(values['node-seed'], 'node-seed'), 32, '--node-seed');
    } catch (err) {
      if (err instanceof UsageError) throw err;
      throw new UsageError(`${(err as Error).message} (generate one with: openssl rand -hex 32)`);
    }
    const netuid = intFlag(values.netuid, 'netuid', 1);
    if (values.genesis !== undefined && !/^(0x)?[0-9a-fA-F]{64}$/.test(values.genesis)) throw new UsageError('--genesis must be the chain\'s genesis hash: 0x followed by 64 hex characters');
    const validators = await readValidators(values.validators);
    const mesh = new Mesh({
      netuid,
      genesisHash: (values.genesis ?? STANDALONE_GENESIS).toLowerCase(),
      hotkey,
      nodeKeySeed: nodeSeed,
      listen: values.listen ?? ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: values.bootstrap ?? [],
      dht: !values['no-dht'],
      heartbeatMs: optionalIntFlag(values['heartbeat-ms'], 'heartbeat-ms'),
      maintainMs: optionalIntFlag(values['maintain-ms'], 'maintain-ms'),
      admissionGraceMs: optionalIntFlag(values['grace-ms'], 'grace-ms'),
      strikeLimit: optionalIntFlag(values['strike-limit'], 'strike-limit'),
      bindingAnnounceMs: optionalIntFlag(values['announce-ms'], 'announce-ms'),
      publishWaitMs: optionalIntFlag(values['publish-wait-ms'], 'publish-wait-ms'),
      maxReportsPerAuthorRun: optionalIntFlag(values['reports-per-author'], 'reports-per-author'),
    });
    mesh.setValidatorSet(validators);
    let archive: { close(): Promise<void> } | null = null;
    if (values.archive) {
      const { Archive } = await import('../archive.ts');
      const { archiveRunBundleProvider } = await import('../p2p/run-bundle.ts');
      const { archiveEvidenceReader } = await import('../validator/evidence.ts');
      const a = await Archive.openReadOnly(values.archive); // a snapshot: works beside a live node and on read-only media
      archive = a;
      mesh.setRunBundleProvider(archiveRunBundleProvider(archiveEvidenceReader(a)));
    }
    const run = optionalIntFlag(values.run, 'run');
    if (run !== undefined) mesh.setCurrentRun(run);
    mesh.onReport((m) => out({
      event: 'report', hash: m.hash, validator: m.reveal.signed.report.validatorHotkey, runId: m.runId, issuedAt: m.reveal.signed.report.issuedAt,
      code: m.reveal.signed.report.entries[0]?.codeSha256, via: m.via, from: m.fromPeer,
    }));
    mesh.onConsensus((m) => out({ event: 'consensus', hash: m.hash, hex: Buffer.from(m.payload).toString('hex'), runId: m.runId, signer: m.signerHotkey, via: m.via }));
    mesh.onEvent((e: MeshEvent) => out({ event: e.type, ...e, type: undefined }));
    await mesh.start();
    out({ event: 'ready', peerId: mesh.peerId, multiaddrs: mesh.multiaddrs(), hotkey: hotkey.hotkey });

    let stopping: Promise<void> | null = null;
    const stop = () => (stopping ??= mesh.stop().catch(() => {}).then(() => archive?.close()).catch(() => {}));
    process.once('SIGTERM', () => { void stop().then(() => process.exit(0)); });
    process.once('SIGINT', () => { void stop().then(() => process.exit(0)); });

    const handle = async (cmd: Record<string, any>): Promise<Record<string, unknown>> => {
      switch (cmd.cmd) {
        case 'report': {
          const runId = cmd.runId ?? mesh.currentRun() ?? 0;
          const tag = String(cmd.tag ?? `${hotkey.hotkey}:${Date.now()}`);
          const signed = signScoreReport(syntheticReport(hotkey, netuid, runId, tag), hotkey);
          if (cmd.forge) {
            const sig = fromHex(signed.signature, 64);
            sig[0] ^= 0xff;
            const bytes = encodeReveal({ salt: freshSalt(), signed: { ...signed, signature: Buffer.from(sig).toString('hex') } });
            const recipients = await mesh.publishRaw('report', mesh.envelope('report', runId, bytes));
            return { ok: true, recipients, hash: sha256Hex(bytes) };
          }
          const bytes = encodeReveal({ salt: freshSalt(), signed });
          const r = await mesh.publishReport(bytes);
          return { ok: true, ...r, code: signed.report.entries[0].codeSha256 };
        }
        case 'burst': {
          // Throughput probe: sign and publish `count` reports back to back.
          const count = Math.min(Number(cmd.count ?? 100), 10_000);
          const runId = mesh.currentRun() ?? 0;
          const started = Date.now();
          const results = await Promise.all(Array.from({ length: count }, (_, k) =>
            mesh.publishReport(encodeReveal({ salt: freshSalt(), signed: signScoreReport(syntheticReport(hotkey, netuid, runId, `burst-${started}-${k}`), hotkey) }))));
          return { ok: true, published: results.length, queued: results.filter((r) => r.queued).length, ms: Date.now() - started };
        }
        case 'consensus': {
          const r = await mesh.publishConsensus(fromHex(String(cmd.hex ?? ''), undefined, 'hex'), cmd.runId);
          return { ok: true, ...r };
        }
        case 'set-validators':
          mesh.setValidatorSet(parseValidators(cmd.validators));
          return { ok: true };
        case 'set-run':
          mesh.setCurrentRun(Number(cmd.runId));
          return { ok: true };
        case 'block':
          mesh.block(cmd.peers ?? []);
          return { ok: true };
        case 'unblock':
          mesh.unblock(cmd.peers);
          return { ok: true };
        case 'dial':
          await mesh.dial(String(cmd.addr));
          return { ok: true };
        case 'sync':
          return { ok: true, fetched: await mesh.syncRun() };
        case 'fetch': {
          const b = await mesh.fetch(String(cmd.hash));
          return { ok: true, found: b !== null, hex: b ? Buffer.from(b).toString('hex') : null };
        }
        case 'peers':
          return { ok: true, peers: mesh.peers() };
        case 'metrics':
          return { ok: true, metrics: mesh.metrics() };
        case 'gossip-streams':
          return { ok: true, streams: mesh.gossipStreams() };
        case 'stop':
          await stop();
          return { ok: true };
        default:
          return { ok: false, error: `unknown command ${JSON.stringify(cmd.cmd)}; see conclave mesh --help` };
      }
    };

    const rl = createInterface({ input: process.stdin });
    for await (const line of rl) {
      if (!line.trim()) continue;
      let cmd: Record<string, any>;
      try {
        cmd = JSON.parse(line);
      } catch (err) {
        out({ event: 'reply', ok: false, error: `not JSON: ${(err as Error).message}` });
        continue;
      }
      // Commands run concurrently: a publish waiting for subscribers must not hold up 'metrics' or 'peers'.
      const reply = handle(cmd).then(
        (r) => out({ event: 'reply', id: cmd.id, ...r }),
        (err) => out({ event: 'reply', id: cmd.id, ok: false, error: (err as Error).message }),
      );
      if (cmd.cmd === 'stop') {
        await reply;
        break;
      }
    }
    await stop();
    return 0;
  },
};

export default command;

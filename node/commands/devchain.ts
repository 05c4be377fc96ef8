// `conclave devchain`: run the local Substrate JSON-RPC chain with subtensor's metadata; admin subcommands
// (new-block, set-commitment, set-storage) change its state between blocks over its dev_* RPC methods.
import { WebSocket } from 'ws';
import { parseFlags, printJson, UsageError, type Command, intFlag } from '../cli-kit.ts';
import { DevChain } from '../devchain/devchain.ts';
import { defaultGenesis, type Genesis } from '../devchain/genesis.ts';
import { resolveEndpoint } from '../chain/endpoints.ts';
import { MAX_RPC_FRAME_BYTES, RPC_JSON_LIMITS } from '../devchain/rpc-frame.ts';
import { parseJsonBounded } from '../bounded/json.ts';
import { InputError } from '../bounded/input-error.ts';

const help = `Usage: conclave devchain [--genesis GENESIS.json] [--port N] [--block-ms MS] [--data DIR]
       conclave devchain print-genesis
       conclave devchain new-block      [--endpoint URL]
       conclave devchain set-commitment [--endpoint URL] --netuid N --hotkey SS58 --text TEXT
       conclave devchain set-storage    [--endpoint URL] --pallet P --item I [--args JSON] --value JSON
       conclave devchain register       [--endpoint URL] --netuid N (--seed //Name | --hotkey SS58) [--stake RAO] [--permit] [--text TEXT]
       conclave devchain inject-pulse   [--endpoint URL] --round R --signature HEX

A local chain that speaks Substrate JSON-RPC with subtensor's real runtime metadata, for tests and the
devnet. @polkadot/api talks to it as to a subtensor node: real SCALE storage, blake2-256 block hashes,
sr25519-signed extrinsics checked for signature, nonce and mortality, and the calls Conclave uses
(Commitments.set_commitment, SubtensorModule.set_weights with its rate limit, commit_timelocked_weights
revealed per block with Drand.Pulses, serve_axon) applied with subtensor's errors; epochs on the stateful
schedule of spec >= 423 (--legacy-epochs: the modulo rule of older runtimes). Metadata is served as V14
(state_getMetadata) and V14/V15/V16 (Metadata_metadata_at_version). Blocks come on a timer and on demand.
Nothing is written to disk unless --data is given. The default genesis gives the chain its own drand beacon,
whose pulses it publishes as its clock passes each round; a genesis with "drand": {"beacon": "quicknet"}
takes real quicknet pulses by inject-pulse (checked against the beacon).

Without --genesis it starts the default devnet genesis: netuid 1 with 4 validators of unequal stake
(keys //Validator0..3) and 6 miners (//Miner0..5) with commitments "<sha256>:<url>".

Options:
  --genesis FILE     genesis JSON (subnets, neurons, stakes, permits, balances, commitments)  [default: built-in]
  --host HOST        address to listen on (keep it loopback)                                [default: 127.0.0.1]
  --port N           WebSocket port                                                         [default: 9944]
  --block-ms MS      block interval; 0 = only on demand (new-block / dev_newBlock)          [default: 1000]
  --data DIR         keep blocks and state in DIR across restarts (DIR/chain.jsonl)         [default: none]
  --seed, --hotkey   register: the new neuron's dev seed or SS58 hotkey
  --stake RAO        register: alpha stake in rao                                           [default: 0]
  --permit           register: give it a validator permit
  --endpoint URL     devchain to administer (admin subcommands)                             [default: ws://127.0.0.1:9944]
  --round, --signature  inject-pulse: drand round and its 48-byte BLS signature (hex)
  --legacy-epochs    serve a runtime without the stateful epoch schedule (before spec 423)
  --json             admin subcommands: print the RPC result as JSON
  -h, --help         show this help

Admin subcommands take effect in the next block (use new-block to make it now).

Examples:
  conclave devchain --port 9944
  conclave devchain --genesis devnet.json --block-ms 250 --data ./.data/devchain
  conclave devchain set-commitment --netuid 1 --hotkey 5F... --text "<sha256>:http://127.0.0.1:8700/m.zip"
  conclave devchain new-block
`;

const options = {
  genesis: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  'block-ms': { type: 'string' },
  data: { type: 'string' },
  endpoint: { type: 'string' },
  netuid: { type: 'string' },
  hotkey: { type: 'string' },
  text: { type: 'string' },
  pallet: { type: 'string' },
  item: { type: 'string' },
  args: { type: 'string' },
  round: { type: 'string' },
  signature: { type: 'string' },
  'legacy-epochs': { type: 'boolean' },
  value: { type: 'string' },
  seed: { type: 'string' },
  stake: { type: 'string' },
  permit: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

function json(v: string | undefined, flag: string): unknown {
  if (v === undefined) throw new UsageError(`missing required flag --${flag}`);
  try {
    return JSON.parse(v);
  } catch {
    throw new UsageError(`--${flag} must be JSON, e.g. --${flag} '[1]' or --${flag} '"0x00"'`);
  }
}

/** A server's text in an error, cut to a few hundred characters. */
function cut(v: unknown): string {
  const s = String(v);
  return s.length > 300 ? `${s.slice(0, 300)}… (${s.length} chars)` : s;
}

/** One JSON-RPC call over a fresh WebSocket, bounded by a timeout. */
export async function devRpc(endpoint: string, method: string, params: unknown[], timeoutMs = 10_000): Promise<unknown> {
  const url = resolveEndpoint(endpoint);
  const ws = new WebSocket(url, { maxPayload: MAX_RPC_FRAME_BYTES });
  try {
    return await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no answer from ${url} within ${timeoutMs} ms`)), timeoutMs);
      ws.once('error', (e) => (clearTimeout(t), reject(new Error(`cannot reach ${url}: ${e.message} (is the devchain running?)`))));
      ws.once('open', () => ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params })));
      ws.on('message', (data) => {
        clearTimeout(t);
        let msg: { result?: unknown; error?: { code?: unknown; message?: unknown; data?: unknown } };
        try {
          msg = parseJsonBounded(data.toString(), `the answer of ${url}`, RPC_JSON_LIMITS) as typeof msg;
          if (msg === null || typeof msg !== 'object') throw new InputError(`the answer of ${url} is not a JSON-RPC response object`);
        } catch (err) {
          reject(err instanceof InputError ? err : new InputError(String(err)));
          return;
        }
        if (msg.error) reject(new Error(`${method} refused: ${cut(msg.error.code)}: ${cut(msg.error.message)}${msg.error.data ? ': ' + cut(msg.error.data) : ''}`));
        else resolve(msg.result);
      });
    });
  } finally {
    ws.terminate();
  }
}

async function admin(sub: string, v: ReturnType<typeof parseFlags<typeof options>>['values']): Promise<number> {
  const endpoint = v.endpoint ?? 'ws://127.0.0.1:9944';
  let result: unknown;
  if (sub === 'new-block') result = await devRpc(endpoint, 'dev_newBlock', []);
  else if (sub === 'set-commitment') {
    if (!v.hotkey || v.text === undefined) throw new UsageError('set-commitment needs --netuid, --hotkey and --text');
    result = await devRpc(endpoint, 'dev_setCommitment', [intFlag(v.netuid, 'netuid', 1, { max: 65535 }), v.hotkey, v.text]);
  } else if (sub === 'set-storage') {
    if (!v.pallet || !v.item) throw new UsageError('set-storage needs --pallet and --item (polkadot-js camelCase, e.g. subtensorModule tempo)');
    result = await devRpc(endpoint, 'dev_setStorage', [{ pallet: v.pallet, item: v.item, args: v.args ? json(v.args, 'args') : [], value: json(v.value, 'value') }]);
  } else if (sub === 'register') {
    if (!v.seed && !v.hotkey) throw new UsageError('register needs --seed //Name or --hotkey SS58');
    if (v.stake !== undefined && !/^\d+$/.test(v.stake)) throw new UsageError('--stake takes an integer amount of rao');
    result = await devRpc(endpoint, 'dev_registerNeuron', [intFlag(v.netuid, 'netuid', 1, { max: 65535 }),
      { seed: v.seed, hotkey: v.hotkey, stake: v.stake ?? '0', validatorPermit: v.permit ?? false, commitment: v.text }]);
  } else if (sub === 'inject-pulse') {
    if (!v.round || !v.signature) throw new UsageError('inject-pulse needs --round R and --signature HEX (the drand BLS signature of that round)');
    result = await devRpc(endpoint, 'dev_injectPulse', [intFlag(v.round, 'round', 0, { min: 1 }), v.signature]);
  } else throw new UsageError(`unknown subcommand '${sub}' (print-genesis, new-block, set-commitment, set-storage, register, inject-pulse)`);
  if (v.json) printJson(result);
  else process.stdout.write(`${sub}: ${typeof result === 'object' ? JSON.stringify(result) : String(result)}\n`);
  return 0;
}

const command: Command = {
  name: 'devchain',
  help,
  async run(argv) {
    const { values: v, positionals } = parseFlags(argv, options);
    const sub = positionals[0];
    if (sub === 'print-genesis') {
      printJson(await defaultGenesis());
      return 0;
    }
    if (sub !== undefined) return admin(sub, v);
    let genesis: Genesis | undefined;
    if (v.genesis) {
      const { readJsonFileBoundedSync } = await import('../bounded/json-file.ts');
      genesis = readJsonFileBoundedSync(v.genesis, { maxBytes: 64 * 1024 * 1024, what: '--genesis', limits: { maxDepth: 16, maxValues: 5_000_000, maxStringChars: 1024 * 1024 } }) as Genesis;
    }
    const chain = new DevChain({
      genesis,
      host: v.host ?? '127.0.0.1',
      port: intFlag(v.port, 'port', 9944, { max: 65535 }),
      blockMs: intFlag(v['block-ms'], 'block-ms', 1000),
      dataDir: v.data,
      epochModel: v['legacy-epochs'] ? 'legacy' : 'stateful',
      log: (l) => process.stderr.write(l + '\n'),
    });
    await chain.start();
    process.stdout.write(`${chain.url}\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await chain.stop();
    process.stderr.write(`devchain stopped at block #${chain.head}\n`);
    return 0;
  },
};

export default command;

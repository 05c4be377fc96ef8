// `conclave chain`: read-only inspection of a subnet on any subtensor endpoint (or the devchain).
import { parseFlags, printJson, UsageError, type Command } from '../cli-kit.ts';
import { SubtensorClient } from '../chain/client.ts';
import type { BlockRef } from '../chain/types.ts';

const help = `Usage: conclave chain <metagraph|hyperparams|commitments|roster|weights> --endpoint E --netuid N [options]

Read subnet state through the same client the validator uses (@polkadot/api with subtensor's signed
extensions). Read-only: nothing is signed or submitted. Every read is pinned to one block.

Subcommands:
  metagraph     uid, hotkey, stake (TotalHotkeyAlpha, rao), validator permit, axon
  hyperparams   tempo, weights rate limit, commit-reveal flag, version key, sizes
  commitments   every text commitment on the subnet (CommitmentOf / RevealedCommitments)
  roster        miners' "<sha256>:<url>" commitments joined with the metagraph, with skip reasons
  weights       the weights --hotkey last set (e.g. the subnet owner's validator)

Options:
  --endpoint E   finney, test, local (ws://127.0.0.1:9944) or a ws:// / wss:// URL   [default: local]
  --netuid N     subnet id                                                          [required]
  --block B      block number or 0x block hash to read at                           [default: best block]
  --hotkey SS58  hotkey for "weights"
  --timeout MS   give up connecting after MS                                        [default: 20000]
  --json         print JSON instead of a table
  -h, --help     show this help

Examples:
  conclave chain metagraph --endpoint finney --netuid 3
  conclave chain hyperparams --endpoint test --netuid 12 --json
  conclave chain roster --endpoint ws://127.0.0.1:9944 --netuid 1 --block 120
`;

const options = {
  endpoint: { type: 'string' },
  netuid: { type: 'string' },
  block: { type: 'string' },
  hotkey: { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
} as const;

const SUBS = ['metagraph', 'hyperparams', 'commitments', 'roster', 'weights'];

function table(rows: Record<string, unknown>[]): string {
  if (rows.length === 0) return '(none)\n';
  const cols = Object.keys(rows[0]);
  const cells = rows.map((r) => cols.map((c) => String(r[c] ?? '')));
  const w = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const line = (xs: string[]) => xs.map((x, i) => x.padEnd(w[i])).join('  ').trimEnd();
  return [line(cols.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n') + '\n';
}

const command: Command = {
  name: 'chain',
  help,
  async run(argv) {
    const { values: v, positionals } = parseFlags(argv, options);
    const sub = positionals[0];
    if (!sub || !SUBS.includes(sub)) throw new UsageError(`expected a subcommand: ${SUBS.join(', ')}`);
    if (!v.netuid || !/^\d+$/.test(v.netuid) || Number(v.netuid) > 65535) throw new UsageError('--netuid N (0..65535) is required');
    const netuid = Number(v.netuid);
    let at: BlockRef;
    if (v.block !== undefined) {
      if (/^\d+$/.test(v.block)) at = Number(v.block);
      else if (/^0x[0-9a-fA-F]{64}$/.test(v.block)) at = v.block.toLowerCase();
      else throw new UsageError('--block takes a block number or a 0x-prefixed 32-byte hash');
    }
    if (sub === 'weights' && !v.hotkey) throw new UsageError('weights needs --hotkey SS58');
    const timeout = v.timeout && /^\d+$/.test(v.timeout) ? Number(v.timeout) : 20_000;
    const client = await SubtensorClient.connect({ endpoint: v.endpoint ?? 'local', connectTimeoutMs: timeout });
    try {
      const hash = await client.blockHash(at);
      const block = await client.blockNumber(hash);
      let out: unknown;
      let rows: Record<string, unknown>[] = [];
      if (sub === 'metagraph') {
        const ns = await client.metagraph(netuid, hash);
        out = ns;
        rows = ns.map((n) => ({ uid: n.uid, hotkey: n.hotkey, stake: n.stake, permit: n.validatorPermit ? 'yes' : '', axon: n.axon ? `${n.axon.ip}:${n.axon.port}` : '' }));
      } else if (sub === 'hyperparams') {
        const hp = await client.hyperparams(netuid, hash);
        out = hp;
        rows = Object.entries(hp).map(([k, val]) => ({ name: k, value: val }));
      } else if (sub === 'commitments') {
        const c = await client.commitments(netuid, hash);
        out = c;
        rows = [...c.records.map((r) => ({ hotkey: r.hotkey, block: r.block, source: r.source, text: r.text })),
          ...c.skipped.map((s) => ({ hotkey: s.hotkey, block: '', source: 'skipped', text: s.reason }))];
      } else if (sub === 'roster') {
        const r = await client.minerRoster(netuid, hash);
        out = r;
        rows = [...r.entries.map((e) => ({ uid: e.uid, hotkey: e.minerHotkey, block: e.commitBlock, sha256: e.codeSha256, url: e.url })),
          ...r.skipped.map((s) => ({ uid: s.uid, hotkey: s.hotkey, block: '', sha256: 'SKIPPED', url: s.reason }))];
      } else {
        const w = await client.weightsOf(netuid, v.hotkey!, hash);
        if (w === null) throw new Error(`hotkey ${v.hotkey} is not registered on subnet ${netuid} at block ${block}`);
        out = w;
        rows = w.map((x) => ({ uid: x.uid, weight: x.weight, share: (x.weight / Math.max(1, w.reduce((a, y) => a + y.weight, 0))).toFixed(4) }));
      }
      if (v.json) printJson({ endpoint: client.endpoint, netuid, block, blockHash: hash, [sub]: out });
      else process.stdout.write(`${sub} of subnet ${netuid} at block #${block} (${hash}) on ${client.endpoint}\n${table(rows)}`);
      return 0;
    } finally {
      await client.close();
    }
  },
};

export default command;

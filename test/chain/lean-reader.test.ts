// node/chain/lean (the audit's chain reader without @polkadot/api) against the devchain over
// WebSocket: every read the audit makes answers what SubtensorClient (@polkadot/api) answers, at the
// head and at an earlier block; the pieces (xxHash/BLAKE2 key hashers, SCALE, metadata) on their own.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cryptoWaitReady, blake2AsU8a, xxhashAsU8a } from '@polkadot/util-crypto';
import { DevChain } from '../../node/devchain/devchain.ts';
import { defaultGenesis, devKeypair, DEFAULT_NETUID, type Genesis } from '../../node/devchain/genesis.ts';
import { SubtensorClient } from '../../node/chain/client.ts';
import { formatScoreCommitment } from '../../node/chain/commitments.ts';
import { LeanChainReader } from '../../node/chain/lean/reader.ts';
import { blake2_128, twox128, hashKey } from '../../node/chain/lean/hashers.ts';
import { parseMetadata } from '../../node/chain/lean/metadata.ts';
import { ScaleReader, hexToBytes } from '../../node/chain/lean/scale.ts';
import { cryptoReady } from '../../proto/signer.ts';

const NET = DEFAULT_NETUID;
const RUN = 40;

describe('chain: the lean reader (node/chain/lean) answers as SubtensorClient does', function () {
  this.timeout(60_000);
  let genesis: Genesis;
  let dc: DevChain;
  let client: SubtensorClient;
  let lean: LeanChainReader;
  let early = 0;
  let hotkeys: string[] = [];

  before(async () => {
    await cryptoWaitReady();
    await cryptoReady();
    genesis = await defaultGenesis();
    genesis.subnets[0].neurons[5].commitment = 'not-a-hash:http://127.0.0.1/x.zip';
    genesis.subnets[0].neurons[6].axon = { ip: '127.0.0.1', port: 9101 };
    genesis.subnets[0].neurons[7].axon = { ip: '10.1.2.3', port: 30333 };
    dc = new DevChain({ genesis, blockMs: 0 });
    await dc.start();
    for (let i = 0; i < 3; i++) dc.produceBlock();
    early = dc.head;
    client = await SubtensorClient.connect({ endpoint: dc.url });
    lean = await LeanChainReader.connect({ endpoint: dc.url });
    const neurons = await client.metagraph(NET);
    hotkeys = neurons.map((n) => n.hotkey);
    const validators = neurons.filter((n) => n.validatorPermit);
    // score commitments of two validators for RUN, one for another run, a revealed commitment, weights
    dc.setCommitment(NET, validators[0].hotkey, formatScoreCommitment(RUN, randomBytes(32).toString('hex')));
    dc.setCommitment(NET, validators[1].hotkey, formatScoreCommitment(RUN + 1, randomBytes(32).toString('hex')));
    dc.produceBlock();
    dc.setCommitment(NET, validators[2].hotkey, formatScoreCommitment(RUN, randomBytes(32).toString('hex')));
    dc.setStorage('commitments', 'revealedCommitments', [NET, validators[3].hotkey], [['0x' + Buffer.from(formatScoreCommitment(RUN, 'ab'.repeat(32))).toString('hex'), dc.head + 1]]);
    dc.setStorage('subtensorModule', 'weights', [NET, validators[0].uid], [[4, 30000], [5, 35535]]);
    dc.setStorage('subtensorModule', 'weights', [NET, validators[1].uid], [[6, 65535]]);
    const last = neurons.map(() => 0);
    last[validators[0].uid] = dc.head + 1;
    last[validators[1].uid] = dc.head;
    dc.setStorage('subtensorModule', 'lastUpdate', [NET], last);
    dc.produceBlock();
    dc.produceBlock();
  });

  after(async () => {
    lean?.close();
    await client?.close();
    await dc?.stop();
  });

  it('genesis hash, block hashes and numbers, the best block', async () => {
    assert.equal(await lean.genesisHash(), client.api.genesisHash.toHex());
    assert.equal(await lean.blockHash(early), await client.blockHash(early));
    const best = await lean.bestBlock();
    assert.deepEqual(best, await client.bestBlock());
    assert.equal(best.number, dc.head);
    await assert.rejects(lean.blockHash(dc.head + 1000), /does not exist yet/);
  });

  for (const which of ['head', 'early'] as const) {
    it(`metagraph, commitments, miner roster and score commitments (${which})`, async () => {
      const at = which === 'head' ? dc.head : early;
      assert.deepEqual(await lean.metagraph(NET, at), await client.metagraph(NET, at));
      const a = await lean.commitments(NET, at);
      const b = await client.commitments(NET, at);
      const byHotkey = (x: { hotkey: string }, y: { hotkey: string }) => x.hotkey.localeCompare(y.hotkey);
      assert.deepEqual([...a.records].sort(byHotkey), [...b.records].sort(byHotkey));
      assert.deepEqual([...a.skipped].sort(byHotkey), [...b.skipped].sort(byHotkey));
      assert.deepEqual(await lean.minerRoster(NET, at), await client.minerRoster(NET, at));
      assert.deepEqual(await lean.scoreCommitments(NET, RUN, at), await client.scoreCommitments(NET, RUN, at));
      assert.deepEqual(await lean.hyperparams(NET, at), await client.hyperparams(NET, at));
      assert.deepEqual(await lean.epochSchedule(NET, at), await client.epochSchedule(NET, at));
    });
  }

  it('the metagraph carries what was set: axons, permits, unequal stakes; the roster skips a malformed commitment', async () => {
    const m = await lean.metagraph(NET);
    assert.deepEqual(m[6].axon, { ip: '127.0.0.1', port: 9101 });
    assert.deepEqual(m[7].axon, { ip: '10.1.2.3', port: 30333 });
    assert.ok(m.some((n) => n.validatorPermit) && m.some((n) => !n.validatorPermit));
    const roster = await lean.minerRoster(NET);
    assert.ok(roster.skipped.some((s) => s.uid === 5 && /64 lowercase hex/.test(s.reason)));
    const sc = await lean.scoreCommitments(NET, RUN);
    assert.equal(sc.size, 3, 'two CommitmentOf and one RevealedCommitments for the run');
  });

  it('weights and last updates of many hotkeys at a block, unregistered hotkeys absent', async () => {
    const stranger = devKeypair('//Stranger').address;
    const ask = [...hotkeys, stranger];
    for (const at of [dc.head, early]) {
      assert.deepEqual(await lean.weightsOfMany(NET, ask, at), await client.weightsOfMany(NET, ask, at));
      assert.deepEqual(await lean.lastWeightsUpdates(NET, ask, at), await client.lastWeightsUpdates(NET, ask, at));
    }
    const w = await lean.weightsOfMany(NET, ask);
    assert.equal(w.has(stranger), false);
    assert.ok([...w.values()].some((x) => x.length === 2 && x[0].weight === 30000));
  });

  it('refuses a subnet that does not exist, and an endpoint that is not there, by name', async () => {
    await assert.rejects(lean.hyperparams(42), /subnet 42 does not exist/);
    await assert.rejects(LeanChainReader.connect({ endpoint: 'ws://127.0.0.1:1', timeoutMs: 5_000 }), /ws:\/\/127\.0\.0\.1:1 unreachable/);
    await assert.rejects(LeanChainReader.connect({ endpoint: 'http://127.0.0.1:1' }), /must use ws:\/\/ or wss:\/\//);
  });

  it('the legacy epoch schedule (a runtime without LastEpochBlock)', async () => {
    const legacy = new DevChain({ genesis, blockMs: 0, epochModel: 'legacy' });
    await legacy.start();
    const c = await SubtensorClient.connect({ endpoint: legacy.url });
    const l = await LeanChainReader.connect({ endpoint: legacy.url });
    try {
      legacy.produceBlock();
      const s = await l.epochSchedule(NET);
      assert.equal(s.model, 'legacy');
      assert.deepEqual(s, await c.epochSchedule(NET));
    } finally {
      l.close();
      await c.close();
      await legacy.stop();
    }
  });
});

describe('chain: the lean reader\'s parts', () => {
  it('key hashers agree with @polkadot/util-crypto at every length around the xxHash64 stripes', async () => {
    await cryptoWaitReady();
    assert.equal(Buffer.from(twox128(new TextEncoder().encode('System'))).toString('hex'), '26aa394eea5630e07c48ae0c9558cef7');
    for (let n = 0; n <= 70; n++) {
      const d = randomBytes(n);
      assert.deepEqual(twox128(d), xxhashAsU8a(d, 128), `twox128 of ${n} bytes`);
      assert.deepEqual(blake2_128(d), blake2AsU8a(d, 128), `blake2_128 of ${n} bytes`);
    }
    const k = new Uint8Array(randomBytes(32));
    assert.deepEqual(hashKey('Blake2_128Concat', k), new Uint8Array([...blake2AsU8a(k, 128), ...k]));
    assert.deepEqual(hashKey('Identity', k), k);
  });

  it('SCALE compact integers in all four modes, and lengths past the data refused', () => {
    const r = new ScaleReader(hexToBytes('0xfc' + '1501' + 'feffffff' + '0b00407a10f35a'));
    assert.equal(r.compact(), 63n);
    assert.equal(r.compact(), 69n);
    assert.equal(r.compact(), 1073741823n);
    assert.equal(r.compact(), 100000000000000n);
    assert.throws(() => new ScaleReader(hexToBytes('0x1501')).vecBytes(), /exceeds/);
  });

  it('metadata: refuses bytes that are not metadata or of an unsupported version, and truncated metadata', async () => {
    assert.throws(() => parseMetadata(new Uint8Array([1, 2, 3, 4, 14])), /no "meta" magic/);
    assert.throws(() => parseMetadata(new Uint8Array([0x6d, 0x65, 0x74, 0x61, 16])), /V16 is not supported/);
    const dc = new DevChain({ genesis: await defaultGenesis(), blockMs: 0 });
    await dc.start();
    const lean = await LeanChainReader.connect({ endpoint: dc.url });
    try {
      const hex = await (lean as unknown as { rpc: { call(m: string, p: unknown[]): Promise<string> } }).rpc.call('state_getMetadata', []);
      const md = parseMetadata(hexToBytes(hex));
      assert.ok(md.storage.has('SubtensorModule.Keys') && md.storage.has('Commitments.CommitmentOf'));
      assert.deepEqual(md.storage.get('SubtensorModule.TotalHotkeyAlpha')!.hashers, ['Blake2_128Concat', 'Identity']);
      assert.throws(() => parseMetadata(hexToBytes(hex).subarray(0, 5000)), /SCALE/);
    } finally {
      lean.close();
      await dc.stop();
    }
  });
});

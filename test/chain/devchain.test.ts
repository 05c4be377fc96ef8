// Real @polkadot/api (through SubtensorClient) against the devchain over WebSocket on 127.0.0.1.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { DevChain } from '../../node/devchain/devchain.ts';
import { defaultGenesis, devKeypair, resolveNeurons, DEFAULT_NETUID, type Genesis } from '../../node/devchain/genesis.ts';
import { SubtensorClient } from '../../node/chain/client.ts';
import { formatScoreCommitment } from '../../node/chain/commitments.ts';
import type { Sr25519Signer } from '../../node/chain/types.ts';

function signerOf(seed: string): Sr25519Signer {
  const pair = devKeypair(seed);
  return { hotkey: pair.address, publicKey: pair.publicKey, sign: (m) => pair.sign(m) };
}

async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Produces a block every 50 ms until `p` settles (for a devchain with blocks on demand only). */
async function withBlocks<T>(dc: DevChain, p: Promise<T>): Promise<T> {
  const t = setInterval(() => dc.produceBlock(), 50);
  try {
    return await p;
  } finally {
    clearInterval(t);
  }
}

describe('chain: SubtensorClient against the devchain', function () {
  this.timeout(30_000);
  let genesis: Genesis;
  let dc: DevChain;
  let client: SubtensorClient;
  let other: SubtensorClient;

  before(async () => {
    await cryptoWaitReady();
    genesis = await defaultGenesis();
    genesis.subnets[0].neurons[5].commitment = 'not-a-hash:http://127.0.0.1/x.zip';
    genesis.subnets[0].neurons[6].axon = { ip: '127.0.0.1', port: 9101 };
    genesis.subnets[0].weightsRateLimit = 40; // 4 s at 100 ms blocks: room for two refused sets on a slow machine
    genesis.balances = [{ address: devKeypair('//Stranger').address, free: '1000000000000' }]; // funded, not registered
    dc = new DevChain({ genesis, blockMs: 100 });
    await dc.start();
    [client, other] = await Promise.all([SubtensorClient.connect({ endpoint: dc.url }), SubtensorClient.connect({ endpoint: dc.url })]);
  });
  after(async () => {
    await client?.close();
    await other?.close();
    await dc?.stop();
  });

  it('reads the metagraph equal to genesis (uids, hotkeys, stakes, permits, axons)', async () => {
    const neurons = await client.metagraph(DEFAULT_NETUID);
    const want = resolveNeurons(genesis.subnets[0]);
    assert.equal(neurons.length, 10);
    assert.deepEqual(neurons.map((n) => [n.uid, n.hotkey, n.stake, n.validatorPermit]), want.map((n) => [n.uid, n.hotkey, n.stake, n.validatorPermit]));
    const stakes = neurons.filter((n) => n.validatorPermit).map((n) => n.stake);
    assert.equal(new Set(stakes.map(String)).size, 4, 'validators have unequal stake');
    assert.deepEqual(neurons[6].axon, { ip: '127.0.0.1', port: 9101 });
    assert.equal(neurons[0].axon, undefined);
  });

  it('reads hyperparameters and refuses a missing subnet by name', async () => {
    const hp = await client.hyperparams(DEFAULT_NETUID);
    assert.equal(hp.tempo, 20);
    assert.equal(hp.weightsRateLimit, 40);
    assert.equal(hp.commitRevealEnabled, false);
    assert.equal(hp.subnetworkN, 10);
    await assert.rejects(client.hyperparams(42), /subnet 42 does not exist/);
    assert.equal(await client.subnetOwnerHotkey(DEFAULT_NETUID), devKeypair('//Validator0').address);
    assert.equal(await client.subnetOwnerHotkey(42), null);
  });

  it('builds the miner roster from commitments and skips a malformed one with a reason', async () => {
    const r = await client.minerRoster(DEFAULT_NETUID);
    assert.deepEqual(r.entries.map((e) => e.uid), [4, 6, 7, 8, 9]);
    assert.match(r.entries[0].url, /^http:\/\/127\.0\.0\.1:8700\/miner0\//);
    assert.equal(r.skipped.length, 1);
    assert.equal(r.skipped[0].uid, 5);
    assert.match(r.skipped[0].reason, /64 lowercase hex/);
  });

  it('a commitment set by one key is read back by another client at the right block', async () => {
    const hash = 'ab'.repeat(32);
    const res = await client.commitScoreHash(signerOf('//Validator1'), DEFAULT_NETUID, 1234, hash);
    assert.ok(res.ok, JSON.stringify(res));
    const v1 = devKeypair('//Validator1').address;
    const atBlock = await other.scoreCommitments(DEFAULT_NETUID, 1234, res.block);
    assert.deepEqual(atBlock.get(v1), { hash, block: res.block });
    const before = await other.scoreCommitments(DEFAULT_NETUID, 1234, res.block - 1);
    assert.equal(before.has(v1), false);
    const otherRun = await other.scoreCommitments(DEFAULT_NETUID, 1235, res.block);
    assert.equal(otherRun.size, 0);
    const text = (await other.commitments(DEFAULT_NETUID, res.block)).records.find((c) => c.hotkey === v1)?.text;
    assert.equal(text, formatScoreCommitment(1234, hash));
  });

  it('set_weights inside the rate limit is refused (on chain and locally), and accepted after it', async () => {
    const v0 = signerOf('//Validator0');
    const first = await client.setWeights(v0, DEFAULT_NETUID, [4, 6, 7], [0.5, 1, 0.25]);
    assert.ok(first.ok, JSON.stringify(first));
    assert.deepEqual(await other.weightsOf(DEFAULT_NETUID, v0.hotkey, first.block), [{ uid: 4, weight: 32768 }, { uid: 6, weight: 65535 }, { uid: 7, weight: 16384 }]);
    assert.equal((await other.lastWeightsUpdate(DEFAULT_NETUID, v0.hotkey, first.block))?.block, first.block, 'LastUpdate of its uid is the block the set landed in');
    assert.equal(await other.lastWeightsUpdate(DEFAULT_NETUID, devKeypair('//Stranger').address), null, 'an unregistered key has no uid');
    // the batched reads (the audit's and the certify phase's) agree with the one-by-one reads at the same block
    const stranger = devKeypair('//Stranger').address;
    const v1 = signerOf('//Validator1').hotkey;
    const many = await other.weightsOfMany(DEFAULT_NETUID, [v0.hotkey, stranger, v1], first.block);
    assert.deepEqual([...many.keys()].sort(), [v0.hotkey, v1].sort(), 'an unregistered key is absent');
    assert.deepEqual(many.get(v0.hotkey), await other.weightsOf(DEFAULT_NETUID, v0.hotkey, first.block));
    assert.deepEqual(many.get(v1), await other.weightsOf(DEFAULT_NETUID, v1, first.block));
    const updates = await other.lastWeightsUpdates(DEFAULT_NETUID, [v0.hotkey, stranger, v1], first.block);
    assert.deepEqual(updates.get(v0.hotkey), await other.lastWeightsUpdate(DEFAULT_NETUID, v0.hotkey, first.block));
    assert.deepEqual(updates.get(v1), await other.lastWeightsUpdate(DEFAULT_NETUID, v1, first.block));
    assert.equal(updates.has(stranger), false);
    assert.equal((await other.weightsOfMany(DEFAULT_NETUID, [], first.block)).size, 0);
    // the chain itself refuses: bypass the client's local check and submit directly
    const onChain = await client.submit(v0, () => client.api.tx.subtensorModule.setWeights(DEFAULT_NETUID, [4], [65535], 0));
    assert.equal(onChain.ok, false);
    assert.equal(!onChain.ok && onChain.error.kind, 'rate-limited');
    assert.deepEqual(!onChain.ok && onChain.error.module, { section: 'subtensorModule', name: 'SettingWeightsTooFast' });
    const local = await client.setWeights(v0, DEFAULT_NETUID, [4], [1]);
    assert.equal(!local.ok && local.error.kind, 'rate-limited');
    await waitFor(async () => (await client.bestBlock()).number + 1 >= first.block + 40, 15_000, 'rate limit to pass');
    const later = await client.setWeights(v0, DEFAULT_NETUID, [9], [1]);
    assert.ok(later.ok, JSON.stringify(later));
    assert.deepEqual(await other.weightsOf(DEFAULT_NETUID, v0.hotkey), [{ uid: 9, weight: 65535 }]);
  });

  it('a miner without a validator permit cannot set weights; an unregistered key cannot commit', async () => {
    const m = await client.submit(signerOf('//Miner1'), () => client.api.tx.subtensorModule.setWeights(DEFAULT_NETUID, [4], [65535], 0));
    assert.equal(!m.ok && m.error.module?.name, 'NeuronNoValidatorPermit');
    const stranger = await client.setCommitment(signerOf('//Stranger'), DEFAULT_NETUID, 'hello');
    assert.equal(!stranger.ok && stranger.error.kind, 'not-registered');
  });

  it('refuses a transaction from an account that does not exist on chain (CheckNonce: Payment)', async () => {
    const nobody = devKeypair('//Unfunded');
    const tx = client.api.tx.commitments.setCommitment(DEFAULT_NETUID, { fields: [{ Raw2: '0x6869' }] });
    await tx.signAsync(nobody, { nonce: 0 });
    await assert.rejects(client.api.rpc.author.submitExtrinsic(tx.toU8a()), /1010: Invalid Transaction: Inability to pay some fees/);
    const res = await client.setCommitment(signerOf('//Unfunded'), DEFAULT_NETUID, 'hello');
    assert.equal(!res.ok && res.error.kind, 'no-balance', JSON.stringify(res));
    assert.match(!res.ok ? res.error.message : '', /cannot pay the fee .*transfer a little TAO/);
  });

  it('serve_axon lands in the metagraph', async () => {
    const res = await client.serveAxon(signerOf('//Validator2'), DEFAULT_NETUID, { ip: '10.1.2.3', port: 30333 });
    assert.ok(res.ok, JSON.stringify(res));
    const n = await other.metagraph(DEFAULT_NETUID, res.block);
    assert.deepEqual(n[2].axon, { ip: '10.1.2.3', port: 30333 });
  });

  it('refuses a tampered signature, a stale nonce and an unsupported call with the node errors', async () => {
    const pair = devKeypair('//Validator3');
    const nonce = (await client.api.rpc.system.accountNextIndex(pair.address)).toNumber();
    const tx = client.api.tx.commitments.setCommitment(DEFAULT_NETUID, { fields: [{ Raw5: '0x68656c6c6f' }] });
    await tx.signAsync(pair, { nonce });
    const good = tx.toU8a();
    const bad = good.slice();
    // signature sits after: compact length, version byte, MultiAddress (1 + 32), MultiSignature tag (1)
    const lenBytes = good[0] & 3 ? (good[0] & 3) === 1 ? 2 : 4 : 1;
    bad[lenBytes + 1 + 33 + 1 + 10] ^= 0xff;
    await assert.rejects(client.api.rpc.author.submitExtrinsic(bad), /1010: Invalid Transaction: Transaction has a bad signature/);
    const transfer = client.api.tx.balances.transferKeepAlive(devKeypair('//Miner0').address, 1n);
    await transfer.signAsync(pair, { nonce });
    await assert.rejects(client.api.rpc.author.submitExtrinsic(transfer), /1010: Invalid Transaction: Transaction call is not expected/);
    // the untampered one is accepted; once included, the same nonce again is stale
    const h = await client.api.rpc.author.submitExtrinsic(good);
    assert.match(h.toHex(), /^0x[0-9a-f]{64}$/);
    await waitFor(() => dc.accountNonce(pair.address, dc.head) === nonce + 1, 5000, "inclusion");
    await assert.rejects(client.api.rpc.author.submitExtrinsic(good), /1010: Invalid Transaction: Transaction is outdated/);
    const future = client.api.tx.commitments.setCommitment(DEFAULT_NETUID, { fields: [{ Raw2: '0x6869' }] });
    await future.signAsync(pair, { nonce: nonce + 5 });
    await assert.rejects(client.api.rpc.author.submitExtrinsic(future), /Transaction will be valid in the future/);
    // a mortal transaction past its era: its birth block no longer matches, as on a real node (bad proof)
    const hdr = await client.api.rpc.chain.getHeader();
    const mortal = client.api.tx.commitments.setCommitment(DEFAULT_NETUID, { fields: [{ Raw2: '0x6869' }] });
    await mortal.signAsync(pair, { nonce: nonce + 1, blockHash: hdr.hash, era: client.api.createType('ExtrinsicEra', { current: hdr.number.toNumber(), period: 4 }) });
    await waitFor(() => dc.head >= hdr.number.toNumber() + 5, 5000, 'era to pass');
    await assert.rejects(client.api.rpc.author.submitExtrinsic(mortal), /1010: Invalid Transaction: Transaction has a bad signature/);
  });

  it('admin path: dev_setCommitment changes state in the next block', async () => {
    const miner3 = devKeypair('//Miner3').address;
    const sha = 'cd'.repeat(32);
    await client.rpc('dev_setCommitment', [DEFAULT_NETUID, miner3, `${sha}:https://example.invalid/m3.zip`]);
    const n = ((await client.rpc('dev_newBlock', [])) as { number: number }).number;
    const roster = await other.minerRoster(DEFAULT_NETUID, n);
    const e = roster.entries.find((x) => x.minerHotkey === miner3);
    // the next block: dev_newBlock's, or the timer's if it came between the two calls
    assert.ok(e && e.codeSha256 === sha && (e.commitBlock === n || e.commitBlock === n - 1), JSON.stringify({ e, n }));
    const landed = e!.commitBlock;
    const prev = await other.minerRoster(DEFAULT_NETUID, landed - 1);
    assert.notEqual(prev.entries.find((x) => x.minerHotkey === miner3)?.codeSha256, sha);
  });

  it('admin path: dev_registerNeuron adds a miner with the next uid', async () => {
    const before = await other.metagraph(DEFAULT_NETUID);
    const sha = '12'.repeat(32);
    const uid = await client.rpc<number>('dev_registerNeuron', [DEFAULT_NETUID, { seed: '//Miner6', commitment: `${sha}:http://127.0.0.1:8700/miner6/s.zip` }]);
    assert.equal(uid, before.length);
    const b = dc.produceBlock();
    const after = await other.metagraph(DEFAULT_NETUID, b.hash);
    assert.equal(after.length, before.length + 1);
    assert.deepEqual(after[uid], { uid, hotkey: devKeypair('//Miner6').address, stake: 0n, validatorPermit: false });
    assert.equal((await other.minerRoster(DEFAULT_NETUID, b.hash)).entries.find((e) => e.uid === uid)?.codeSha256, sha);
    await assert.rejects(client.rpc('dev_registerNeuron', [DEFAULT_NETUID, { seed: '//Miner6' }]), /already registered/);
  });

  it('a newer RevealedCommitments entry wins over CommitmentOf', async () => {
    const miner4 = devKeypair('//Miner4').address;
    const sha = 'ee'.repeat(32);
    const text = `${sha}:https://example.invalid/revealed.zip`;
    dc.setStorage('commitments', 'revealedCommitments', [DEFAULT_NETUID, miner4], [['0x' + Buffer.from('old').toString('hex'), 0], ['0x' + Buffer.from(text).toString('hex'), dc.head + 1]]);
    const b = dc.produceBlock();
    const { records } = await other.commitments(DEFAULT_NETUID, b.hash);
    assert.deepEqual(records.find((r) => r.hotkey === miner4), { hotkey: miner4, text, block: b.number, source: 'RevealedCommitments' });
    const roster = await other.minerRoster(DEFAULT_NETUID, b.number);
    assert.equal(roster.entries.find((e) => e.minerHotkey === miner4)?.url, 'https://example.invalid/revealed.zip');
  });
});

describe('chain: commit-reveal subnets', function () {
  this.timeout(30_000);
  it('detects CommitRevealWeightsEnabled: plain set_weights refused locally and on chain; weights go as a timelocked commit', async () => {
    const g = await defaultGenesis({ validators: 2, miners: 2 });
    g.subnets[0].commitRevealEnabled = true;
    const dc = new DevChain({ genesis: g, blockMs: 100 });
    await dc.start();
    const client = await SubtensorClient.connect({ endpoint: dc.url });
    try {
      assert.equal((await client.hyperparams(DEFAULT_NETUID)).commitRevealEnabled, true);
      const can = await client.canSetWeights(DEFAULT_NETUID, devKeypair('//Validator0').address);
      assert.deepEqual(can, { ok: true, uid: 0, commitReveal: true });
      const v0 = signerOf('//Validator0');
      const local = await client.setWeights(v0, DEFAULT_NETUID, [2], [1]);
      assert.equal(!local.ok && local.error.kind, 'commit-reveal');
      const onChain = await client.submit(v0, () => client.api.tx.subtensorModule.setWeights(DEFAULT_NETUID, [2], [65535], 0));
      assert.equal(!onChain.ok && onChain.error.module?.name, 'CommitRevealEnabled');
      // new heads arrive through the subscription
      const seen: number[] = [];
      const unsub = await client.onNewBlock((b) => seen.push(b.number));
      await waitFor(() => seen.length >= 2 && seen[seen.length - 1] > seen[0], 3000, 'two new heads');
      unsub();
    } finally {
      await client.close();
      await dc.stop();
    }
  });

  it('canSetWeights is ok for a permitted validator and names the problem for a miner', async () => {
    const dc = new DevChain({ blockMs: 0 });
    await dc.start();
    const client = await SubtensorClient.connect({ endpoint: dc.url });
    try {
      assert.deepEqual(await client.canSetWeights(DEFAULT_NETUID, devKeypair('//Validator1').address), { ok: true, uid: 1, commitReveal: false });
      const m = await client.canSetWeights(DEFAULT_NETUID, devKeypair('//Miner0').address);
      assert.match(!m.ok ? m.reason : '', /no validator permit/);
      const s = await client.canSetWeights(DEFAULT_NETUID, devKeypair('//Nobody').address);
      assert.match(!s.ok ? s.reason : '', /not registered/);
    } finally {
      await client.close();
      await dc.stop();
    }
  });
});

describe('chain: reconnect and persistence', function () {
  this.timeout(30_000);
  it('the client reconnects after the devchain restarts, and --data keeps the chain', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'conclave-devchain-'));
    let dc = new DevChain({ blockMs: 0, dataDir: dir });
    await dc.start();
    const port = dc.port;
    const client = await SubtensorClient.connect({ endpoint: dc.url, maxBackoffMs: 400, connectTimeoutMs: 10_000 });
    try {
      const res = await withBlocks(dc, client.commitScoreHash(signerOf('//Validator0'), DEFAULT_NETUID, 7, 'ef'.repeat(32)));
      assert.ok(res.ok, JSON.stringify(res));
      dc.produceBlock();
      const head = dc.head;
      const genesisHash = dc.genesisHash;
      await dc.stop();
      await waitFor(() => !client.isConnected, 5000, 'client to notice the drop');
      // a read issued while the chain is down waits for the reconnect instead of failing
      const pending = client.bestBlock();
      await new Promise((r) => setTimeout(r, 300));
      dc = new DevChain({ blockMs: 0, dataDir: dir, port });
      await dc.start();
      assert.equal(dc.genesisHash, genesisHash);
      assert.equal(dc.head, head);
      assert.equal((await pending).number, head);
      assert.ok(client.isConnected);
      const best = await client.bestBlock();
      assert.equal(best.number, head);
      const got = await client.scoreCommitments(DEFAULT_NETUID, 7);
      assert.equal(got.get(devKeypair('//Validator0').address)?.hash, 'ef'.repeat(32));
      // and writes work again: nonce continues from the persisted state
      const again = await withBlocks(dc, client.commitScoreHash(signerOf('//Validator0'), DEFAULT_NETUID, 8, 'fe'.repeat(32)));
      assert.ok(again.ok, JSON.stringify(again));
      assert.equal(dc.accountNonce(devKeypair('//Validator0').address, dc.head), 2);
    } finally {
      await client.close();
      await dc.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('connect gives up with a clear error when nothing listens', async () => {
    await assert.rejects(SubtensorClient.connect({ endpoint: 'ws://127.0.0.1:1', connectTimeoutMs: 600, maxBackoffMs: 100 }), /cannot connect to ws:\/\/127\.0\.0\.1:1/);
  });
});

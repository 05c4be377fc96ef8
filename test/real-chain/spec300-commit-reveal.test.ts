// The cross-implementation proof on a real subtensor runtime (spec 300 under chopsticks): the subnet is set
// up with real extrinsics (sudo hyperparameters, register, stake), plain set_weights is refused with
// CommitRevealEnabled, and SubtensorClient's timelocked commit — this project's TypeScript tle
// ciphertext of the legacy payload for drand round 1000 — is decrypted and applied by the runtime's own
// Rust code once the real round-1000 pulse is on chain; the client confirms the reveal from chain state.
// A commit for a round whose pulse never arrives is reported failed after its reveal epoch.
import assert from 'node:assert/strict';
import { sha256 } from '@noble/hashes/sha2.js';
import { SubtensorClient } from '../../node/chain/client.ts';
import { LeanChainReader } from '../../node/chain/lean/reader.ts';
import type { Sr25519Signer, WeightsCommit } from '../../node/chain/types.ts';
import { startChopsticks, SPEC300, devPair, u8aToHex, type Chopsticks } from './chopsticks.ts';

const SIG1000 = Uint8Array.from(Buffer.from('b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39', 'hex'));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Dyn = any;

describe('real runtime (spec 300, chopsticks): timelocked weights revealed by subtensor itself', function () {
  this.timeout(240_000);
  let c: Chopsticks;
  let client: SubtensorClient;
  let stopPump: () => Promise<void>;
  let netuid: number;
  const owner = devPair('//Alice');
  const coldkey = devPair('//Bob');
  const hot = devPair('//BobHot');
  const signer: Sr25519Signer = { hotkey: hot.address, publicKey: hot.publicKey, sign: (m) => hot.sign(m) };

  before(async () => {
    c = await startChopsticks(SPEC300);
    const api = c.api as Dyn;
    const ok = async (p: Promise<{ error: string | null }>, what: string) => assert.equal((await p).error, null, what);
    const sudo = (call: Dyn, what: string) => ok(c.send(owner, api.tx.sudo.sudo(call), what), what);
    await sudo(api.tx.adminUtils.sudoSetNetworkRateLimit(0), 'network rate limit 0');
    await ok(c.send(owner, api.tx.subtensorModule.registerNetwork(owner.address), 'register network'), 'register network');
    netuid = Math.max(...(await api.query.subtensorModule.networksAdded.entries()).map(([k]: Dyn) => k.args[0].toNumber()));
    for (let i = 0; ; i++) {
      const r = await c.send(owner, api.tx.subtensorModule.startCall(netuid), 'start call');
      if (!r.error) break;
      assert.ok(i < 10 && /StartCall|NeedWaitingMoreBlocks/i.test(r.error), `start_call: ${r.error}`);
      await c.newBlock(5);
    }
    await sudo(api.tx.adminUtils.sudoSetTempo(netuid, 10), 'tempo 10');
    await sudo(api.tx.adminUtils.sudoSetWeightsSetRateLimit(netuid, 0), 'weights rate limit 0');
    await sudo(api.tx.adminUtils.sudoSetCommitRevealWeightsInterval(netuid, 1), 'reveal period 1');
    await sudo(api.tx.adminUtils.sudoSetCommitRevealWeightsEnabled(netuid, true), 'commit-reveal on');
    await sudo(api.tx.adminUtils.sudoSetStakeThreshold(0), 'stake threshold 0');
    await ok(c.send(coldkey, api.tx.subtensorModule.burnedRegister(netuid, hot.address), 'burned register'), 'burned register');
    await ok(c.send(coldkey, api.tx.subtensorModule.addStake(hot.address, netuid, 100_000_000_000n), 'add stake'), 'add stake');
    await c.newBlock(12); // one epoch: validator permits
    client = await SubtensorClient.connect({ endpoint: c.url, inclusionTimeoutMs: 30_000 });
    stopPump = c.pump();
  });

  after(async () => {
    await stopPump?.();
    await client?.close();
    await c?.stop();
  });

  async function writePulse(round: number, signature: Uint8Array): Promise<void> {
    const api = c.api as Dyn;
    const q = api.query.drand.pulses;
    const value = api.registry.createType(api.registry.createLookupType(q.creator.meta.type.asMap.value), { round, randomness: u8aToHex(sha256(signature)), signature: u8aToHex(signature) }).toU8a();
    await c.setRaw([[q.key(round), u8aToHex(value)], [api.query.drand.lastStoredRound.key(), u8aToHex(api.registry.createType('u64', round).toU8a())]]);
  }

  async function until(status: () => Promise<{ state: string }>, want: string, blocks: number): Promise<Dyn> {
    let s: Dyn;
    for (let i = 0; i < blocks; i++) {
      s = await status();
      if (s.state === want) return s;
      await c.newBlock();
    }
    return s;
  }

  it('reads the subnet through the client: commit-reveal on, legacy epoch schedule, quicknet beacon', async () => {
    const hp = await client.hyperparams(netuid);
    assert.equal(hp.commitRevealEnabled, true);
    assert.equal(hp.tempo, 10);
    assert.equal(hp.revealPeriodEpochs, 1);
    assert.equal(hp.activityCutoffFactorMilli, null, 'spec 300 predates ActivityCutoffFactorMilli');
    const s = await client.epochSchedule(netuid);
    assert.equal(s.model, 'legacy', 'spec 300 predates the stateful schedule');
    const beacon = await client.drandBeacon();
    assert.equal(u8aToHex(beacon.publicKey).slice(2, 18), '83cf0f2896adee7e');
    assert.equal(beacon.period, 3);
    const can = await client.canSetWeights(netuid, hot.address);
    assert.deepEqual(can.ok && can.commitReveal, true);
    const lean = await LeanChainReader.connect({ endpoint: c.url });
    try {
      assert.deepEqual(await lean.hyperparams(netuid), hp, 'the audit\'s lean reader agrees (commit-reveal, reveal period)');
      assert.deepEqual(await lean.epochSchedule(netuid, s.block), s);
      assert.deepEqual(await lean.metagraph(netuid), await client.metagraph(netuid));
    } finally {
      lean.close();
    }
  });

  it('refuses plain set_weights on chain with CommitRevealEnabled, mapped to the commit-reveal kind', async () => {
    const uid = (await client.lastWeightsUpdate(netuid, hot.address))!.uid;
    const r = await client.submit(signer, () => client.txFn('subtensorModule', 'setWeights')(netuid, [uid], [65535], 0));
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.error.kind, 'commit-reveal');
    assert.equal(!r.ok && r.error.module?.name, 'CommitRevealEnabled');
  });

  let commit: WeightsCommit;
  it('commits weights timelocked to round 1000 (commit_crv3_weights, legacy payload): the runtime decrypts and sets them', async () => {
    const neurons = await client.metagraph(netuid);
    const uids = neurons.map((n) => n.uid);
    const r = await client.commitWeights(signer, netuid, uids, uids.map((u) => u + 1), { revealRound: 1000 });
    assert.ok(r.ok, !r.ok ? r.error.message : '');
    commit = r.commit!;
    assert.equal(commit.format, 'crv3');
    assert.equal((await client.confirmReveal(commit)).state, 'pending');
    await writePulse(1000, SIG1000);
    const s = await until(() => client.confirmReveal(commit), 'revealed', 40);
    assert.equal(s.state, 'revealed', JSON.stringify(s));
    assert.equal(s.weightsOnChain, true);
    const onChain = await client.weightsOf(netuid, hot.address);
    assert.deepEqual(onChain!.map((w) => w.uid), commit.uids);
    assert.deepEqual(onChain!.map((w) => w.weight), commit.values);
    const events = (await (await (c.api as Dyn).at(await client.blockHash(s.block))).query.system.events()).map((e: Dyn) => `${e.event.section}.${e.event.method}`);
    assert.ok(events.includes('subtensorModule.CRV3WeightsRevealed'), events.join(','));
  });

  it('a commit whose drand round never reaches the chain is reported failed after its reveal epoch', async () => {
    const neurons = await client.metagraph(netuid);
    const r = await client.commitWeights(signer, netuid, [neurons[0].uid], [1], { revealRound: 5_000_000 });
    assert.ok(r.ok, !r.ok ? r.error.message : '');
    const s = await until(() => client.confirmReveal(r.commit!), 'failed', 40);
    assert.equal(s.state, 'failed', JSON.stringify(s));
    assert.match(s.reason, /drand|revealing/);
  });
});

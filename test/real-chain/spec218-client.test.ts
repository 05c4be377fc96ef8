// SubtensorClient against a real subtensor runtime (spec 218, raonet, under chopsticks): the reads a
// validator makes (metagraph, hyperparameters, commitments, epoch schedule) and its writes as real
// extrinsics decoded and dispatched by the runtime's own code (set_commitment, set_weights, serve_axon),
// with the chain's refusals mapped to their kinds: a too-fast set_weights is SettingWeightsTooFast
// (rate-limited), an axon at 127.0.0.1 InvalidIpAddress. The raonet sudo key is not a dev key, so the
// accounts are funded and the permit granted with dev_setStorage; registration is a real burned_register.
import assert from 'node:assert/strict';
import { SubtensorClient } from '../../node/chain/client.ts';
import { LeanChainReader } from '../../node/chain/lean/reader.ts';
import type { Sr25519Signer } from '../../node/chain/types.ts';
import { startChopsticks, SPEC218, devPair, u8aToHex, type Chopsticks } from './chopsticks.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Dyn = any;
const NETUID = 1;

describe('real runtime (spec 218, chopsticks): the client\'s reads and writes', function () {
  this.timeout(300_000);
  let c: Chopsticks;
  let client: SubtensorClient;
  let stopPump: () => Promise<void>;
  const cold = devPair('//Bob');
  const hot = devPair('//BobHot');
  const signer: Sr25519Signer = { hotkey: hot.address, publicKey: hot.publicKey, sign: (m) => hot.sign(m) };
  let uid: number;

  before(async () => {
    c = await startChopsticks(SPEC218);
    const api = c.api as Dyn;
    const enc = (q: Dyn, v: unknown) => u8aToHex(api.registry.createType(api.registry.createLookupType(q.creator.meta.type.isPlain ? q.creator.meta.type.asPlain : q.creator.meta.type.asMap.value), v).toU8a());
    const account = { nonce: 0, consumers: 0, providers: 1, sufficients: 0, data: { free: 10n ** 15n, reserved: 0, frozen: 0, flags: 0 } };
    await c.setRaw([
      [api.query.system.account.key(cold.address), enc(api.query.system.account, account)],
      [api.query.system.account.key(hot.address), enc(api.query.system.account, account)],
    ]);
    await c.newBlock();
    const reg = await c.send(cold, api.tx.subtensorModule.burnedRegister(NETUID, hot.address), 'burned_register');
    assert.equal(reg.error, null, `burned_register: ${reg.error}`);
    uid = Number((await api.query.subtensorModule.uids(NETUID, hot.address)).unwrap().toString());
    const n = Number((await api.query.subtensorModule.subnetworkN(NETUID)).toString());
    await c.setRaw([
      [api.query.subtensorModule.validatorPermit.key(NETUID), enc(api.query.subtensorModule.validatorPermit, Array.from({ length: n }, (_, i) => i === uid))],
      [api.query.subtensorModule.weightsSetRateLimit.key(NETUID), enc(api.query.subtensorModule.weightsSetRateLimit, 50)],
      [api.query.subtensorModule.minAllowedWeights.key(NETUID), enc(api.query.subtensorModule.minAllowedWeights, 1)],
      // registration counts as an update; start with none so the first set_weights is inside the limit's rules
      [api.query.subtensorModule.lastUpdate.key(NETUID), enc(api.query.subtensorModule.lastUpdate, Array.from({ length: n }, () => 0))],
    ]);
    await c.newBlock();
    client = await SubtensorClient.connect({ endpoint: c.url, inclusionTimeoutMs: 60_000 });
    stopPump = c.pump();
  });

  after(async () => {
    await stopPump?.();
    await client?.close();
    await c?.stop();
  });

  it('reads the metagraph, hyperparameters and the (legacy) epoch schedule of the real runtime', async () => {
    const neurons = await client.metagraph(NETUID);
    const me = neurons.find((x) => x.hotkey === hot.address);
    assert.ok(me, 'the registered hotkey is in the metagraph');
    assert.equal(me!.uid, uid);
    assert.equal(me!.validatorPermit, true);
    const hp = await client.hyperparams(NETUID);
    assert.equal(hp.weightsRateLimit, 50);
    assert.equal(hp.subnetworkN, neurons.length);
    assert.equal(hp.activityCutoffFactorMilli, null);
    assert.ok(hp.tempo > 0 && hp.activityCutoff > 0);
    const s = await client.epochSchedule(NETUID);
    assert.equal(s.model, 'legacy');
    assert.deepEqual(await client.canSetWeights(NETUID, hot.address), { ok: true, uid, commitReveal: false });
  });

  it('set_commitment lands and is read back as this hotkey\'s commitment', async () => {
    const hash = 'ab'.repeat(32);
    const r = await client.commitScoreHash(signer, NETUID, 42, hash);
    assert.ok(r.ok, !r.ok ? r.error.message : '');
    assert.deepEqual((await client.scoreCommitments(NETUID, 42, r.block)).get(hot.address), { hash, block: r.block });
  });

  it('set_weights lands (max-upscaled u16); a second one inside the rate limit is refused as SettingWeightsTooFast', async () => {
    const r = await client.setWeights(signer, NETUID, [0, uid], [1, 3]);
    assert.ok(r.ok, !r.ok ? r.error.message : '');
    assert.deepEqual(await client.weightsOf(NETUID, hot.address, r.block), [{ uid: 0, weight: 21845 }, { uid, weight: 65535 }].sort((a, b) => a.uid - b.uid));
    assert.equal((await client.lastWeightsUpdate(NETUID, hot.address))?.block, r.block);
    assert.deepEqual((await client.weightsOfMany(NETUID, [hot.address], r.block)).get(hot.address), await client.weightsOf(NETUID, hot.address, r.block), 'the batched read (state_queryStorageAt) agrees on the real runtime');
    assert.equal((await client.lastWeightsUpdates(NETUID, [hot.address], r.block)).get(hot.address)?.block, r.block);
    const local = await client.setWeights(signer, NETUID, [0], [1]);
    assert.deepEqual(!local.ok && [local.error.kind], ['rate-limited']);
    const onChain = await client.submit(signer, () => client.api.tx.subtensorModule.setWeights(NETUID, [0], [65535], 0));
    assert.equal(onChain.ok, false);
    assert.equal(!onChain.ok && onChain.error.kind, 'rate-limited');
    assert.equal(!onChain.ok && onChain.error.module?.name, 'SettingWeightsTooFast');
  });

  it('serve_axon lands in the metagraph; 127.0.0.1 is refused by the runtime as InvalidIpAddress', async () => {
    const r = await client.serveAxon(signer, NETUID, { ip: '198.51.100.7', port: 30333 });
    assert.ok(r.ok, !r.ok ? r.error.message : '');
    assert.deepEqual((await client.metagraph(NETUID)).find((x) => x.hotkey === hot.address)?.axon, { ip: '198.51.100.7', port: 30333 });
    assert.deepEqual(await client.axonOf(NETUID, hot.address).then((a) => a && { ip: a.ip, port: a.port }), { ip: '198.51.100.7', port: 30333 });
    const lo = await client.serveAxon(signer, NETUID, { ip: '127.0.0.1', port: 30333 });
    assert.equal(lo.ok, false);
    assert.match(!lo.ok ? `${lo.error.module?.name} ${lo.error.message}` : '', /InvalidIpAddress|ServingRateLimitExceeded/);
  });

  it('the audit\'s lean reader (node/chain/lean, no @polkadot/api) reads the real runtime as the client does', async () => {
    const lean = await LeanChainReader.connect({ endpoint: c.url });
    try {
      const head = await client.bestBlock();
      assert.equal(await lean.genesisHash(), client.api.genesisHash.toHex());
      assert.deepEqual(await lean.metagraph(NETUID, head.hash), await client.metagraph(NETUID, head.hash));
      assert.deepEqual(await lean.hyperparams(NETUID, head.hash), await client.hyperparams(NETUID, head.hash));
      assert.deepEqual(await lean.epochSchedule(NETUID, head.hash), await client.epochSchedule(NETUID, head.hash));
      const [a, b] = [await lean.commitments(NETUID, head.hash), await client.commitments(NETUID, head.hash)];
      const byHotkey = (x: { hotkey: string }, y: { hotkey: string }) => x.hotkey.localeCompare(y.hotkey);
      assert.deepEqual([...a.records].sort(byHotkey), [...b.records].sort(byHotkey));
      assert.ok(a.records.some((r) => r.hotkey === hot.address), 'the commitment set above is read');
      assert.deepEqual(await lean.minerRoster(NETUID, head.hash), await client.minerRoster(NETUID, head.hash));
      assert.deepEqual(await lean.scoreCommitments(NETUID, 42, head.hash), await client.scoreCommitments(NETUID, 42, head.hash));
      const all = (await client.metagraph(NETUID, head.hash)).map((n) => n.hotkey);
      assert.deepEqual(await lean.weightsOfMany(NETUID, all, head.hash), await client.weightsOfMany(NETUID, all, head.hash));
      assert.deepEqual(await lean.lastWeightsUpdates(NETUID, all, head.hash), await client.lastWeightsUpdates(NETUID, all, head.hash));
    } finally {
      lean.close();
    }
  });
});

// Commit-reveal v4 and the stateful epoch schedule on the devchain, through the real client: metadata
// served as V14/V15/V16 like a node, epochs firing at LastEpochBlock + Tempo, commit_timelocked_weights
// decrypted with the real drand round-1000 pulse once it is injected (and not before), the dev beacon's
// own pulses opening a commit made with the derived reveal round in its reveal epoch and not earlier,
// every commit-reveal refusal surfaced with its name, a failed reveal reported as failed, and the legacy
// schedule of older runtimes.
import assert from 'node:assert/strict';
import { TypeRegistry, Metadata } from '@polkadot/types';
import { hexToU8a, compactStripLength, u8aToHex } from '@polkadot/util';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { DevChain } from '../../node/devchain/devchain.ts';
import { defaultGenesis, devKeypair, DEFAULT_NETUID, type Genesis } from '../../node/devchain/genesis.ts';
import { SubtensorClient } from '../../node/chain/client.ts';
import { runStart, nextEpochAt } from '../../node/chain/epoch-schedule.ts';
import { encodeWeightsPayload } from '../../node/chain/timelock/payload.ts';
import { tleEncrypt } from '../../node/chain/timelock/tle.ts';
import { QUICKNET } from '../../node/chain/timelock/drand.ts';
import type { Sr25519Signer, WeightsCommit } from '../../node/chain/types.ts';

const SIG1000 = 'b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39';
const SIG1001 = 'b33bf3667cbd5a82de3a24b4e0e9fe5513cc1a0e840368c6e31f5fcfa79bea03f73896b25883abf2853d10337fb8fa41';

function signerOf(seed: string): Sr25519Signer {
  const pair = devKeypair(seed);
  return { hotkey: pair.address, publicKey: pair.publicKey, sign: (m) => pair.sign(m) };
}

/** Produces a block every 30 ms while `p` runs (blocks are on demand on these devchains). */
async function withBlocks<T>(dc: DevChain, p: Promise<T>): Promise<T> {
  const t = setInterval(() => dc.produceBlock(), 30);
  try {
    return await p;
  } finally {
    clearInterval(t);
  }
}

async function crGenesis(over: Partial<Genesis['subnets'][number]> = {}, drand: Genesis['drand'] = { beacon: 'quicknet' }): Promise<Genesis> {
  const g = await defaultGenesis({ validators: 2, miners: 3 });
  Object.assign(g.subnets[0], { tempo: 12, weightsRateLimit: 0, commitRevealEnabled: true, revealPeriodEpochs: 1, ...over });
  g.drand = drand;
  return g;
}

describe('devchain: metadata served as a node serves it', function () {
  this.timeout(60_000);
  let dc: DevChain;
  before(async () => {
    dc = new DevChain({ blockMs: 0 });
    await dc.start();
  });
  after(async () => dc?.stop());

  async function rpc(method: string, params: unknown[]): Promise<any> {
    const ws = new WebSocket(dc.url);
    await new Promise((r, j) => { ws.onopen = r; ws.onerror = j; });
    try {
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }));
      const msg: any = await new Promise((r) => { ws.onmessage = (e) => r(JSON.parse(String(e.data))); });
      if (msg.error) throw new Error(msg.error.message);
      return msg.result;
    } finally {
      ws.close();
    }
  }

  const decode = (bytes: Uint8Array) => {
    const registry = new TypeRegistry();
    const m = new Metadata(registry, bytes);
    registry.setMetadata(m);
    return { m, registry };
  };

  /** pallets → calls, events, errors, constants, storage (name, hashers, key and value types) in a comparable form */
  function surface(x: ReturnType<typeof decode>) {
    const { m, registry } = x;
    const variants = (t: any) => (t.isSome ? registry.lookup.getSiType(t.unwrap().type).def.asVariant.variants.map((v: any) => `${v.index}:${v.name}(${v.fields.map((f: any) => registry.lookup.getTypeDef(f.type).type).join(',')})`) : []);
    return m.asLatest.pallets.map((p: any) => ({
      name: p.name.toString(), index: p.index.toNumber(),
      calls: variants(p.calls), events: variants(p.events), errors: variants(p.errors),
      constants: p.constants.map((c: any) => `${c.name}=${c.value.toHex()}`),
      storage: p.storage.isSome ? p.storage.unwrap().items.map((i: any) => `${i.name}:${JSON.stringify(i.type.toJSON())}:${i.fallback.toHex()}`) : [],
    }));
  }

  it('state_getMetadata is V14, Metadata_metadata_at_version serves 14, 15 and 16 with the same pallets, calls, storage and extensions', async () => {
    const versions = dc.meta.registry.createType('Vec<u32>', hexToU8a(await rpc('state_call', ['Metadata_metadata_versions', '0x']))).toJSON();
    assert.deepEqual(versions, [14, 15, 16]);
    const v14raw = hexToU8a(await rpc('state_getMetadata', []));
    assert.equal(decode(v14raw).m.version, 14);
    const at = async (v: number) => {
      const opt = hexToU8a(await rpc('state_call', ['Metadata_metadata_at_version', u8aToHex(dc.meta.registry.createType('u32', v).toU8a())]));
      assert.equal(opt[0], 1, `version ${v} is served`);
      return compactStripLength(opt.subarray(1))[1];
    };
    assert.equal(u8aToHex(await at(14)), u8aToHex(v14raw));
    const docs = await Promise.all([14, 15, 16].map(async (v) => decode(await at(v))));
    assert.deepEqual(docs.map((d) => d.m.version), [14, 15, 16]);
    const ref = surface(docs[2]);
    assert.ok(ref.length >= 25 && ref.some((p: any) => p.name === 'SubtensorModule' && p.calls.some((c: string) => c.startsWith('113:commit_timelocked_weights'))));
    assert.ok(ref.find((p: any) => p.name === 'Drand')!.storage.some((s: string) => s.startsWith('Pulses:')));
    for (const d of docs.slice(0, 2)) assert.deepEqual(surface(d), ref, `V${d.m.version} surface equals V16's`);
    const exts = docs.map((d) => ((d.m as any)[`asV${d.m.version}`].extrinsic[d.m.version === 16 ? 'transactionExtensions' : 'signedExtensions'] as any[]).map((e: any) => `${e.identifier}:${e.type}:${(e.implicit ?? e.additionalSigned)}`));
    assert.deepEqual(exts[0], exts[2]);
    assert.deepEqual(exts[1], exts[2]);
    assert.ok(exts[0].some((e: string) => e.startsWith('SudoTransactionExtension:')));
    // V14's extrinsic type is the runtime's UncheckedExtrinsic, as a real node reports it
    const v14 = docs[0].m.asV14;
    assert.equal(docs[0].registry.lookup.getSiType(v14.extrinsic.type).path.at(-1)?.toString(), 'UncheckedExtrinsic');
    assert.equal(docs[1].m.asV15.extrinsic.version.toNumber(), 4);
    assert.equal(await rpc('state_call', ['Metadata_metadata_at_version', u8aToHex(dc.meta.registry.createType('u32', 13).toU8a())]), '0x00');
  });

  it('the stateful model lists the spec >= 423 schedule items; the legacy model serves spec 381 as published', async () => {
    const names = (d: DevChain) => Object.keys((d.meta.decorated.query as any).subtensorModule);
    for (const item of ['lastEpochBlock', 'pendingEpochAt', 'subnetEpochIndex', 'activityCutoffFactorMilli']) assert.ok(names(dc).includes(item), item);
    const legacy = new DevChain({ blockMs: 0, epochModel: 'legacy' });
    assert.equal(names(legacy).includes('lastEpochBlock'), false);
    assert.equal(legacy.meta.specVersion, 381);
  });
});

describe('devchain: stateful epochs and commit-reveal v4', function () {
  this.timeout(120_000);
  let dc: DevChain;
  let client: SubtensorClient;
  const v0 = signerOf('//Validator0');

  before(async () => {
    await cryptoWaitReady();
    dc = new DevChain({ genesis: await crGenesis(), blockMs: 0 });
    await dc.start();
    client = await SubtensorClient.connect({ endpoint: dc.url });
  });
  after(async () => {
    await client?.close();
    await dc?.stop();
  });

  it('epochs fire at LastEpochBlock + Tempo; the client reads the schedule pinned to one block', async () => {
    while (dc.head < 30) dc.produceBlock();
    const s = await client.epochSchedule(DEFAULT_NETUID, 30);
    assert.equal(s.model, 'stateful');
    assert.ok(s.model === 'stateful' && s.lastEpochBlock === 24 && s.subnetEpochIndex === 2 && s.blocksSinceLastStep === 6, JSON.stringify(s));
    assert.equal(runStart(s), 24);
    assert.equal(nextEpochAt(s), 36);
    const at23 = await client.epochSchedule(DEFAULT_NETUID, 23);
    assert.equal(runStart(at23), 12);
    const hp = await client.hyperparams(DEFAULT_NETUID);
    assert.equal(hp.activityCutoffFactorMilli, 13_889);
    assert.equal(hp.activityCutoff, Math.floor((13_889 * 12) / 1000));
  });

  let commit: WeightsCommit;
  it('commits timelocked weights for round 1000; the chain keeps them sealed until the real round-1000 pulse is injected, then reveals them', async () => {
    const r = await withBlocks(dc, client.commitWeights(v0, DEFAULT_NETUID, [2, 3, 4], [1, 2, 4], { revealRound: 1000 }));
    assert.ok(r.ok, !r.ok ? r.error.message : '');
    commit = r.commit!;
    assert.equal(commit.format, 'v4');
    assert.equal(commit.revealEpoch, commit.commitEpoch + 1);
    const s = await client.epochSchedule(DEFAULT_NETUID, commit.commitBlock);
    assert.equal(commit.expectedRevealBlock, nextEpochAt(s), 'the reveal block predicted by the client is the next epoch boundary');
    while (dc.head < commit.expectedRevealBlock + 2) dc.produceBlock();
    const waiting = await client.confirmReveal(commit);
    assert.equal(waiting.state, 'pending');
    assert.match(waiting.state === 'pending' ? waiting.reason : '', /waiting for drand round 1000/);
    assert.equal(await client.weightsOf(DEFAULT_NETUID, v0.hotkey).then((w) => w?.length), 0, 'nothing revealed without the pulse');
    assert.throws(() => dc.injectPulse(1000, SIG1001), /not the beacon's .* signature of round 1000/);
    dc.injectPulse(1000, SIG1000);
    dc.produceBlock(); // the pulse lands
    dc.produceBlock(); // the reveal pass sees it
    const done = await client.confirmReveal(commit);
    assert.deepEqual(done.state === 'revealed' && done.weightsOnChain, true, JSON.stringify(done));
    assert.deepEqual(await client.weightsOf(DEFAULT_NETUID, v0.hotkey), [{ uid: 2, weight: 16384 }, { uid: 3, weight: 32768 }, { uid: 4, weight: 65535 }]);
    assert.equal((await client.drandBeacon()).lastStoredRound, 1000);
  });

  it('surfaces every commit-reveal refusal by name: InvalidRevealRound, IncorrectCommitRevealVersion, CommittingWeightsTooFast, TooManyUnrevealedCommits, CommitRevealDisabled', async () => {
    // round 999 < LastStoredRound 1000: the client refuses before sending; the chain's pool refuses it too
    const local = await client.commitWeights(v0, DEFAULT_NETUID, [2], [1], { revealRound: 999 });
    assert.deepEqual(!local.ok && [local.error.kind, local.error.module?.name], ['commit-reveal', 'InvalidRevealRound']);
    const ct = u8aToHex(tleEncrypt(encodeWeightsPayload({ hotkey: v0.publicKey, uids: [2], values: [65535], versionKey: 0n }), 999, QUICKNET.publicKey));
    const pool = await withBlocks(dc, client.submit(v0, () => client.api.tx.subtensorModule.commitTimelockedWeights(DEFAULT_NETUID, ct, 999, 4)));
    assert.deepEqual(!pool.ok && [pool.error.kind, pool.error.module?.name], ['commit-reveal', 'InvalidRevealRound']);
    const version = await withBlocks(dc, client.submit(v0, () => client.api.tx.subtensorModule.commitTimelockedWeights(DEFAULT_NETUID, ct, 5000, 3)));
    assert.deepEqual(!version.ok && [version.error.kind, version.error.module?.name], ['commit-reveal', 'IncorrectCommitRevealVersion']);
    assert.match(!version.ok ? version.error.message : '', /CommitRevealWeightsVersion/);
    // ten unrevealed commits per epoch at most (rate limit 0 here; a long tempo keeps them in one epoch)
    dc.setStorage('subtensorModule', 'tempo', [DEFAULT_NETUID], 1000);
    dc.produceBlock();
    const v1 = signerOf('//Validator1');
    let last;
    for (let i = 0; i < 11; i++) {
      last = await withBlocks(dc, client.commitWeights(v1, DEFAULT_NETUID, [2], [1], { revealRound: 1_000_000 + i }));
      if (!last.ok) break;
    }
    assert.deepEqual(!last!.ok && [last!.error.kind, last!.error.module?.name], ['commit-reveal', 'TooManyUnrevealedCommits']);
    // a rate limit: commits update LastUpdate, so the next commit within WeightsSetRateLimit is refused
    while (dc.head < 120) dc.produceBlock();
    dc.setStorage('subtensorModule', 'weightsSetRateLimit', [DEFAULT_NETUID], 20);
    dc.produceBlock();
    const fast = await withBlocks(dc, client.commitWeights(v0, DEFAULT_NETUID, [2], [1], { revealRound: 2_000_000 }));
    assert.ok(fast.ok, !fast.ok ? fast.error.message : '');
    const tooFast = await withBlocks(dc, client.commitWeights(v0, DEFAULT_NETUID, [2], [1], { revealRound: 2_000_001 }));
    assert.deepEqual(!tooFast.ok && [tooFast.error.kind, tooFast.error.module?.name], ['rate-limited', 'CommittingWeightsTooFast']);
    const ct2 = u8aToHex(tleEncrypt(encodeWeightsPayload({ hotkey: v0.publicKey, uids: [2], values: [65535], versionKey: 0n }), 2_000_002, QUICKNET.publicKey));
    const chainFast = await withBlocks(dc, client.submit(v0, () => client.api.tx.subtensorModule.commitTimelockedWeights(DEFAULT_NETUID, ct2, 2_000_002, 4)));
    assert.deepEqual(!chainFast.ok && [chainFast.error.kind, chainFast.error.module?.name], ['rate-limited', 'CommittingWeightsTooFast']);
    // commit-reveal switched off: timelocked commits are refused, plain set_weights is the way
    dc.setStorage('subtensorModule', 'commitRevealWeightsEnabled', [DEFAULT_NETUID], false);
    dc.setStorage('subtensorModule', 'weightsSetRateLimit', [DEFAULT_NETUID], 0);
    dc.produceBlock();
    const off = await withBlocks(dc, client.commitWeights(v0, DEFAULT_NETUID, [2], [1], { revealRound: 3_000_000 }));
    assert.deepEqual(!off.ok && [off.error.kind, off.error.module?.name], ['commit-reveal', 'CommitRevealDisabled']);
    const offChain = await withBlocks(dc, client.submit(v0, () => client.api.tx.subtensorModule.commitTimelockedWeights(DEFAULT_NETUID, ct2, 3_000_000, 4)));
    assert.deepEqual(!offChain.ok && offChain.error.module?.name, 'CommitRevealDisabled');
    const plain = await withBlocks(dc, client.submitWeights(v0, DEFAULT_NETUID, [3], [1]));
    assert.ok(plain.ok && !plain.commit, 'submitWeights sends plain set_weights once commit-reveal is off');
    dc.setStorage('subtensorModule', 'commitRevealWeightsEnabled', [DEFAULT_NETUID], true);
    dc.setStorage('subtensorModule', 'tempo', [DEFAULT_NETUID], 12);
    dc.produceBlock();
  });

  it('a commit the chain cannot apply (payload naming another hotkey) is dropped silently; the client reports the reveal failed', async () => {
    const v1 = signerOf('//Validator1');
    const start = dc.head;
    while (dc.head < start + 13) dc.produceBlock(); // past the ten unrevealed commits' epoch
    const beacon = await client.drandBeacon();
    const round = beacon.lastStoredRound + 1;
    const forged = u8aToHex(tleEncrypt(encodeWeightsPayload({ hotkey: v0.publicKey, uids: [2], values: [65535], versionKey: 0n }), round, QUICKNET.publicKey));
    const sent = await withBlocks(dc, client.submit(v1, () => client.api.tx.subtensorModule.commitTimelockedWeights(DEFAULT_NETUID, forged, round, 4)));
    assert.ok(sent.ok, !sent.ok ? sent.error.message : '');
    const sched = await client.epochSchedule(DEFAULT_NETUID, sent.block);
    const commitEpoch = sched.model === 'stateful' ? sched.subnetEpochIndex : 0;
    const c: WeightsCommit = { netuid: DEFAULT_NETUID, hotkey: v1.hotkey, commitBlock: sent.block, commitEpoch, revealEpoch: commitEpoch + 1, expectedRevealBlock: nextEpochAt(sched), revealRound: round, format: 'v4', commitHash: (await import('@polkadot/util-crypto')).blake2AsHex(hexToU8a(forged), 256), uids: [2], values: [65535] };
    // a signature for `round` is not public: the dev test signs nothing; use the pulse of round 1001 instead
    assert.equal(round, 1001);
    dc.injectPulse(1001, SIG1001);
    while (dc.head < c.expectedRevealBlock + 2) dc.produceBlock();
    const s = await client.confirmReveal(c);
    assert.equal(s.state, 'failed', JSON.stringify(s));
    assert.match(s.state === 'failed' ? s.reason : '', /without revealing it/);
  });
});

describe('devchain: the dev beacon reveals commits made with the derived round, in their reveal epoch and not before', function () {
  this.timeout(120_000);
  it('round from the chain clock and schedule; pulse absent before the reveal epoch; revealed in it', async () => {
    await cryptoWaitReady();
    const dc = new DevChain({ genesis: await crGenesis({ tempo: 30 }, { beacon: 'dev' }), blockMs: 0 });
    await dc.start();
    const client = await SubtensorClient.connect({ endpoint: dc.url });
    try {
      while (dc.head < 5) dc.produceBlock();
      const v0 = signerOf('//Validator0');
      const r = await withBlocks(dc, client.commitWeights(v0, DEFAULT_NETUID, [2, 4], [3, 1]));
      assert.ok(r.ok, !r.ok ? r.error.message : '');
      const c = r.commit!;
      const beacon = await client.drandBeacon();
      assert.notEqual(u8aToHex(beacon.publicKey), u8aToHex(QUICKNET.publicKey), 'the dev beacon, not quicknet');
      while (dc.head < c.expectedRevealBlock - 1) dc.produceBlock();
      assert.ok((await client.drandBeacon()).lastStoredRound < c.revealRound, 'the round is not published before the reveal epoch');
      assert.equal((await client.confirmReveal(c)).state, 'pending');
      let s = await client.confirmReveal(c);
      for (let i = 0; i < 30 && s.state === 'pending'; i++) {
        dc.produceBlock();
        s = await client.confirmReveal(c);
      }
      assert.equal(s.state, 'revealed', JSON.stringify(s));
      assert.ok(s.state === 'revealed' && s.block >= c.expectedRevealBlock && s.block < c.expectedRevealBlock + 30);
      assert.deepEqual(await client.weightsOf(DEFAULT_NETUID, v0.hotkey), [{ uid: 2, weight: 65535 }, { uid: 4, weight: 21845 }]);
    } finally {
      await client.close();
      await dc.stop();
    }
  });

  it('the legacy schedule (runtimes before spec 423): commits keyed by the modulo epoch, revealed at its boundary', async () => {
    const dc = new DevChain({ genesis: await crGenesis({ tempo: 20 }, { beacon: 'dev' }), blockMs: 0, epochModel: 'legacy' });
    await dc.start();
    const client = await SubtensorClient.connect({ endpoint: dc.url });
    try {
      while (dc.head < 3) dc.produceBlock();
      assert.equal((await client.epochSchedule(DEFAULT_NETUID)).model, 'legacy');
      const r = await withBlocks(dc, client.commitWeights(signerOf('//Validator1'), DEFAULT_NETUID, [3], [1]));
      assert.ok(r.ok, !r.ok ? r.error.message : '');
      const c = r.commit!;
      assert.equal(c.expectedRevealBlock, (c.commitEpoch + 1) * 21 - 2);
      let s = await client.confirmReveal(c);
      for (let i = 0; i < 60 && s.state !== 'revealed'; i++) {
        dc.produceBlock();
        s = await client.confirmReveal(c);
      }
      assert.equal(s.state, 'revealed', JSON.stringify(s));
    } finally {
      await client.close();
      await dc.stop();
    }
  });
});

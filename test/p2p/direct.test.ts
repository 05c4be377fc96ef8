// node/p2p/direct.ts over real libp2p: a consensus message for one member reaches that member alone
// (not the other nodes of the consensus topic), falls back to the topic when the member is unknown,
// and the receiver applies the gossip rules to it (signer = the peer that sent it, signature) with a
// strike for an invalid one.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { DeliveredConsensus, Mesh } from '../../node/p2p/mesh.ts';
import { ed25519SignerFromSeed, type Sr25519Signer } from '../../proto/signer.ts';
import { decodeGossipEnvelope, encodeGossipEnvelope, signGossipEnvelope } from '../../proto/gossip.ts';
import { sha256Hex } from '../../proto/codec.ts';
import { encodeMessage } from '../../proto/consensus.ts';
import { startMeshes, until } from './harness.ts';

const RUN = 9;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('direct delivery of consensus messages (node/p2p/direct.ts)', function () {
  this.timeout(120_000);
  const meshes: Mesh[] = [];
  let hotkeys: Sr25519Signer[] = [];
  const got: DeliveredConsensus[][] = [];
  let seeds: Uint8Array[] = [];

  before(async () => {
    ({ hotkeys, nodeSeeds: seeds } = await startMeshes(meshes, 3, RUN, (m) => {
      const inbox: DeliveredConsensus[] = [];
      m.onConsensus((c) => inbox.push(c));
      got.push(inbox);
    }));
  });

  after(async () => {
    await Promise.all(meshes.map((m) => m.stop()));
  });

  /** Member i's node key as the others know it (its binding), as the consensus adapter passes it. */
  const nodeKeyOf = (i: number) => meshes[0].bindings().get(hotkeys[i].hotkey)!;
  /** A real consensus message (an inventory), distinct per call; `tag` names it in the content hash. */
  const payload = (tag: string) => encodeMessage({ type: 'inventory', netuid: 1, runId: RUN, hashes: [sha256Hex(`${tag}-${randomBytes(8).toString('hex')}`)] });

  it('reaches the member it is for, and no other node', async () => {
    const p = payload('for-b');
    const out = await meshes[0].sendConsensusTo(nodeKeyOf(1), p, RUN);
    assert.deepEqual(out, { direct: true });
    await until(() => got[1].some((m) => Buffer.from(m.payload).equals(p)), 10_000, 'delivered to b', 50);
    const m = got[1].find((x) => Buffer.from(x.payload).equals(p))!;
    assert.equal(m.via, 'direct');
    assert.equal(m.signerHotkey, hotkeys[0].hotkey);
    assert.equal(m.fromPeer, meshes[0].peerId);
    await sleep(1500);
    assert.ok(!got[2].some((x) => Buffer.from(x.payload).equals(p)), 'c never saw it');
    assert.ok(meshes[0].metrics().direct.sent >= 1 && meshes[1].metrics().direct.received >= 1);
  });

  it('the same message twice is delivered once', async () => {
    const p = payload('twice');
    await meshes[0].sendConsensusTo(nodeKeyOf(1), p, RUN);
    const again = meshes[0].envelope('consensus', RUN, p);
    assert.equal(await meshes[0].sendDirectRaw(meshes[1].peerId, again), true, 'a copy of held content is answered as accepted');
    await sleep(500);
    assert.equal(got[1].filter((x) => Buffer.from(x.payload).equals(p)).length, 1);
  });

  it('for a node key no peer is bound to, it goes on the consensus topic', async () => {
    const p = payload('unknown');
    const out = await meshes[0].sendConsensusTo(randomBytes(32).toString('hex'), p, RUN);
    assert.ok(!('direct' in out), 'not sent directly');
    await until(() => [1, 2].every((i) => got[i].some((m) => Buffer.from(m.payload).equals(p) && m.via === 'gossip')), 10_000, 'gossiped to b and c', 50);
  });

  it('refuses, and strikes the sender for, an envelope signed by another node or with a broken signature', async () => {
    const before = meshes[1].metrics().rejected;
    // a's connection carrying an envelope signed by c's node key: a cannot speak for c
    const relayed = encodeGossipEnvelope(signGossipEnvelope({ version: 1, kind: 'consensus', netuid: 1, runId: RUN, issuedAt: Date.now(), payload: payload('relayed') }, ed25519SignerFromSeed(seeds[2])));
    assert.equal(await meshes[0].sendDirectRaw(meshes[1].peerId, relayed), false);
    const broken = meshes[0].envelope('consensus', RUN, payload('broken'));
    broken[broken.length - 1] ^= 0xff;
    assert.equal(await meshes[0].sendDirectRaw(meshes[1].peerId, broken), false);
    const after = meshes[1].metrics().rejected;
    assert.equal((after['signer-mismatch'] ?? 0) - (before['signer-mismatch'] ?? 0), 1);
    assert.equal((after['bad-signature'] ?? 0) - (before['bad-signature'] ?? 0), 1);
    const delivered = new Set(got[1].map((m) => m.hash));
    assert.ok(![relayed, broken].some((e) => delivered.has(sha256Hex(decodeGossipEnvelope(e).payload))), 'nothing delivered');
  });

  it('a report envelope is refused on the direct protocol (consensus only)', async () => {
    const env = meshes[0].envelope('report', RUN, new TextEncoder().encode('not a consensus message'));
    assert.equal(await meshes[0].sendDirectRaw(meshes[1].peerId, env), false);
  });
});

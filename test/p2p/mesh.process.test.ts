// Multi-process mesh tests: real `conclave mesh` processes over loopback TCP (libp2p, noise, yamux,
// gossipsub, kad-dht), driven over their JSON-lines control channel. One cluster of five validators
// is shared by the scenarios, in order; the forging member goes last because it ends up banned.
import assert from 'node:assert/strict';
import { FAST_FLAGS, Member, makeIdentity, until, validatorsJson, type Identity } from './harness.ts';

const RUN = 100;

describe('p2p mesh (5 validator processes over loopback TCP)', function () {
  this.timeout(120_000);
  let ids: Identity[] = [];
  let members: Member[] = [];
  let common: string[] = [];
  const extra: Member[] = [];
  /** hash → publishing member index, for every report published so far. */
  const published = new Map<string, number>();

  const others = (i: number) => [...published].filter(([, who]) => who !== i).map(([h]) => h);
  const received = (m: Member) => m.reports().map((e) => e.hash as string);

  async function publish(i: number, tag: string): Promise<string> {
    const r = await members[i].cmd({ cmd: 'report', tag });
    published.set(r.hash, i);
    return r.hash;
  }

  before(async function () {
    this.timeout(180_000);
    ids = await Promise.all([0, 1, 2, 3, 4].map(() => makeIdentity()));
    common = ['--validators', validatorsJson(ids), '--run', String(RUN), ...FAST_FLAGS];
    const boot = await Member.start(ids[0], common);
    members = [boot, ...(await Promise.all(ids.slice(1).map((id) => Member.start(id, [...common, '--bootstrap', boot.multiaddr]))))];
  });

  after(async () => {
    await Promise.all([...members, ...extra].map((m) => m.stop()));
  });

  it('forms a full mesh of admitted validators from one bootstrap address', async () => {
    await until(async () => (await Promise.all(members.map((m) => m.admittedPeers()))).every((a) => a.length === 4), 60_000, 'every member admits the 4 others');
    const a = await members[1].admittedPeers();
    assert.deepEqual(new Set(a), new Set(members.filter((_, i) => i !== 1).map((m) => m.peerId)));
  });

  it('delivers every report to every member exactly once', async () => {
    await Promise.all(members.map((_, i) => publish(i, `first-${i}`)));
    await until(() => members.every((m, i) => others(i).every((h) => received(m).includes(h))), 30_000, 'all reports everywhere');
    await new Promise((r) => setTimeout(r, 1500)); // give late duplicates a chance to show up
    members.forEach((m, i) => {
      const got = received(m);
      assert.equal(got.length, new Set(got).size, `member ${i} received a duplicate`);
      assert.deepEqual(new Set(got), new Set(others(i)), `member ${i} received exactly the others' reports`);
      assert.ok(!got.includes([...published].find(([, who]) => who === i)![0]), 'own report is not echoed back');
      assert.ok(m.reports().every((e) => e.via === 'gossip'), `member ${i}: reports of a formed mesh arrive over gossipsub, not the fetch fallback`);
    });
    const validatorOf = new Map(members.map((m) => [m.id.hotkey, m]));
    for (const e of members[0].reports()) assert.ok(validatorOf.has(e.validator), 'report attributed to a validator hotkey');
  });

  it('refuses an outsider holding a valid key but no stake', async () => {
    const outsiderId = await makeIdentity();
    const outsider = await Member.start(outsiderId, [...common, '--bootstrap', members[0].multiaddr]);
    extra.push(outsider);
    const refused = await outsider.waitFor((e) => e.event === 'refused' && e.by === 'them', 30_000, 'refused by the bootstrap');
    assert.match(refused.reason, /not-validator/);
    // Whatever reaches a member from the outsider is rejected by the topic validator (unknown author).
    await outsider.cmd({ cmd: 'report', tag: 'outsider' });
    await new Promise((r) => setTimeout(r, 1500));
    await until(async () => {
      const peers = (await members[0].cmd({ cmd: 'peers' })).peers as any[];
      return !peers.some((p) => p.peerId === outsider.peerId && p.connected);
    }, 15_000, 'bootstrap hangs up on the outsider');
    const metrics = (await members[0].cmd({ cmd: 'metrics' })).metrics;
    assert.ok(metrics.admissionRefused['not-validator'] >= 1);
    for (const m of members) assert.ok(!m.reports().some((e) => e.validator === outsiderId.hotkey), 'no member delivered an outsider report');
    await outsider.stop();
  });

  it('a killed member restarts, rejoins and catches up on the current run', async () => {
    const victim = 3;
    await members[victim].kill();
    const whileDown = [await publish(0, 'while-down-0'), await publish(1, 'while-down-1')];
    members[victim] = await Member.start(ids[victim], [...common, '--bootstrap', members[0].multiaddr]);
    const expected = [...published.keys()];
    try {
      await until(() => expected.every((h) => received(members[victim]).includes(h)), 45_000, 'restarted member has every report of the run');
    } catch (err) {
      const metrics = (await members[victim].cmd({ cmd: 'metrics' })).metrics;
      throw new Error(`${(err as Error).message}; restarted member events: ${JSON.stringify(members[victim].events.slice(0, 30))}; metrics ${JSON.stringify(metrics)}`);
    }
    const viaFetch = members[victim].reports().filter((e) => whileDown.includes(e.hash));
    assert.ok(viaFetch.every((e) => e.via === 'fetch'), 'missed reports arrived through the fetch protocol');
    const got = received(members[victim]);
    assert.equal(got.length, new Set(got).size, 'no duplicates after catch-up');
  });

  it('a partition between two groups heals and the groups converge', async () => {
    const g1 = [0, 1, 2];
    const g2 = [3, 4];
    const peerIds = (g: number[]) => g.map((i) => members[i].peerId);
    try {
      await Promise.all(g1.map((i) => members[i].cmd({ cmd: 'block', peers: peerIds(g2) })));
      await Promise.all(g2.map((i) => members[i].cmd({ cmd: 'block', peers: peerIds(g1) })));
      // every member admits exactly the rest of its group (some may still be dialling each other)
      await until(async () => (await Promise.all(members.map((m) => m.admittedPeers()))).every((a, i) => a.length === (g1.includes(i) ? g1 : g2).length - 1), 15_000, 'partitioned');
      // right after the partition: gossipsub may still hold streams to the peers being hung up on
      const h1 = await publish(0, 'partition-g1');
      const h2 = await publish(3, 'partition-g2');
      const inside = () => ({ g1: g1.every((i) => i === 0 || received(members[i]).includes(h1)), g2: g2.every((i) => i === 3 || received(members[i]).includes(h2)) });
      try {
        await until(() => inside().g1 && inside().g2, 15_000, 'delivery inside each group');
      } catch (err) {
        const metrics = await Promise.all([0, 3].map(async (i) => (await members[i].cmd({ cmd: 'metrics' })).metrics));
        throw new Error(`${(err as Error).message}: ${JSON.stringify(inside())}; publishers' metrics ${JSON.stringify(metrics)}`);
      }
      for (const i of g2) assert.ok(!received(members[i]).includes(h1), `member ${i} (group 2) cannot see group 1 during the partition`);
      for (const i of g1) assert.ok(!received(members[i]).includes(h2), `member ${i} (group 1) cannot see group 2 during the partition`);
    } finally {
      await Promise.all(members.map((m) => m.cmd({ cmd: 'unblock' })));
    }
    await until(() => members.every((m, i) => others(i).every((h) => received(m).includes(h))), 45_000, 'groups converge');
    for (const m of members) assert.equal(received(m).length, new Set(received(m)).size, 'no duplicates after healing');
  });

  it('disconnects and bans a member that sends forged signatures', async () => {
    const forger = 4;
    await until(async () => (await members[forger].admittedPeers()).length === 4, 30_000, 'forger fully connected');
    for (let k = 0; k < 4; k++) await members[forger].cmd({ cmd: 'report', forge: true, tag: `forged-${k}` });
    const honest = members.filter((_, i) => i !== forger);
    await Promise.all(honest.map((m) => m.waitFor((e) => e.event === 'banned' && e.peerId === members[forger].peerId, 30_000, 'forger banned')));
    const metrics = (await honest[0].cmd({ cmd: 'metrics' })).metrics;
    assert.ok(metrics.rejected['bad-report-signature'] >= 1);
    assert.ok(metrics.disconnectsForMisbehaviour >= 1);
    await until(async () => (await members[forger].admittedPeers()).length === 0, 15_000, 'forger isolated');
    for (const m of honest) assert.ok(!m.reports().some((e) => e.validator === members[forger].id.hotkey && /forged/.test(e.code ?? '')), 'no forged report delivered');
  });
});

// node/validator/consensus-adapter.ts: a session that opens (or resumes after a restart) before this
// node knows every member's binding must still attribute those members' messages and check their
// votes in certificates once the bindings arrive. Four members over an in-memory bus, real PBFT,
// real sr25519/ed25519; the member "b" holds most of the stake, so no certificate forms without it.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PbftConsensus } from '../../node/validator/consensus-adapter.ts';
import { isConsensusDelta, mergeConsensusDelta, type ConsensusDelta, type PersistedConsensus } from '../../node/validator/consensus-state.ts';
import { ValidatorStore } from '../../node/validator/store.ts';
import { rulesFromConfig } from '../../node/validator/decision.ts';
import { parseConfig } from '../../node/config.ts';
import type { ConsensusInput, ConsensusSession } from '../../node/validator/ports.ts';
import { rosterHash, type RosterEntry } from '../../proto/roster.ts';
import { encodeScoreReport, signScoreReport } from '../../proto/score-report.ts';
import { encodeReveal, reportCommitment } from '../../proto/reveal.ts';
import { cryptoReady, ed25519SignerFromSeed, sr25519SignerFromSeed, type Ed25519Signer, type Sr25519Signer } from '../../proto/signer.ts';
import { toHex } from '../../proto/codec.ts';

const seed = (s: string) => new Uint8Array(createHash('sha256').update(s).digest());
const h32 = (s: string) => createHash('sha256').update(s).digest('hex');
const NAMES = ['a', 'b', 'c', 'd'];
const STAKES = [1n, 5n, 1n, 1n];

describe('consensus adapter: members whose bindings arrive after the session opened', function () {
  this.timeout(30_000);
  let hot: Sr25519Signer[];
  let node: Ed25519Signer[];
  let roster: RosterEntry[];
  let reports: Uint8Array[];
  let commitments: Map<string, { hash: string; block: number }>;

  before(async () => {
    await cryptoReady();
    hot = NAMES.map((n) => sr25519SignerFromSeed(seed(`hot-${n}`)));
    node = NAMES.map((n) => ed25519SignerFromSeed(seed(`node-${n}`)));
    const miners = [1, 2].map((i) => sr25519SignerFromSeed(seed(`miner-${i}`)));
    roster = miners.map((m, i) => ({ uid: 10 + i, minerHotkey: m.hotkey, codeSha256: h32(`code-${i}`), url: `http://127.0.0.1:1/${i}.py`, commitBlock: 5 }));
    commitments = new Map();
    reports = hot.map((h, v) => {
      const signed = signScoreReport({
        version: 1, netuid: 1, runId: 100, rosterHash: rosterHash(roster), policyHash: h32('policy'), hardwareClass: 'cpu-test', validatorHotkey: h.hotkey, issuedAt: 1_000 + v,
        entries: roster.map((e, i) => ({ uid: e.uid, minerHotkey: e.minerHotkey, codeSha256: e.codeSha256, status: 'scored' as const, score: 100_000 * (i + 1) + v })),
      }, h);
      const salt = h32(`salt-${v}`);
      commitments.set(h.hotkey, { hash: reportCommitment(salt, encodeScoreReport(signed.report)), block: 20 });
      return encodeReveal({ salt, signed });
    });
  });

  /** No certified run before this one: nothing to verify, no bindings attached to the evidence. */
  const noPrior = { verifyPrior: async () => false, bindingOf: () => undefined };
  const allKeys = () => new Map(hot.map((h, i) => [h.hotkey, toHex(node[i].publicKey)]));

  function input(self: number, nodeKeys: Map<string, string>): ConsensusInput {
    return {
      runId: 100, netuid: 1, members: hot.map((h, i) => ({ uid: i, hotkey: h.hotkey, stake: STAKES[i] })), rosterHash: rosterHash(roster), policyHash: h32('policy'),
      hardwareClass: 'cpu-test', roster, counted: reports.filter((_, i) => i !== self), commitments, nodeKeys, ownReport: reports[self],
      seed: h32('commit-deadline block'), prior: null, chainIncumbent: null, maxMissedReveals: 3,
    };
  }

  /** Runs the four sessions over a bus until every one decided (or the clock runs out). */
  async function runAll(open: (i: number, bus: (i: number, to: string | null, b: Uint8Array) => Promise<void>) => Promise<ConsensusSession>) {
    const queue: { from: number; to: string | null; bytes: Uint8Array }[] = [];
    const sessions: ConsensusSession[] = [];
    const bus = async (i: number, to: string | null, bytes: Uint8Array) => { queue.push({ from: i, to, bytes }); };
    for (let i = 0; i < 4; i++) sessions.push(await open(i, bus));
    let now = 10_000;
    for (let round = 0; round < 400 && sessions.some((s) => !s.outcome()); round++) {
      const batch = queue.splice(0);
      for (const m of batch) {
        for (let j = 0; j < 4; j++) {
          if (j === m.from || (m.to !== null && m.to !== toHex(node[j].publicKey))) continue;
          await sessions[j].deliver(m.bytes, toHex(node[m.from].publicKey), now);
        }
      }
      now += 250;
      for (const s of sessions) await s.tick(now);
    }
    return sessions;
  }

  const rules = rulesFromConfig(parseConfig('', { env: {} }));
  const consensus = (i: number) => new PbftConsensus({ nodeSigner: node[i], hotkey: hot[i].hotkey, rules, timing: { proposeDelayMs: 500, viewTimeoutMs: 5_000 } });

  it('a session opened without member b\'s binding learns it from the bindings known later and decides', async () => {
    const missingB = new Map([...allKeys()].filter(([hk]) => hk !== hot[1].hotkey));
    const sessions = await runAll((i, bus) => consensus(i).start(input(i, i === 0 ? missingB : allKeys()), { send: (to, b) => bus(i, to, b), persist: async () => undefined, ...noPrior, nodeKeys: allKeys }, undefined, 10_000));
    const hashes = new Set(sessions.map((s) => s.outcome()?.decisionHash));
    assert.equal(sessions.every((s) => s.outcome()), true, 'all four decide');
    assert.equal(hashes.size, 1, 'one decision');
  });

  it('without a source of later bindings that member stays unknown and the session cannot decide (negative control)', async () => {
    const missingB = new Map([...allKeys()].filter(([hk]) => hk !== hot[1].hotkey));
    const sessions = await runAll((i, bus) => consensus(i).start(input(i, i === 0 ? missingB : allKeys()), { send: (to, b) => bus(i, to, b), persist: async () => undefined, ...noPrior }, undefined, 10_000));
    assert.equal(sessions[0].outcome(), null, 'member a cannot check a certificate that needs b\'s votes');
    assert.ok(sessions.slice(1).every((s) => s.outcome()), 'the others decide');
  });

  it('a session resumed after a restart takes the node keys from its persisted state, not from the bindings known at restart', async () => {
    const saved: unknown[] = [undefined, undefined, undefined, undefined];
    // a first life: all four run until a has persisted state (it speaks at start: its own report)
    let first: ConsensusSession | null = null;
    await consensus(0).start(input(0, allKeys()), { send: async () => undefined, persist: async (st) => { saved[0] = mergeConsensusDelta(saved[0] as PersistedConsensus | undefined, st as ConsensusDelta); }, ...noPrior }, undefined, 10_000).then((s) => { first = s; });
    assert.ok(first && saved[0], 'state persisted before a spoke');
    const onlySelf = new Map([[hot[0].hotkey, toHex(node[0].publicKey)]]);
    const sessions = await runAll((i, bus) => i === 0
      ? consensus(0).start(input(0, onlySelf), { send: (to, b) => bus(0, to, b), persist: async (st) => { saved[0] = mergeConsensusDelta(saved[0] as PersistedConsensus | undefined, st as ConsensusDelta); }, ...noPrior, nodeKeys: () => onlySelf }, saved[0], 10_000)
      : consensus(i).start(input(i, allKeys()), { send: (to, b) => bus(i, to, b), persist: async () => undefined, ...noPrior, nodeKeys: allKeys }, undefined, 10_000));
    assert.ok(sessions[0].outcome(), 'the resumed member decides');
    assert.equal(new Set(sessions.map((s) => s.outcome()?.decisionHash)).size, 1);
  });

  it('persists the setup and each report once, then only the votes and views; the deltas resume into a session that has decided', async () => {
    const deltas: ConsensusDelta[] = [];
    const sessions = await runAll((i, bus) => consensus(i).start(input(i, allKeys()), {
      send: (to, b) => bus(i, to, b),
      persist: async (st) => { if (i === 0) { assert.ok(isConsensusDelta(st), 'a delta'); deltas.push(st); } },
      ...noPrior, nodeKeys: allKeys,
    }, undefined, 10_000));
    assert.ok(sessions[0].outcome(), 'member a decides');
    assert.ok(deltas.length >= 3, `several persists (${deltas.length})`);
    assert.ok(deltas[0].setup, 'the first persist carries the setup');
    assert.ok(deltas.slice(1).every((d) => d.setup === undefined), 'the setup is not written again (no member key was learnt)');
    const carried = deltas.flatMap((d) => Object.keys(d.reports));
    assert.equal(carried.length, new Set(carried).size, 'no report entry is written twice');
    assert.equal(carried.length, 4, 'all four reveals are persisted');
    const largestLater = Math.max(...deltas.slice(1).map((d) => JSON.stringify(d).length));
    const reportBytes = Object.values(deltas[0].reports).reduce((n, r) => n + r.length, 0);
    assert.ok(largestLater < JSON.stringify(deltas[0]).length, 'later persists are smaller than the first');
    assert.ok(deltas.slice(1).every((d) => !Object.keys(d.reports).length || Object.values(d.reports).reduce((n, r) => n + r.length, 0) < reportBytes));

    // the same deltas through LevelDB, merged back: the resumed session holds the decision
    const dir = mkdtempSync(join(tmpdir(), 'conclave-cstate-'));
    const store = await ValidatorStore.open(dir);
    try {
      for (const d of deltas) await store.putConsensusState(100, d);
      const stored = await store.getConsensusState<PersistedConsensus>(100);
      const merged = deltas.reduce<PersistedConsensus | undefined>((prev, d) => mergeConsensusDelta(prev, d), undefined);
      assert.deepEqual(stored, merged, 'the store merges the parts as mergeConsensusDelta does');
      const resumed = await consensus(0).start(input(0, allKeys()), { send: async () => undefined, persist: async () => undefined, ...noPrior }, stored, 20_000);
      assert.equal(resumed.outcome()?.decisionHash, sessions[0].outcome()?.decisionHash, 'resumed from the parts, the session holds the same decision');
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a delta without a setup and nothing before it is refused by name', () => {
    assert.throws(() => mergeConsensusDelta(undefined, { v: 2, delta: true, core: '{}', timers: {}, reports: {} }), /without a setup/);
  });
});


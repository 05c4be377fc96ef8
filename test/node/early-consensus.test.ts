// node/validator/phases/reveal.ts holdsEveryCommittedReveal: consensus may start before the reveal
// window closes only when this node holds, for every hotkey committed on chain by the commit
// deadline, the reveal that opens the commitment. Real LevelDB store, real sr25519 reports.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { holdsEveryCommittedReveal } from '../../node/validator/phases/reveal.ts';
import type { LiveRun, PhaseContext } from '../../node/validator/phases/context.ts';
import { ValidatorStore, type RunRecord } from '../../node/validator/store.ts';
import { encodeScoreReport, signScoreReport } from '../../proto/score-report.ts';
import { encodeReveal, reportCommitment } from '../../proto/reveal.ts';
import { cryptoReady, sr25519SignerFromSeed, type Sr25519Signer } from '../../proto/signer.ts';
import { toHex } from '../../proto/codec.ts';

const h32 = (s: string) => createHash('sha256').update(s).digest('hex');
const seed = (s: string) => new Uint8Array(createHash('sha256').update(s).digest());
const RUN = 300;

describe('early consensus start: every committed reveal held', function () {
  this.timeout(20_000);
  let dir: string;
  let store: ValidatorStore;
  let keys: Sr25519Signer[];
  let reveals: { hex: string; commitment: string; wrongSalt: string }[];
  let reads: number;
  let commitments: Map<string, { hash: string; block: number }> | Error;

  before(async () => {
    await cryptoReady();
    keys = ['a', 'b', 'c'].map((n) => sr25519SignerFromSeed(seed(`early-${n}`)));
    reveals = keys.map((k, i) => {
      const signed = signScoreReport({ version: 1, netuid: 1, runId: RUN, rosterHash: h32('r'), policyHash: h32('p'), hardwareClass: 'cpu', validatorHotkey: k.hotkey, issuedAt: 1, entries: [] }, k);
      const salt = h32(`salt-${i}`);
      return {
        hex: toHex(encodeReveal({ salt, signed })),
        wrongSalt: toHex(encodeReveal({ salt: h32(`other-${i}`), signed })),
        commitment: reportCommitment(salt, encodeScoreReport(signed.report)),
      };
    });
  });
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'conclave-early-'));
    store = await ValidatorStore.open(dir);
    reads = 0;
    commitments = new Map(keys.map((k, i) => [k.hotkey, { hash: reveals[i].commitment, block: 310 }]));
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function ctx(): PhaseContext {
    const chain = {
      reportCommitments: async (runId: number, at: number) => {
        reads++;
        assert.equal(runId, RUN);
        assert.equal(at, 320, 'read at the commit deadline');
        if (commitments instanceof Error) throw commitments;
        return commitments;
      },
    };
    const metrics = { chainErrors: { inc: () => undefined } };
    return { d: { chain, store, metrics } as unknown as PhaseContext['d'], now: () => 0, hotkey: keys[0].hotkey, lastBlock: 321 };
  }
  const live = (): LiveRun => ({ record: { runId: RUN } as RunRecord, busy: false });

  it('false while a committed reveal is missing, true once all are held; the commitments are read once', async () => {
    const l = live();
    const c = ctx();
    await store.putReportBytes(RUN, keys[0].hotkey, reveals[0].hex);
    await store.putReportBytes(RUN, keys[1].hotkey, reveals[1].hex);
    assert.equal(await holdsEveryCommittedReveal(c, l, 320), false, 'c has not revealed');
    await store.putReportBytes(RUN, keys[2].hotkey, reveals[2].hex);
    assert.equal(await holdsEveryCommittedReveal(c, l, 320), true);
    assert.equal(reads, 1, 'commitments read once per run');
  });

  it('a held reveal that does not open its commitment (another salt) keeps the node waiting for the deadline', async () => {
    for (let i = 0; i < 3; i++) await store.putReportBytes(RUN, keys[i].hotkey, i === 1 ? reveals[i].wrongSalt : reveals[i].hex);
    assert.equal(await holdsEveryCommittedReveal(ctx(), live(), 320), false);
    await store.putReportBytes(RUN, keys[1].hotkey, 'zz-not-hex');
    assert.equal(await holdsEveryCommittedReveal(ctx(), live(), 320), false, 'undecodable bytes: false, no throw');
  });

  it('no commitment of its own, no commitments at all, or a failed chain read: false (start at the deadline)', async () => {
    for (let i = 0; i < 3; i++) await store.putReportBytes(RUN, keys[i].hotkey, reveals[i].hex);
    commitments = new Map([...(commitments as Map<string, { hash: string; block: number }>)].filter(([hk]) => hk !== keys[0].hotkey));
    assert.equal(await holdsEveryCommittedReveal(ctx(), live(), 320), false, 'this node did not commit');
    commitments = new Map();
    assert.equal(await holdsEveryCommittedReveal(ctx(), live(), 320), false, 'nobody committed');
    commitments = new Error('rpc down');
    assert.equal(await holdsEveryCommittedReveal(ctx(), live(), 320), false, 'chain read failed');
  });
});

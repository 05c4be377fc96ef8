// A node API fed with real artefacts for the dashboard tests: real sr25519-signed score reports
// (proto/score-report.ts), decisions by the node's consensus rules (node/validator/decision.ts →
// consensus/), divergence by consensus/divergence.ts, real ed25519 commit certificates and
// equivocation proofs (proto/consensus.ts), all stored in a real LevelDB (node/validator/store.ts)
// and served by the node's real API server (node/api/routes.ts) with the dashboard hooked in.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { cryptoReady, ed25519SignerFromSeed, sr25519SignerFromSeed, type Ed25519Signer, type Sr25519Signer } from '../../proto/signer.ts';
import { scoreReportHash, signScoreReport, type ScoreEntry, type ScoreReport, type SignedScoreReport } from '../../proto/score-report.ts';
import { sha256Hex, toHex } from '../../proto/codec.ts';
import { encodeReveal } from '../../proto/reveal.ts';
import { rosterHash, type RosterEntry } from '../../proto/roster.ts';
import { decisionHash, encodeCertificate, signVote } from '../../proto/consensus.ts';
import { decide, decisionView, type DecisionRules } from '../../node/validator/decision.ts';
import { divergenceBetween } from '../../node/validator/divergence.ts';
import { participationOf } from '../../node/validator/participation.ts';
import { Archive } from '../../node/archive.ts';
import { equivocationRoutes } from '../../node/dashboard/equivocation-routes.ts';
import { ValidatorStore, type DivergenceRecord, type RunRecord } from '../../node/validator/store.ts';
import { nodeMetrics } from '../../node/metrics.ts';
import { buildApi } from '../../node/api/routes.ts';
import { HttpError, type ApiServer } from '../../node/api/server.ts';
import { dashboardHandler } from '../../node/dashboard/handler.ts';
import { prng } from '../prng.ts';

const seed = (s: string) => new Uint8Array(createHash('sha256').update(s).digest());
const hex32 = (s: string) => createHash('sha256').update(s).digest('hex');


export interface FixtureValidator {
  signer: Sr25519Signer;
  nodeKey: Ed25519Signer;
  stake: bigint;
}

export interface FixtureRun {
  runId: number;
  reports: SignedScoreReport[];
  record: RunRecord;
  /** (validator hotkey, uid) of a deliberately inflated score, if any */
  inflated: { hotkey: string; uid: number } | null;
}

export interface Fixture {
  base: string;
  validators: FixtureValidator[];
  runs: FixtureRun[];
  divergence: DivergenceRecord[];
  /** Equivocations the fixture created: (run, validator hotkey) */
  equivocations: { runId: number; hotkey: string }[];
  /** Runs the node sat out (newer than every run in `runs`): one recorded as 'skipped', one the old way ('failed' + reason). */
  skipped: { runId: number; legacy: boolean }[];
  /** What GET /v1/status serves from now on (the node's status panel). */
  setStatus(body: unknown): void;
  close(): Promise<void>;
}

const NETUID = 7;
const TAO = 1_000_000_000n;
const RULES: DecisionRules = { threshold: { num: 2, den: 3 }, winner: { burnUid: 0, burnRatePpm: 950_000, dethroneMarginPpm: 10_000 }, minStake: 0n, maxMissedReveals: 0 };

export interface FixtureOptions {
  runs?: number;
  miners?: number;
  /** Index of the run where only a minority reports (quorum miss). */
  quorumMissAt?: number;
  /** Index of the run where the smallest validator inflates one miner. */
  inflateAt?: number;
  /** Serve GET /v1/equivocations(/:id) from the fixture (the node API does not serve it yet). */
  equivocationRoutes?: boolean;
}

export async function startFixture(opts: FixtureOptions = {}): Promise<Fixture> {
  await cryptoReady();
  const nRuns = opts.runs ?? 8;
  const nMiners = opts.miners ?? 6;
  const rand = prng(42);
  const validators: FixtureValidator[] = [400n, 300n, 200n, 100n].map((t, i) => ({
    signer: sr25519SignerFromSeed(seed(`dash-validator-${i}`)),
    nodeKey: ed25519SignerFromSeed(seed(`dash-node-${i}`)),
    stake: t * TAO,
  }));
  const members = validators.map((v) => ({ hotkey: v.signer.hotkey, stake: v.stake }));
  const miners = Array.from({ length: nMiners }, (_, i) => sr25519SignerFromSeed(seed(`dash-miner-${i}`)));
  // The node whose API we serve is validator 0; its own scores are "the owner's pick" in shadow mode.
  const self = validators[0];

  const dir = mkdtempSync(join(tmpdir(), 'conclave-dash-'));
  const store = await ValidatorStore.open(join(dir, 'state'));
  const archive = await Archive.open(join(dir, 'archive'));
  const runs: FixtureRun[] = [];
  const divergence: DivergenceRecord[] = [];
  const equivocations: Fixture['equivocations'] = [];
  let incumbent: number | null = null;

  for (let i = 0; i < nRuns; i++) {
    const runId = 10_000 + i * 360;
    const roster: RosterEntry[] = miners.map((m, j) => ({
      uid: j + 1,
      minerHotkey: m.hotkey,
      codeSha256: hex32(`code-${j}-${Math.floor(i / 3)}`),
      url: `http://127.0.0.1/m${j}.zip`,
      commitBlock: runId - 100 + j,
    }));
    const rHash = rosterHash(roster);
    // True MFU per miner drifts over runs; miner 3 improves until it overtakes.
    // Miners are close together so validators' noisy measurements rank them differently
    // (divergence is not trivially perfect).
    const truth = roster.map((e, j) => 0.3 + 0.012 * j + (j === 2 ? 0.012 * i : 0));
    const inflated = i === (opts.inflateAt ?? 5) ? { hotkey: validators[3].signer.hotkey, uid: 2 } : null;
    const reporting = i === (opts.quorumMissAt ?? 3) ? [validators[1], validators[3]] : validators;
    const reports = reporting.map((v) => {
      const entries: ScoreEntry[] = roster.map((e, j) => {
        if (j === nMiners - 1 && i % 4 === 1) return { uid: e.uid, minerHotkey: e.minerHotkey, codeSha256: e.codeSha256, score: 0, status: 'timeout' };
        // one abstention (with its reason) in the inflated run: validator 1 could not fetch miner 0's code
        if (j === 0 && inflated && v === validators[1]) return { uid: e.uid, minerHotkey: e.minerHotkey, codeSha256: e.codeSha256, score: 0, status: 'fetch-failed' };
        let mfu = truth[j] * (1 + (rand() - 0.5) * 0.08);
        if (inflated && v.signer.hotkey === inflated.hotkey && e.uid === inflated.uid) mfu = 0.95;
        return { uid: e.uid, minerHotkey: e.minerHotkey, codeSha256: e.codeSha256, score: Math.round(mfu * 1e6), status: 'scored' };
      });
      const report: ScoreReport = {
        version: 1, netuid: NETUID, runId, rosterHash: rHash, policyHash: hex32('policy'), hardwareClass: 'cpu-test',
        validatorHotkey: v.signer.hotkey, entries, issuedAt: 1_700_000_000_000 + i * 4_320_000,
      };
      return signScoreReport(report, v.signer);
    });
    for (const s of reports) await store.putReportBytes(runId, s.report.validatorHotkey, toHex(encodeReveal({ salt: sha256Hex(`salt-${runId}-${s.report.validatorHotkey}`), signed: s })));
    const stored = await archive.putReports(reports);
    if (stored.some((r) => r.status !== 'stored')) throw new Error(`fixture: archive refused a report: ${JSON.stringify(stored)}`);

    const ctx = { netuid: NETUID, runId, rosterHash: rHash, policyHash: hex32('policy'), hardwareClass: 'cpu-test' };
    const held = incumbent === null ? null : roster.find((e) => e.uid === incumbent);
    const d = decide(reports.map((s) => s.report), members, roster, ctx, { previous: null, chain: held ? { uid: held.uid, hotkey: held.minerHotkey } : null }, RULES);
    const decision = decisionView(d, roster, RULES.threshold);
    let certificateHex: string | undefined;
    let certificateHash: string | undefined;
    if (decision.quorumMet) {
      const h = decisionHash(d);
      const votes = reporting.map((v) => signVote({ phase: 'commit', netuid: NETUID, runId, view: 0, decisionHash: h }, v.nodeKey)).sort((x, y) => (x.voter < y.voter ? -1 : 1));
      const bytes = encodeCertificate({ phase: 'commit', view: 0, decision: d, votes });
      certificateHex = toHex(bytes);
      certificateHash = createHash('sha256').update(bytes).digest('hex');
      await archive.putCertificate({ netuid: NETUID, runId }, bytes);
    }

    // Shadow mode: compare this node's own scores (the owner's pick) with the consensus.
    const mine = reports.find((s) => s.report.validatorHotkey === self.signer.hotkey);
    // The owner rewards its top three by its own measurement (0.03 / 0.015 / 0.005, rest to burn).
    let div: DivergenceRecord | undefined;
    if (mine && decision.quorumMet) {
      const ranked = mine.report.entries.filter((e) => e.status === 'scored').sort((a, b) => b.score - a.score || a.uid - b.uid);
      const owner = [{ uid: 0, weight: 0.95 }, ...ranked.slice(0, 3).map((e, r) => ({ uid: e.uid, weight: [0.03, 0.015, 0.005][r] }))];
      div = divergenceBetween(runId, decision, owner, RULES.winner.burnUid, 1_700_000_000_000 + i);
      divergence.push(div);
    }

    const record: RunRecord = {
      runId, netuid: NETUID, mode: 'shadow', phase: decision.quorumMet ? 'done' : 'quorum-miss', startedAt: 1, updatedAt: 1,
      rosterHash: rHash, policyHash: hex32('policy'), hardwareClass: 'cpu-test', roster, rosterSkipped: [],
      verdicts: reports.map((s) => ({ hotkey: s.report.validatorHotkey, reportHash: scoreReportHash(s.report), verdict: 'counted' as const })),
      decision, certificateHex, certificateHash,
      weights: { result: 'set', source: decision.quorumMet ? 'owner' : 'incumbent', uids: decision.weights.map((w) => w.uid), weights: decision.weights.map((w) => w.weight), at: 1 },
      divergence: div,
      // every member committed at runId + 10 + k; the reporting ones revealed on time (before runId + 30)
      participation: participationOf({
        members: validators.map((v, k) => ({ uid: k + 100, hotkey: v.signer.hotkey, stake: v.stake })),
        commitments: new Map(validators.map((v, k) => [v.signer.hotkey, { hash: hex32(`c-${runId}-${k}`), block: runId + 10 + k }])),
        reveals: new Map(reports.map((x) => [x.report.validatorHotkey, { report: x.report, reportHash: scoreReportHash(x.report), opens: true, receivedAt: runId + 20 }])),
        revealEnd: runId + 30,
        decision: decision.quorumMet ? { reportHashes: d.reportHashes, missedReveals: d.missedReveals, excluded: d.excluded } : null,
      }),
    };
    await store.putRun(record);
    if (decision.quorumMet) incumbent = decision.winner;

    if (inflated) {
      // The inflating validator also signed a second, different report for the same run: equivocation.
      const first = reports.find((s) => s.report.validatorHotkey === inflated.hotkey)!;
      const second = signScoreReport({ ...first.report, issuedAt: first.report.issuedAt + 1 }, validators[3].signer);
      const put = await archive.putReport(second);
      if (put.status !== 'equivocation') throw new Error(`fixture: archive did not flag the equivocation: ${JSON.stringify(put)}`);
      equivocations.push({ runId, hotkey: inflated.hotkey });
    }
    runs.push({ runId, reports, record, inflated });
  }

  // Runs the node sat out: it joined after their commit windows.
  const skipped: Fixture['skipped'] = [];
  for (const [k, legacy] of [[0, false], [1, true]] as const) {
    const runId = 10_000 + (nRuns + k) * 360;
    const error = `joined at block ${runId + 200}, after run ${runId}'s commit window (ends ${runId + 150}); waiting for the next run`;
    await store.putRun({
      runId, netuid: NETUID, mode: 'shadow', phase: legacy ? 'failed' : 'skipped', startedAt: 1, updatedAt: 1,
      rosterHash: '', policyHash: '', hardwareClass: 'cpu-test', roster: [], rosterSkipped: [], verdicts: [], error,
    });
    skipped.push({ runId, legacy });
  }

  const last = runs[runs.length - 1];
  let status: unknown = {
    version: '0.1.0', commit: 'unknown', mode: 'shadow', netuid: NETUID, hotkey: self.signer.hotkey, peerId: '12D3KooWFixture',
    chain: { endpoint: 'ws://127.0.0.1:9944', connected: true, head: skipped[1].runId + 300, finalized: skipped[1].runId + 298, headAgeS: 1.5 },
    peers: { connected: 3, admitted: 3, required: 1 },
    run: { runId: skipped[1].runId + 360, phase: 'evaluating', skipped: false, since: 1 },
    lastWeights: { ...last.record.weights, runId: last.runId, revealConfirmed: true },
    health: { ok: true, status: 'ok', reasons: [] },
    at: 1,
  };
  const metrics = nodeMetrics();
  const api: ApiServer = buildApi(
    {
      store, signer: self.signer, netuid: NETUID, metrics, health: async () => ({ ok: true }),
      status: async () => {
        if (status === null) throw new HttpError(404, 'no status');
        return status;
      },
    },
    { rateLimitPerMinute: 100_000, maxResponseBytes: 4_000_000, cors: '' },
  );
  api.use(dashboardHandler);
  if (opts.equivocationRoutes !== false) equivocationRoutes(api, archive);
  const a = await api.listen('127.0.0.1', 0);
  return {
    base: `http://127.0.0.1:${a.port}`,
    validators,
    runs,
    divergence,
    equivocations,
    skipped,
    setStatus(body: unknown) { status = body; },
    async close() {
      await api.close();
      await store.close();
      await archive.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

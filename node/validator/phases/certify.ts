// Phases `publishing` (its end) → `consensus` → `certified` | `quorum-miss`: when the reveal window
// closes, the stored reports are judged (a report counts only if signed, from a member, for this
// run/roster/policy, and hashing to its on-chain commitment as of the commit window's end), and the
// consensus session is opened and driven until it certifies a decision or times out.
import { decodeSignedScoreReport, scoreReportHash, verifySignedScoreReport, type SignedScoreReport } from '../../../proto/score-report.ts';
import { fromHex, toHex } from '../../../proto/codec.ts';
import { reportMismatch } from '../../../consensus/aggregate.ts';
import type { ReportVerdict, RunRecord } from '../store.ts';
import { decide, decisionView, membersOf, rulesFromConfig } from '../decision.ts';
import { chainCall, type LiveRun, type PhaseContext } from './context.ts';
import { currentIncumbent } from './set-weights.ts';

/** The loop's message buffers, which outlive any one run (node/validator/validator.ts keeps them). */
export interface ConsensusIo {
  /** stores the peer reports buffered so far (reveal.ts storePeerReports) */
  drainReports(): Promise<void>;
  /** buffers a report fetched from a peer, stored by the next drainReports */
  bufferReport(bytes: Uint8Array): void;
  /** hands new consensus messages to every open session */
  pumpConsensus(): Promise<void>;
  /** recent consensus messages, replayed into a session that opens after they arrived */
  recent(): readonly { bytes: Uint8Array; from: string }[];
}

type Members = { uid: number; hotkey: string; stake: bigint }[];
type Commitments = Map<string, { hash: string; block: number }>;

/** Consensus input, persisted so a restart mid-consensus can rebuild the session. */
interface SavedInput {
  members: Members;
  commitments: [string, { hash: string; block: number }][];
  counted: string[];
  incumbent: number | null;
  startedAt: number;
}

export async function startConsensus(ctx: PhaseContext, l: LiveRun, commitEnd: number, io: ConsensusIo): Promise<void> {
  const d = ctx.d;
  const r = l.record;
  await io.drainReports();
  if (d.mesh.fetchReports) {
    for (const bytes of await d.mesh.fetchReports(r.runId).catch(() => [] as Uint8Array[])) io.bufferReport(bytes);
    await io.drainReports();
  }
  const neurons = await chainCall(ctx, 'metagraph', () => d.chain.metagraph(r.runId));
  const members = membersOf(neurons, d.config.consensus.minStake);
  const commitments = await chainCall(ctx, 'read-commitments', () => d.chain.reportCommitments(r.runId, commitEnd));
  const { verdicts, counted } = await verdictsFor(ctx, r, commitEnd, members, commitments);
  r.verdicts = verdicts;
  const incumbent = await currentIncumbent(ctx, r.roster);
  // What this node would decide from its own view (the certificate may count a different set).
  const rules = rulesFromConfig(d.config);
  r.decision = decisionView(decide(counted.map((c) => c.signed.report), members, r.roster, r, incumbent, rules), r.roster, rules.threshold);
  await d.store.putRun(r);
  l.consensusStartedAt = ctx.now();
  await openSession(ctx, l, io, { members, commitments, counted: counted.map((c) => c.bytes), incumbent });
}

/**
 * One step of the session: 'certified' or 'quorum-miss' when the run is decided, null while it is
 * not, 'no-input' when a restart finds no persisted consensus input (the reveal phase must rerun).
 */
export async function driveConsensus(ctx: PhaseContext, l: LiveRun, io: ConsensusIo): Promise<'certified' | 'quorum-miss' | 'no-input' | null> {
  const d = ctx.d;
  const r = l.record;
  if (!l.session) {
    // restart mid-consensus: rebuild the session from the persisted input and reducer state
    const saved = await d.store.getMeta<SavedInput>(`consensus-input/${r.runId}`);
    if (!saved) return 'no-input';
    l.consensusStartedAt = saved.startedAt;
    await openSession(ctx, l, io, { members: saved.members, commitments: new Map(saved.commitments), counted: saved.counted.map((h) => fromHex(h)), incumbent: saved.incumbent });
  }
  const s = l.session!;
  await io.pumpConsensus();
  await s.tick(ctx.now());
  for (const e of s.equivocations()) {
    await d.archive?.putEquivocation(r.runId, e.hotkey, e.proofHex).catch(() => undefined);
  }
  const out = s.outcome();
  if (out) {
    r.decision = out.decision;
    r.certificateHex = toHex(out.certificateBytes);
    r.certificateHash = out.certificateHash;
    r.consensusLatencyMs = ctx.now() - (l.consensusStartedAt ?? ctx.now());
    d.metrics.consensusLatency.observe(r.consensusLatencyMs / 1000);
    await d.archive?.putCertificate(r.runId, out.certificateBytes).catch((err) => d.log.warn('archive refused certificate', { error: (err as Error).message }));
    d.metrics.runsTotal.inc({ outcome: 'certified' });
    d.log.info('run certified', { runId: r.runId, winner: out.decision.winner, counted: out.countedHashes.length, latencyMs: r.consensusLatencyMs });
    return 'certified';
  }
  if (ctx.now() - (l.consensusStartedAt ?? ctx.now()) > d.config.consensus.consensusTimeoutS * 1000) {
    d.metrics.runsTotal.inc({ outcome: 'quorum-miss' });
    d.log.warn('no certificate before the consensus timeout: quorum miss', { runId: r.runId });
    return 'quorum-miss';
  }
  return null;
}

async function verdictsFor(ctx: PhaseContext, r: RunRecord, commitEnd: number, members: { hotkey: string; stake: bigint }[], commitments: Commitments) {
  const d = ctx.d;
  const rosterMap = new Map(r.roster.map((e) => [e.uid, e]));
  const memberSet = new Set(members.map((m) => m.hotkey));
  const verdicts: ReportVerdict[] = [];
  const counted: { signed: SignedScoreReport; bytes: Uint8Array }[] = [];
  for (const { hotkey, hex } of await d.store.listReportBytes(r.runId)) {
    const bytes = fromHex(hex, undefined, 'stored report');
    const signed = decodeSignedScoreReport(bytes);
    const hash = scoreReportHash(signed.report);
    const v = (verdict: ReportVerdict['verdict'], detail?: string) => {
      verdicts.push({ hotkey, reportHash: hash, verdict, detail });
      d.metrics.reportsReceived.inc({ verdict });
    };
    const sig = verifySignedScoreReport(signed);
    if (!sig.ok) { v('bad-signature', sig.reason); continue; }
    if (hotkey !== ctx.hotkey) await d.archive?.putSignedReport(signed).catch(() => undefined);
    if (!memberSet.has(hotkey)) { v('not-member', 'hotkey is not a permitted validator with enough stake at the run block'); continue; }
    if (await d.store.marked(r.runId, `second-report/${hotkey}`)) { v('equivocation', 'two different signed reports for this run'); continue; }
    const mismatch = reportMismatch(signed.report, { netuid: r.netuid, runId: r.runId, rosterHash: r.rosterHash, policyHash: r.policyHash, hardwareClass: r.hardwareClass }, rosterMap);
    if (mismatch) { v('wrong-run', mismatch); continue; }
    const onChain = commitments.get(hotkey);
    if (!onChain) { v('no-commitment', `no conclave/v1:${r.runId} commitment on chain by block ${commitEnd}`); continue; }
    if (onChain.hash !== hash) { v('hash-mismatch', `report hashes to ${hash.slice(0, 16)}…, the on-chain commitment is ${onChain.hash.slice(0, 16)}…`); continue; }
    v('counted');
    counted.push({ signed, bytes });
  }
  return { verdicts, counted };
}

async function openSession(ctx: PhaseContext, l: LiveRun, io: ConsensusIo, x: { members: Members; commitments: Commitments; counted: Uint8Array[]; incumbent: number | null }): Promise<void> {
  const d = ctx.d;
  const r = l.record;
  const resume = await d.store.getConsensusState(r.runId);
  const nodeKeys = d.mesh.boundNodeKeys();
  await d.store.putMeta(`consensus-input/${r.runId}`, { members: x.members, commitments: [...x.commitments], counted: x.counted.map(toHex), incumbent: x.incumbent, startedAt: l.consensusStartedAt });
  const mine = await d.store.getReportBytes(r.runId, ctx.hotkey);
  // a node publishing a report other than its commitment (test fault) feeds that one to consensus too
  const faulty = await d.store.marked(r.runId, 'fault-published-report');
  const own = d.config.dev.fault === 'silent' ? null : faulty ? fromHex(faulty.detail as string) : mine ? fromHex(mine) : null;
  l.session = await d.consensus.start(
    { runId: r.runId, netuid: r.netuid, members: x.members, rosterHash: r.rosterHash, policyHash: r.policyHash, hardwareClass: r.hardwareClass, roster: r.roster, counted: x.counted, commitments: x.commitments, incumbent: x.incumbent, nodeKeys, ownReport: own },
    {
      send: async (to, bytes) => {
        if (d.config.dev.fault === 'silent') return;
        await d.mesh.sendConsensus(to, bytes).catch((err) => d.log.debug('consensus send failed', { error: (err as Error).message }));
      },
      persist: (state) => d.store.putConsensusState(r.runId, state),
    },
    resume,
    ctx.now(),
  );
  for (const m of io.recent()) await l.session.deliver(m.bytes, m.from, ctx.now());
}

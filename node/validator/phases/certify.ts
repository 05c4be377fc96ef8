// Phases `publishing` (its end) → `consensus` → `certified` | `quorum-miss`: when the reveal window
// closes (or earlier, once every committed reveal is held: reveal.ts), the stored reveals are judged
// (a report counts only if signed, from a member, for this run/roster/policy, and its salted
// commitment sha256(salt || report) is on chain by the commit deadline), the incumbent basis is fixed
// (the latest certified run this node holds, else the weights on chain at the run's start block), and
// the consensus session is opened and driven until it certifies a decision or gives up: never before
// every member had its view as proposer, unless the chain deadline (the block the next run's
// consensus starts at) comes first.
import { decodeReveal, revealCommitment, type Reveal } from '../../../proto/reveal.ts';
import { scoreReportHash, verifySignedScoreReport } from '../../../proto/score-report.ts';
import { decodeCertifiedRun, encodeCertifiedRun, type CertifiedRun } from '../../../proto/consensus.ts';
import { fromHex, toHex } from '../../../proto/codec.ts';
import { normaliseGenesisHash } from '../../../proto/binding.ts';
import { reportMismatch } from '../../../consensus/aggregate.ts';
import { countingPower, type IncumbentBasis } from '../../../consensus/decision.ts';
import { incumbentFromWeights, type IncumbentRef } from '../../../consensus/incumbent.ts';
import { verifyCertifiedRun } from '../../../consensus/prior.ts';
import { nativeVerifier } from '../../../consensus/equivocation.ts';
import { runTimeoutMs, type PriorRun, type Timing } from '../../../consensus/pbft.ts';
import { quorumMissDue } from '../consensus-deadline.ts';
import type { ReportVerdict, RunRecord } from '../store.ts';
import { decide, decisionView, membersOf, rulesFromConfig } from '../decision.ts';
import { participationOf, type HeldReveal } from '../participation.ts';
import { chainCall, type LiveRun, type PhaseContext } from './context.ts';

/** The loop's message buffers, which outlive any one run (node/validator/validator.ts keeps them). */
export interface ConsensusIo {
  /** stores the peer reveals buffered so far (reveal.ts storePeerReports) */
  drainReports(): Promise<void>;
  /** buffers a reveal fetched from a peer, stored by the next drainReports */
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
  seed: string;
  prior: { hex: string; decisionHash: string } | null;
  chainIncumbent: IncumbentRef | null;
  startedAt: number;
}

/** How many certified runs the store remembers for the incumbent basis. */
const CERTIFIED_KEPT = 4;
type CertifiedEntry = { runId: number; decisionHash: string; hex: string };

/** The latest certified run before `runId` this node holds (it decided it, or verified it from a peer). */
export async function latestCertified(ctx: PhaseContext, runId: number): Promise<PriorRun | null> {
  const list = (await ctx.d.store.getMeta<CertifiedEntry[]>('certified-runs')) ?? [];
  const best = list.filter((e) => e.runId < runId).sort((a, b) => b.runId - a.runId)[0];
  if (!best) return null;
  try {
    const evidence = decodeCertifiedRun(fromHex(best.hex));
    return { runId: best.runId, decisionHash: best.decisionHash, decision: evidence.certificate.decision, evidence };
  } catch (err) {
    ctx.d.log.warn('stored certified run is unreadable; taking the incumbent from chain weights', { runId: best.runId, error: (err as Error).message });
    return null;
  }
}

async function rememberCertified(ctx: PhaseContext, runId: number, decisionHash: string, evidence: CertifiedRun): Promise<void> {
  const list = ((await ctx.d.store.getMeta<CertifiedEntry[]>('certified-runs')) ?? []).filter((e) => e.runId !== runId);
  list.push({ runId, decisionHash, hex: toHex(encodeCertifiedRun(evidence)) });
  list.sort((a, b) => b.runId - a.runId);
  await ctx.d.store.putMeta('certified-runs', list.slice(0, CERTIFIED_KEPT));
}

/** The incumbent on chain at the run's start block: the top weight of a stake majority of the members. */
async function chainIncumbentAt(ctx: PhaseContext, r: RunRecord, members: Members): Promise<IncumbentRef | null> {
  const d = ctx.d;
  const all = await chainCall(ctx, 'weights-of', () => d.chain.weightsOfMany(members.map((m) => m.hotkey), r.runId));
  const rows = members.map((m) => ({ hotkey: m.hotkey, stake: m.stake, weights: all.get(m.hotkey) ?? [] }));
  return incumbentFromWeights(rows, members.reduce((s, m) => s + m.stake, 0n), d.config.consensus.burnUid, r.roster);
}

export async function startConsensus(ctx: PhaseContext, l: LiveRun, commitEnd: number, revealEnd: number, io: ConsensusIo): Promise<void> {
  const d = ctx.d;
  const r = l.record;
  await io.drainReports();
  const neurons = await chainCall(ctx, 'metagraph', () => d.chain.metagraph(r.runId));
  const members = membersOf(neurons, d.config.consensus.minStake);
  // the commitments by the commit deadline are final once it passed: the ones the early-start check read serve here too
  const commitments = l.committed ?? (l.committed = await chainCall(ctx, 'read-commitments', () => d.chain.reportCommitments(r.runId, commitEnd)));
  // catch-up from peers only when a committed reveal has not arrived by gossip (a restart, a partition,
  // a withholder): asking every peer for its inventory at every reveal end delayed every certificate
  const have = new Set((await d.store.listReportBytes(r.runId)).map((x) => x.hotkey));
  const missing = [...commitments.keys()].some((hk) => hk !== ctx.hotkey && !have.has(hk));
  if (missing && d.mesh.fetchReports) {
    for (const bytes of await d.mesh.fetchReports(r.runId).catch(() => [] as Uint8Array[])) io.bufferReport(bytes);
    await io.drainReports();
  }
  const seed = normaliseGenesisHash(await chainCall(ctx, 'block-hash', () => d.chain.blockHash(commitEnd)));
  const { verdicts, counted, held } = await verdictsFor(ctx, r, members, commitments);
  r.verdicts = verdicts;
  const prior = await latestCertified(ctx, r.runId);
  const chainIncumbent = prior ? null : await chainIncumbentAt(ctx, r, members);
  const basis: IncumbentBasis = prior ? { previous: { ref: { runId: prior.runId, decisionHash: prior.decisionHash }, decision: prior.decision }, chain: null } : { previous: null, chain: chainIncumbent };
  // What this node would decide from its own view (the certificate may count a different set).
  const rules = rulesFromConfig(d.config);
  const { excluded } = countingPower({ members, basis, maxMissedReveals: rules.maxMissedReveals });
  const out = new Set(excluded);
  const view = decide(counted.filter((c) => !out.has(c.reveal.signed.report.validatorHotkey)).map((c) => c.reveal.signed.report), members, r.roster, r, basis, rules, [...commitments.keys()]);
  r.decision = decisionView(view, r.roster, rules.threshold);
  r.participation = participationOf({ members, commitments, reveals: held, revealEnd, decision: null });
  await d.store.putRun(r);
  l.consensusStartedAt = ctx.now();
  await openSession(ctx, l, io, { members, commitments, counted: counted.map((c) => c.bytes), seed, prior, chainIncumbent });
}

/**
 * One step of the session: 'certified' or 'quorum-miss' when the run is decided, null while it is
 * not, 'no-input' when a restart finds no persisted consensus input (the reveal phase must rerun).
 * Quorum miss comes at the first of: the head block reaching `deadlineBlock` (the block the next
 * run's consensus starts at, ../consensus-deadline.ts) and max(consensus_timeout_s, n views).
 */
export async function driveConsensus(ctx: PhaseContext, l: LiveRun, io: ConsensusIo, revealEnd: number, deadlineBlock: number): Promise<'certified' | 'quorum-miss' | 'no-input' | null> {
  const d = ctx.d;
  const r = l.record;
  if (!l.session) {
    // restart mid-consensus: rebuild the session from the persisted input and reducer state
    const saved = await d.store.getMeta<SavedInput>(`consensus-input/${r.runId}`);
    if (!saved) return 'no-input';
    l.consensusStartedAt = saved.startedAt;
    let prior: PriorRun | null = null;
    if (saved.prior) {
      const evidence = decodeCertifiedRun(fromHex(saved.prior.hex));
      prior = { runId: evidence.certificate.decision.runId, decisionHash: saved.prior.decisionHash, decision: evidence.certificate.decision, evidence };
    }
    await openSession(ctx, l, io, { members: saved.members, commitments: new Map(saved.commitments), counted: saved.counted.map((h) => fromHex(h)), seed: saved.seed, prior, chainIncumbent: saved.chainIncumbent });
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
    r.certifiedRunHex = toHex(encodeCertifiedRun(out.certified));
    r.consensusLatencyMs = ctx.now() - (l.consensusStartedAt ?? ctx.now());
    const saved = await d.store.getMeta<SavedInput>(`consensus-input/${r.runId}`);
    if (saved) {
      const { held } = await verdictsFor(ctx, r, saved.members, new Map(saved.commitments), { archive: false, count: false });
      r.participation = participationOf({ members: saved.members, commitments: new Map(saved.commitments), reveals: held, revealEnd, decision: out.certified.certificate.decision });
    }
    await rememberCertified(ctx, r.runId, out.decisionHash, out.certified);
    d.metrics.consensusLatency.observe(r.consensusLatencyMs / 1000);
    await d.archive?.putCertifiedRun?.(r.runId, out.certified).catch((err) => d.log.warn('archive refused certificate', { error: (err as Error).message }));
    if (!d.archive?.putCertifiedRun) await d.archive?.putCertificate(r.runId, out.certificateBytes).catch((err) => d.log.warn('archive refused certificate', { error: (err as Error).message }));
    d.metrics.runsTotal.inc({ outcome: 'certified' });
    d.log.info('run certified', { runId: r.runId, winner: out.decision.winner, counted: out.countedHashes.length, incumbent: out.decision.incumbentUid ?? null, previous: out.decision.previous?.runId ?? null, latencyMs: r.consensusLatencyMs, decision: out.decisionHash, certificate: out.certificateHash });
    return 'certified';
  }
  const elapsedMs = ctx.now() - (l.consensusStartedAt ?? ctx.now());
  const timeoutMs = consensusTimeoutMs(ctx, l);
  const cause = quorumMissDue({ block: ctx.lastBlock, deadlineBlock, elapsedMs, timeoutMs });
  if (cause) {
    r.quorumMiss = { cause, block: ctx.lastBlock, deadlineBlock, elapsedMs, timeoutMs };
    d.metrics.runsTotal.inc({ outcome: 'quorum-miss' });
    d.log.warn(cause === 'chain-deadline'
      ? 'no certificate by the chain deadline (the block the next run\'s consensus starts at): quorum miss'
      : 'no certificate before the consensus timeout: quorum miss', { runId: r.runId, cause, block: ctx.lastBlock, deadlineBlock, elapsedMs, timeoutMs });
    return 'quorum-miss';
  }
  return null;
}

/** The protocol's view timing (the consensus port's, else the config's view timeout). */
export function consensusTiming(ctx: PhaseContext): Timing {
  const c = ctx.d.config.consensus;
  return ctx.d.consensus.timing ?? { proposeDelayMs: 2000, viewTimeoutMs: c.viewTimeoutS * 1000, maxBackoffExponent: 2 };
}

/** The protocol's bound: the configured timeout, but never less than one view per member (each gets to propose once). */
function consensusTimeoutMs(ctx: PhaseContext, l: LiveRun): number {
  const n = l.record.participation?.length ?? 1;
  return Math.max(ctx.d.config.consensus.consensusTimeoutS * 1000, runTimeoutMs(consensusTiming(ctx), n));
}

/**
 * Judges the stored reveals of a run: signature, membership, run context, and whether the reveal
 * opens its author's on-chain commitment. A second reveal of the same report with another salt is
 * no equivocation: the one that opens the commitment is kept. Returns the verdicts, the reveals that
 * count (encoded), and what this node holds per validator (for the participation record).
 */
async function verdictsFor(ctx: PhaseContext, r: RunRecord, members: { hotkey: string; stake: bigint }[], commitments: Commitments, o: { archive: boolean; count: boolean } = { archive: true, count: true }) {
  const d = ctx.d;
  const rosterMap = new Map(r.roster.map((e) => [e.uid, e]));
  const memberSet = new Set(members.map((m) => m.hotkey));
  const verdicts: ReportVerdict[] = [];
  const counted: { reveal: Reveal; bytes: Uint8Array }[] = [];
  const held = new Map<string, HeldReveal>();
  const publishedAt = (await d.store.marked(r.runId, 'published'))?.detail;
  for (const { hotkey, hex } of await d.store.listReportBytes(r.runId)) {
    const candidates: Uint8Array[] = [fromHex(hex, undefined, 'stored reveal')];
    const second = await d.store.marked(r.runId, `second-report/${hotkey}`);
    if (second) candidates.push(fromHex(second.detail as string, undefined, 'stored reveal'));
    const reveals: { reveal: Reveal; bytes: Uint8Array }[] = [];
    for (const bytes of candidates) {
      try {
        reveals.push({ reveal: decodeReveal(bytes), bytes });
      } catch {
        // an undecodable second copy is dropped; an undecodable first one is reported below
      }
    }
    if (reveals.length === 0) {
      verdicts.push({ hotkey, verdict: 'undecodable', detail: 'stored reveal does not decode' });
      continue;
    }
    const onChain = commitments.get(hotkey);
    const opening = reveals.find((x) => onChain && revealCommitment(x.reveal) === onChain.hash);
    const { reveal, bytes } = opening ?? reveals[0];
    const signed = reveal.signed;
    const hash = scoreReportHash(signed.report);
    const received = hotkey === ctx.hotkey ? (typeof publishedAt === 'number' ? publishedAt : null) : ((await d.store.marked(r.runId, `received/${hotkey}`))?.detail as number | undefined) ?? null;
    const v = (verdict: ReportVerdict['verdict'], detail?: string) => {
      verdicts.push({ hotkey, reportHash: hash, verdict, detail });
      if (o.count) d.metrics.reportsReceived.inc({ verdict });
    };
    const sig = verifySignedScoreReport(signed);
    if (!sig.ok) { v('bad-signature', sig.reason); continue; }
    held.set(hotkey, { report: signed.report, reportHash: hash, opens: Boolean(opening), receivedAt: received });
    if (o.archive && hotkey !== ctx.hotkey && d.archive?.putReveal) await d.archive.putReveal(reveal, received ?? undefined).catch(() => undefined);
    if (!memberSet.has(hotkey)) { v('not-member', 'hotkey is not a permitted validator with enough stake at the run block'); continue; }
    const reports = new Set(reveals.map((x) => scoreReportHash(x.reveal.signed.report)));
    if (reports.size > 1) { v('equivocation', 'two different signed reports for this run'); }
    const mismatch = reportMismatch(signed.report, { netuid: r.netuid, runId: r.runId, rosterHash: r.rosterHash, policyHash: r.policyHash, hardwareClass: r.hardwareClass }, rosterMap);
    if (mismatch) { v('wrong-run', mismatch); continue; }
    if (!onChain) { v('no-commitment', `no conclave/v2:${r.runId} commitment on chain by the commit deadline`); continue; }
    if (!opening) { v('hash-mismatch', `sha256(salt || report) ≠ the on-chain commitment ${onChain.hash.slice(0, 16)}… (another report, or a wrong salt)`); continue; }
    if (reports.size === 1) v('counted');
    counted.push({ reveal, bytes });
  }
  return { verdicts, counted, held };
}

async function openSession(ctx: PhaseContext, l: LiveRun, io: ConsensusIo, x: { members: Members; commitments: Commitments; counted: Uint8Array[]; seed: string; prior: PriorRun | null; chainIncumbent: IncumbentRef | null }): Promise<void> {
  const d = ctx.d;
  const r = l.record;
  const resume = await d.store.getConsensusState(r.runId);
  const nodeKeys = d.mesh.boundNodeKeys();
  await d.store.putMeta(`consensus-input/${r.runId}`, {
    members: x.members, commitments: [...x.commitments], counted: x.counted.map(toHex), seed: x.seed,
    prior: x.prior?.evidence ? { hex: toHex(encodeCertifiedRun(x.prior.evidence)), decisionHash: x.prior.decisionHash } : null,
    chainIncumbent: x.chainIncumbent, startedAt: l.consensusStartedAt ?? ctx.now(),
  } satisfies SavedInput);
  const mine = await d.store.getReportBytes(r.runId, ctx.hotkey);
  // a node publishing a report other than its commitment (test fault) feeds that one to consensus too
  const faulty = await d.store.marked(r.runId, 'fault-published-report');
  const own = d.config.dev.fault === 'silent' ? null : faulty ? fromHex(faulty.detail as string) : mine ? fromHex(mine) : null;
  const rules = rulesFromConfig(d.config);
  const genesis = await chainCall(ctx, 'genesis-hash', () => d.chain.genesisHash());
  l.session = await d.consensus.start(
    {
      runId: r.runId, netuid: r.netuid, members: x.members, rosterHash: r.rosterHash, policyHash: r.policyHash, hardwareClass: r.hardwareClass, roster: r.roster,
      counted: x.counted, commitments: x.commitments, nodeKeys, ownReport: own, ownReportGossiped: own !== null && (await d.store.marked(r.runId, 'gossiped')) !== undefined, seed: x.seed, prior: x.prior, chainIncumbent: x.chainIncumbent, maxMissedReveals: rules.maxMissedReveals,
    },
    {
      send: async (to, bytes) => {
        if (d.config.dev.fault === 'silent') return;
        await d.mesh.sendConsensus(to, bytes).catch((err) => d.log.debug('consensus send failed', { error: (err as Error).message }));
      },
      persist: (state) => d.store.putConsensusState(r.runId, state),
      verifyPrior: async (evidence) => {
        const prevRun = evidence.certificate.decision.runId;
        try {
          const neurons = await chainCall(ctx, 'metagraph', () => d.chain.metagraph(prevRun));
          const check = verifyCertifiedRun(evidence, { netuid: r.netuid, genesisHash: genesis, members: membersOf(neurons, d.config.consensus.minStake), threshold: rules.threshold }, nativeVerifier);
          if (!check.ok) d.log.warn('a peer sent a certified run that does not verify: ignored', { runId: r.runId, certifiedRun: prevRun, reason: check.reason });
          else {
            d.log.info('certified run fetched from a peer and verified (catching up)', { runId: r.runId, certifiedRun: prevRun });
            await rememberCertified(ctx, prevRun, check.decisionHash, evidence);
          }
          return check.ok;
        } catch (err) {
          d.log.warn('could not verify a certified run a peer sent (chain read failed); a later retry may', { certifiedRun: prevRun, error: (err as Error).message });
          return false;
        }
      },
      bindingOf: (nodeKey) => {
        for (const b of d.mesh.bindingRecords?.().values() ?? []) if (b.nodePublicKey === nodeKey) return b;
        return undefined;
      },
      nodeKeys: () => d.mesh.boundNodeKeys(),
    },
    resume,
    ctx.now(),
  );
  for (const m of io.recent()) await l.session.deliver(m.bytes, m.from, ctx.now());
}

// Re-verification of one run from a validator's published evidence and chain state alone; nothing
// the certificate claims is taken on trust. Pure core (`auditRun`) over fetched inputs;
// node/commands/audit.ts does the I/O.
//
//   - each vote of the commit certificate is attributed by a binding (hotkey signature + node-key
//     countersignature, on this chain and subnet) to a member of the validator set at the run's
//     block, and the voters' stake is checked against the quorum (consensus/prior.ts);
//   - the counted set is rebuilt from the chain: every counted report must be revealed with a salt
//     that opens its author's commitment on chain by the commit deadline; committed-but-uncounted
//     and revealed-but-uncommitted reports are listed with the reason;
//   - the incumbent is rebuilt from the previous certified run the decision names (verified the same
//     way against the validator set at that run's block) or, when it names none, from the weights on
//     chain at the run's start block;
//   - the decision is recomputed (median, coverage, winner, weights, missed reveals, exclusions);
//   - the weights each validator set for the run are read at the block they were set.
import { decodeRevealWithReport, reportCommitment, revealAuthorPublicKey, type Reveal } from '../proto/reveal.ts';
import { verifyScoreReportBytes, type ScoreReport } from '../proto/score-report.ts';
import { publicKeyHexToHotkey } from '../proto/signer.ts';
import { decodeCertifiedRun, decisionHash, type CertifiedRun, type Decision } from '../proto/consensus.ts';
import { fromHex, sha256Hex, toHex } from '../proto/codec.ts';
import { rosterHash as computeRosterHash } from '../proto/roster.ts';
import { nativeVerifier } from '../consensus/equivocation.ts';
import { verifyCertifiedRun } from '../consensus/prior.ts';
import { incumbentFromDecision, incumbentFromWeights, type ChainWeightsRow } from '../consensus/incumbent.ts';
import { countingPower, type IncumbentBasis } from '../consensus/decision.ts';
import type { Neuron } from '../consensus/validator-set.ts';
import type { RosterEntry } from '../proto/roster.ts';
import { decide, membersOf, type DecisionRules } from './validator/decision.ts';

export interface AuditInput {
  runId: number;
  netuid: number;
  /** The chain's genesis hash: bindings are valid on this chain only. */
  genesisHash: string;
  roster: RosterEntry[];
  rosterHash: string;
  policyHash: string;
  hardwareClass: string;
  /** Reveals (salt + signed report) the source holds for the run, encoded: hex from an HTTP source, bytes from a run bundle. */
  reveals: ({ hotkey: string; revealHex: string } | { hotkey: string; revealBytes: Uint8Array })[];
  /** The commit certificate with its voters' bindings (CertifiedRun), encoded hex. */
  certifiedRunHex: string | null;
  /** metagraph at the run's start block */
  metagraph: Neuron[];
  /** salted report commitments for the run on chain by the commit deadline (hotkey → commitment) */
  commitments: Map<string, { hash: string; block: number }>;
  /** The previous certified run the decision names, with the metagraph at its start block (null when the source has none). */
  previous: { certifiedRunHex: string; metagraph: Neuron[] } | null;
  /** The members' weights on chain at the run's start block (the incumbent when the decision names no previous run). */
  chainWeightsAtStart: ChainWeightsRow[];
  /** Weights each validator set for this run, read at the block they were set (hotkey → block + weights in [0,1]). */
  chainWeights: Map<string, { block: number; weights: { uid: number; weight: number }[] }>;
  rules: DecisionRules;
  /**
   * 'chain' when the roster was derived by the auditor from chain state (multiaddr sources serve no run
   * metadata): the certified decision's rosterHash must then equal rosterHash(roster). Default 'source'.
   */
  rosterFrom?: 'chain' | 'source';
}

/** What a run-bundle source (p2p, `fetchRunBundle`) yields: raw reveals and the certified run. */
export interface RunBundleEvidence {
  reports: Uint8Array[];
  certificate: Uint8Array | null;
}

/**
 * Audit inputs from a run bundle plus the roster the auditor derived from chain state (pure). The run's
 * context (policy hash, hardware class) comes from the certified decision — signed by the voters —
 * or, without a decodable certificate, from the first decodable report; the roster hash from the chain.
 */
export function evidenceFromBundle(bundle: RunBundleEvidence, chainRoster: RosterEntry[]): Pick<AuditInput, 'reveals' | 'certifiedRunHex' | 'roster' | 'rosterHash' | 'policyHash' | 'hardwareClass' | 'rosterFrom'> {
  const reveals = bundle.reports.map((bytes, i) => {
    let hotkey = `undecodable-${i}`;
    try {
      hotkey = publicKeyHexToHotkey(revealAuthorPublicKey(bytes));
    } catch {
      // auditRun reports it as reveal-decodes:<hotkey>
    }
    return { hotkey, revealBytes: bytes };
  });
  let ctx: { policyHash: string; hardwareClass: string } | null = null;
  if (bundle.certificate) {
    try {
      ctx = decodeCertifiedRun(bundle.certificate).certificate.decision;
    } catch {
      // auditRun reports certificate-decodes
    }
  }
  if (!ctx) {
    for (const bytes of bundle.reports) {
      try {
        ctx = decodeRevealWithReport(bytes).reveal.signed.report;
        break;
      } catch {
        // next
      }
    }
  }
  return {
    reveals, certifiedRunHex: bundle.certificate ? toHex(bundle.certificate) : null,
    roster: chainRoster, rosterHash: computeRosterHash(chainRoster), rosterFrom: 'chain',
    policyHash: ctx?.policyHash ?? '', hardwareClass: ctx?.hardwareClass ?? '',
  };
}

export interface AuditCheck {
  check: string;
  ok: boolean;
  detail?: string;
}

export interface AuditResult {
  runId: number;
  ok: boolean;
  checks: AuditCheck[];
  failed: string[];
  equivocations: string[];
  winner: number | null;
  scores: { uid: number; score: number }[];
  /** Committed on chain by the commit deadline, not counted by the certificate: why. */
  uncounted: { hotkey: string; commitment: string; reason: string }[];
  /** Revealed (held by the source) but opening no commitment on chain: why. */
  uncommitted: { hotkey: string; reportHash: string; reason: string }[];
  /** Where the incumbent comes from, as rebuilt by the audit. */
  incumbent: { uid: number | null; from: 'previous-certificate' | 'chain-weights' | 'unknown'; previousRunId: number | null };
  /** Validators' weights compared (at the block set), and those that set none for this run. */
  weights: { hotkey: string; block: number | null; match: boolean | null }[];
}

export function auditRun(x: AuditInput): AuditResult {
  const checks: AuditCheck[] = [];
  const add = (check: string, ok: boolean, detail?: string) => checks.push({ check, ok, detail });
  const members = membersOf(x.metagraph, x.rules.minStake);
  const memberSet = new Set(members.map((m) => m.hotkey));
  /** report hash → report, for reveals that verify and open their author's commitment */
  const opening = new Map<string, { report: ScoreReport; hotkey: string }>();
  const byHotkey = new Map<string, string[]>();
  const uncommitted: AuditResult['uncommitted'] = [];
  /** each decoded report's hash, from its canonical bytes in the reveal */
  const hashOf = new Map<ScoreReport, string>();
  for (const r of x.reveals) {
    let reveal: Reveal;
    let reportBytes: Uint8Array;
    try {
      ({ reveal, reportBytes } = decodeRevealWithReport('revealBytes' in r ? r.revealBytes : fromHex(r.revealHex, undefined, 'reveal')));
    } catch (err) {
      add(`reveal-decodes:${r.hotkey}`, false, (err as Error).message);
      continue;
    }
    const report = reveal.signed.report;
    const hk = report.validatorHotkey;
    const hash = sha256Hex(reportBytes);
    hashOf.set(report, hash);
    const sig = verifyScoreReportBytes(reportBytes, reveal.signed.signature, hk);
    add(`report-signature:${hk}`, sig.ok, sig.ok ? undefined : sig.reason);
    add(`report-signer-is-member:${hk}`, memberSet.has(hk), memberSet.has(hk) ? undefined : 'not a permitted validator with enough stake at the run block');
    (byHotkey.get(hk) ?? byHotkey.set(hk, []).get(hk)!).push(hash);
    const c = x.commitments.get(hk);
    const opens = c !== undefined && reportCommitment(reveal.salt, reportBytes) === c.hash;
    if (!opens) uncommitted.push({ hotkey: hk, reportHash: hash, reason: c ? 'sha256(salt || report) is not the commitment on chain (another report, or a wrong salt)' : 'no commitment for this run on chain by the commit deadline' });
    if (sig.ok && opens && memberSet.has(hk)) opening.set(hash, { report, hotkey: hk });
  }
  const equivocations = [...byHotkey].filter(([, hs]) => new Set(hs).size > 1).map(([hk]) => hk);

  let cert: CertifiedRun | null = null;
  if (!x.certifiedRunHex) add('certificate-present', false, 'the source holds no certificate for this run');
  else {
    try {
      cert = decodeCertifiedRun(fromHex(x.certifiedRunHex, undefined, 'certified run'));
    } catch (err) {
      add('certificate-decodes', false, (err as Error).message);
    }
  }
  const d: Decision | null = cert?.certificate.decision ?? null;
  if (cert && d) {
    const sameRun = d.netuid === x.netuid && d.runId === x.runId;
    add('certificate-for-this-run', sameRun, sameRun ? undefined : `certificate is for netuid ${d.netuid} run ${d.runId}`);
    // every vote: a binding on this chain and subnet → a member at the run's block → stake → quorum
    const v = verifyCertifiedRun(cert, { netuid: x.netuid, genesisHash: x.genesisHash, members, threshold: x.rules.threshold }, nativeVerifier);
    add('certificate-votes-verify', v.ok, v.ok ? `${v.voters.length} votes, ${v.power} of ${v.total} stake (> ${x.rules.threshold.num}/${x.rules.threshold.den})` : v.reason);
  }
  if (d && x.rosterFrom === 'chain') {
    const same = d.rosterHash === x.rosterHash;
    add('roster-matches-chain', same, same ? undefined : `certified roster ${d.rosterHash} ≠ roster on chain at block ${x.runId} (${x.rosterHash})`);
  }
  const uncounted: AuditResult['uncounted'] = [];
  let incumbent: AuditResult['incumbent'] = { uid: null, from: 'unknown', previousRunId: null };
  const weights: AuditResult['weights'] = [];
  if (d) {
    // the counted set, rebuilt from the chain commitments
    const missing = d.reportHashes.filter((h) => !opening.has(h));
    add('certified-reports-open-commitments', missing.length === 0, missing.length ? `certificate counts report(s) the source cannot show opening an on-chain commitment: ${missing.join(', ')}` : undefined);
    const countedHotkeys = new Map(d.reportHashes.filter((h) => opening.has(h)).map((h) => [opening.get(h)!.hotkey, h]));
    const twice = d.reportHashes.length !== new Set(d.reportHashes.map((h) => opening.get(h)?.hotkey ?? h)).size;
    add('one-report-per-validator', !twice, twice ? 'the certificate counts two reports of one validator' : undefined);
    const openByHotkey = new Map([...opening.values()].map((o) => [o.hotkey, o]));
    for (const [hk, c] of x.commitments) {
      if (countedHotkeys.has(hk)) continue;
      const why = !memberSet.has(hk) ? 'not a member of the validator set at the run block'
        : d.excluded.includes(hk) ? 'excluded by the missed-reveals rule'
          : openByHotkey.has(hk) ? 'revealed (the source holds a reveal opening the commitment) but not counted: revealed late, or left out'
            : 'no reveal held by the source (not revealed, or not to this validator)';
      uncounted.push({ hotkey: hk, commitment: c.hash, reason: why });
    }
    // the incumbent, rebuilt from evidence
    let basis: IncumbentBasis | null = null;
    if (d.previous) {
      incumbent = { uid: null, from: 'previous-certificate', previousRunId: d.previous.runId };
      if (!x.previous) add('incumbent-from-previous-certificate', false, `the decision names certified run ${d.previous.runId}, which the source does not serve`);
      else {
        let prev: CertifiedRun | null = null;
        try {
          prev = decodeCertifiedRun(fromHex(x.previous.certifiedRunHex, undefined, 'previous certified run'));
        } catch (err) {
          add('incumbent-from-previous-certificate', false, `previous certified run does not decode: ${(err as Error).message}`);
        }
        if (prev) {
          const pv = verifyCertifiedRun(prev, { netuid: x.netuid, genesisHash: x.genesisHash, members: membersOf(x.previous.metagraph, x.rules.minStake), threshold: x.rules.threshold }, nativeVerifier);
          const ok = pv.ok && pv.runId === d.previous.runId && pv.decisionHash === d.previous.decisionHash;
          add('incumbent-from-previous-certificate', ok, ok ? undefined : pv.ok ? `the previous certificate is for run ${pv.runId} decision ${pv.decisionHash.slice(0, 12)}…, the decision names run ${d.previous.runId} decision ${d.previous.decisionHash.slice(0, 12)}…` : `previous certificate: ${pv.reason}`);
          if (ok) {
            basis = { previous: { ref: d.previous, decision: prev.certificate.decision }, chain: null };
            incumbent.uid = incumbentFromDecision(prev.certificate.decision, x.roster)?.uid ?? null;
          }
        }
      }
    } else {
      const chain = incumbentFromWeights(x.chainWeightsAtStart, members.reduce((s, m) => s + m.stake, 0n), x.rules.winner.burnUid, x.roster);
      incumbent = { uid: chain?.uid ?? null, from: 'chain-weights', previousRunId: null };
      basis = { previous: null, chain };
    }
    if (basis) {
      const ok = incumbent.uid === d.incumbentUid;
      add('incumbent-rebuilt', ok, ok ? undefined : `rebuilt incumbent ${incumbent.uid} (${incumbent.from}) ≠ the certified decision's ${d.incumbentUid}`);
      const { excluded } = countingPower({ members, basis, maxMissedReveals: x.rules.maxMissedReveals });
      const out = new Set(excluded);
      const counted = d.reportHashes.map((h) => opening.get(h)).filter((o): o is { report: ScoreReport; hotkey: string } => Boolean(o) && !out.has(o!.hotkey)).map((o) => o.report);
      const recomputed = decide(counted, members, x.roster, { netuid: x.netuid, runId: x.runId, rosterHash: x.rosterHash, policyHash: x.policyHash, hardwareClass: x.hardwareClass }, basis, x.rules, [...x.commitments.keys()], (r) => hashOf.get(r)!);
      const same = decisionHash(recomputed) === decisionHash(d);
      add('decision-recomputes', same, same ? undefined : describeDifference(recomputed, d));
    } else add('decision-recomputes', false, 'the incumbent could not be rebuilt, so the decision cannot be recomputed');
    for (const m of members) {
      const w = x.chainWeights.get(m.hotkey);
      if (!w || w.weights.length === 0) {
        weights.push({ hotkey: m.hotkey, block: null, match: null });
        continue;
      }
      // the chain keeps u16 weights scaled to the largest: compare shares (each side over its sum)
      const wantSum = d.weights.reduce((a, v) => a + v.weightPpm, 0) || 1;
      const want = new Map(d.weights.filter((v) => v.weightPpm > 0).map((v) => [v.uid, v.weightPpm / wantSum]));
      const haveSum = w.weights.reduce((a, v) => a + v.weight, 0) || 1;
      const ok = w.weights.every((v) => Math.abs((want.get(v.uid) ?? 0) - v.weight / haveSum) < 0.001) && w.weights.filter((v) => v.weight > 0).length === want.size;
      weights.push({ hotkey: m.hotkey, block: w.block, match: ok });
      add(`chain-weights-match:${m.hotkey}`, ok, ok ? `set at block ${w.block}` : `at block ${w.block}: on chain ${JSON.stringify(w.weights)} vs certified ${JSON.stringify([...want])}`);
    }
  }
  add('no-equivocation', equivocations.length === 0, equivocations.length ? equivocations.join(', ') : undefined);
  const failed = checks.filter((c) => !c.ok).map((c) => c.check);
  return { runId: x.runId, ok: failed.length === 0, checks, failed, equivocations, winner: d?.winnerUid ?? null, scores: d?.scores ?? [], uncounted, uncommitted, incumbent, weights };
}

function describeDifference(a: Decision, b: Decision): string {
  const parts: string[] = [];
  if (a.winnerUid !== b.winnerUid) parts.push(`winner ${a.winnerUid} vs certified ${b.winnerUid}`);
  if (JSON.stringify(a.scores) !== JSON.stringify(b.scores)) parts.push('scores differ');
  if (a.totalPower !== b.totalPower) parts.push(`counting power ${a.totalPower} vs ${b.totalPower}`);
  if (JSON.stringify(a.missedReveals) !== JSON.stringify(b.missedReveals)) parts.push('missed reveals differ');
  if (JSON.stringify(a.excluded) !== JSON.stringify(b.excluded)) parts.push('exclusions differ');
  if (a.incumbentUid !== b.incumbentUid) parts.push(`incumbent ${a.incumbentUid} vs ${b.incumbentUid}`);
  return `recomputed decision differs from the certified one: ${parts.join('; ') || 'encoding differs'}`;
}

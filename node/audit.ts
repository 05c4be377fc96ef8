// Re-verification of one run from a validator's published evidence and chain state alone.
// Pure core (`auditRun`) over fetched inputs; node/commands/audit.ts does the I/O.
import { decodeSignedScoreReport, scoreReportHash, verifySignedScoreReport, type ScoreReport } from '../proto/score-report.ts';
import { decodeCertificate, decisionHash, type Decision } from '../proto/consensus.ts';
import { verifyVoteSignature, nativeVerifier } from '../consensus/equivocation.ts';
import { fromHex, toHex } from '../proto/codec.ts';
import { rosterHash as computeRosterHash } from '../proto/roster.ts';
import type { Neuron } from '../consensus/validator-set.ts';
import type { RosterEntry } from '../proto/roster.ts';
import { decide, membersOf, type DecisionRules } from './validator/decision.ts';

export interface AuditInput {
  runId: number;
  netuid: number;
  roster: RosterEntry[];
  rosterHash: string;
  policyHash: string;
  hardwareClass: string;
  incumbent: number | null;
  reports: { hotkey: string; signedHex: string }[];
  certificateHex: string | null;
  /** metagraph at the run's start block */
  metagraph: Neuron[];
  /** on-chain score commitments for the run (hotkey → hash) */
  commitments: Map<string, { hash: string; block: number }>;
  /** weights set on chain by validators, hotkey → weights (uid, weight in [0,1]) */
  chainWeights: Map<string, { uid: number; weight: number }[]>;
  rules: DecisionRules;
  /**
   * 'chain' when the roster was derived by the auditor from chain state (multiaddr sources serve no run
   * metadata): the certified decision's rosterHash must then equal rosterHash(roster). Default 'source'.
   */
  rosterFrom?: 'chain' | 'source';
}

/** What a run-bundle source (p2p, `fetchRunBundle`) yields: raw signed reports and the certificate. */
export interface RunBundleEvidence {
  reports: Uint8Array[];
  certificate: Uint8Array | null;
}

/**
 * Audit inputs from a run bundle plus the roster the auditor derived from chain state (pure). The run's
 * context (policy hash, hardware class) comes from the certificate's decision — signed by the voters —
 * or, without a decodable certificate, from the first decodable report; the roster hash from the chain.
 */
export function evidenceFromBundle(bundle: RunBundleEvidence, chainRoster: RosterEntry[]): Pick<AuditInput, 'reports' | 'certificateHex' | 'roster' | 'rosterHash' | 'policyHash' | 'hardwareClass' | 'rosterFrom'> {
  const reports = bundle.reports.map((bytes, i) => {
    let hotkey = `undecodable-${i}`;
    try {
      hotkey = decodeSignedScoreReport(bytes).report.validatorHotkey;
    } catch {
      // auditRun reports it as report-decodes:<hotkey>
    }
    return { hotkey, signedHex: toHex(bytes) };
  });
  let ctx: { policyHash: string; hardwareClass: string } | null = null;
  if (bundle.certificate) {
    try {
      ctx = decodeCertificate(bundle.certificate).decision;
    } catch {
      // auditRun reports certificate-decodes
    }
  }
  if (!ctx) {
    for (const bytes of bundle.reports) {
      try {
        ctx = decodeSignedScoreReport(bytes).report;
        break;
      } catch {
        // next
      }
    }
  }
  return {
    reports, certificateHex: bundle.certificate ? toHex(bundle.certificate) : null,
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
}

export function auditRun(x: AuditInput): AuditResult {
  const checks: AuditCheck[] = [];
  const add = (check: string, ok: boolean, detail?: string) => checks.push({ check, ok, detail });
  const members = membersOf(x.metagraph, x.rules.minStake);
  const memberSet = new Set(members.map((m) => m.hotkey));
  const valid = new Map<string, ScoreReport>();
  const byHotkey = new Map<string, string[]>();
  for (const r of x.reports) {
    let signed;
    try {
      signed = decodeSignedScoreReport(fromHex(r.signedHex, undefined, 'report'));
    } catch (err) {
      add(`report-decodes:${r.hotkey}`, false, (err as Error).message);
      continue;
    }
    const hash = scoreReportHash(signed.report);
    const sig = verifySignedScoreReport(signed);
    add(`report-signature:${r.hotkey}`, sig.ok, sig.ok ? undefined : sig.reason);
    add(`report-signer-is-member:${r.hotkey}`, memberSet.has(signed.report.validatorHotkey), memberSet.has(signed.report.validatorHotkey) ? undefined : 'not a permitted validator with enough stake at the run block');
    const c = x.commitments.get(signed.report.validatorHotkey);
    const matches = c?.hash === hash;
    add(`report-matches-commitment:${r.hotkey}`, matches, matches ? undefined : c ? `report hash ${hash} ≠ committed ${c.hash}` : 'no commitment on chain');
    (byHotkey.get(signed.report.validatorHotkey) ?? byHotkey.set(signed.report.validatorHotkey, []).get(signed.report.validatorHotkey)!).push(hash);
    if (sig.ok && matches && memberSet.has(signed.report.validatorHotkey)) valid.set(hash, signed.report);
  }
  const equivocations = [...byHotkey].filter(([, hs]) => new Set(hs).size > 1).map(([hk]) => hk);

  let certDecision: Decision | null = null;
  if (!x.certificateHex) add('certificate-present', false, 'the source holds no certificate for this run');
  else {
    try {
      const cert = decodeCertificate(fromHex(x.certificateHex, undefined, 'certificate'));
      certDecision = cert.decision;
      const dh = decisionHash(cert.decision);
      const badVotes = cert.votes.filter((v) => v.decisionHash !== dh || v.runId !== x.runId || !verifyVoteSignature(v, nativeVerifier));
      add('certificate-votes-verify', badVotes.length === 0 && cert.phase === 'commit', badVotes.length ? `${badVotes.length} vote(s) fail` : undefined);
    } catch (err) {
      add('certificate-decodes', false, (err as Error).message);
    }
  }
  if (certDecision && x.rosterFrom === 'chain') {
    const same = certDecision.rosterHash === x.rosterHash;
    add('roster-matches-chain', same, same ? undefined : `certified roster ${certDecision.rosterHash} ≠ roster on chain at block ${x.runId} (${x.rosterHash})`);
  }
  if (certDecision) {
    const missing = certDecision.reportHashes.filter((h) => !valid.has(h));
    add('certified-reports-valid', missing.length === 0, missing.length ? `certificate counts report(s) that are missing, unsigned or uncommitted: ${missing.join(', ')}` : undefined);
    const counted = certDecision.reportHashes.map((h) => valid.get(h)).filter((r): r is ScoreReport => Boolean(r));
    const recomputed = decide(counted, members, x.roster, { netuid: x.netuid, runId: x.runId, rosterHash: x.rosterHash, policyHash: x.policyHash, hardwareClass: x.hardwareClass }, certDecision.incumbentUid, x.rules);
    const same = decisionHash(recomputed) === decisionHash(certDecision);
    add('decision-recomputes', same, same ? undefined : `recomputed winner ${recomputed.winnerUid} / scores differ from the certified decision (winner ${certDecision.winnerUid})`);
    for (const [hk, w] of x.chainWeights) {
      if (!memberSet.has(hk) || w.length === 0) continue;
      // the chain keeps u16 weights scaled to the largest: compare shares (each side over its sum)
      const wantSum = certDecision.weights.reduce((a, v) => a + v.weightPpm, 0) || 1;
      const want = new Map(certDecision.weights.filter((v) => v.weightPpm > 0).map((v) => [v.uid, v.weightPpm / wantSum]));
      const haveSum = w.reduce((a, v) => a + v.weight, 0) || 1;
      const ok = w.every((v) => Math.abs((want.get(v.uid) ?? 0) - v.weight / haveSum) < 0.001) && w.filter((v) => v.weight > 0).length === want.size;
      add(`chain-weights-match:${hk}`, ok, ok ? undefined : `on chain ${JSON.stringify(w)} vs certified ${JSON.stringify([...want])}`);
    }
  }
  add('no-equivocation', equivocations.length === 0, equivocations.length ? equivocations.join(', ') : undefined);
  const failed = checks.filter((c) => !c.ok).map((c) => c.check);
  return { runId: x.runId, ok: failed.length === 0, checks, failed, equivocations, winner: certDecision?.winnerUid ?? null, scores: certDecision?.scores ?? [] };
}

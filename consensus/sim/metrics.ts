// The simulator's checks and figures: what each run is checked for once its event loop ends (safety:
// one decision among honest members; liveness; the outcome against the honest reports), and the
// result's summary figures (messages, verifications, latency percentiles, CPU per member).
import type { Decision } from '../../proto/consensus.ts';
import type { ScoreReport } from '../../proto/score-report.ts';
import type { RosterSlot, RunContext } from '../aggregate.ts';
import type { SimOptions, SimResult } from './options.ts';
import { clearlyBeaten, closeRace, scoresOutsideHonestRange } from './outcome.ts';
import type { MemoVerifier } from './verifier.ts';

/** What one run left behind, for its checks. */
export interface RunCheck {
  run: number;
  /** the run's consensus start (virtual ms) */
  t0: number;
  honest: readonly number[];
  /** per member: when it decided (-1: it did not) and the decision hash */
  decidedAt: readonly number[];
  decidedHash: readonly (string | null)[];
  /** per member: its view when the loop ended */
  views: readonly number[];
  /** the honest member started without its latest certificate (it held one), or -1 */
  staleVictim: number;
  /** the decision the honest members reached (the first one seen) */
  decision: Decision | null;
  honestReports: readonly { report: ScoreReport; hash: string; hotkey: string; power: bigint }[];
  context: RunContext;
  roster: readonly RosterSlot[];
  uids: readonly number[];
  opts: SimOptions;
}

/** Counts one run's safety, liveness and outcome into `res`; the honest members' latencies go to `latencies`. */
export function checkRun(res: SimResult, x: RunCheck, latencies: number[]): void {
  const { run, t0, honest, decidedAt, decidedHash, views, staleVictim, decision, honestReports, context, roster, uids, opts } = x;
  const hashes = new Set(honest.map((h) => decidedHash[h]).filter((h): h is string => h !== null));
  if (hashes.size > 1) {
    res.safetyViolations++;
    if (res.violations.length < 10) res.violations.push({ run, hashes: [...hashes] });
  }
  if (honest.some((h) => decidedAt[h] < 0)) res.livenessFailures++;
  else res.decided++;
  if (staleVictim >= 0 && decidedAt[staleVictim] >= 0) res.staleMembersCertified++;
  for (const h of honest) if (decidedAt[h] >= 0) latencies.push(decidedAt[h] - t0);
  for (const h of honest) res.maxView = Math.max(res.maxView, views[h]);
  if (honest.some((h) => views[h] > 0)) res.viewChangesRuns++;
  const d = decision;
  if (d) {
    if (d.outcome === 'hold') res.holds++;
    const hr = honestReports.map((x) => x.report);
    res.scoreOutsideHonestRange += scoresOutsideHonestRange(d, hr);
    if (clearlyBeaten(d, hr, opts.policy, uids, opts.threshold) !== null) {
      res.winnerChangedByByzantine++;
      if (res.clearRacesFlippedRuns.length < 10) res.clearRacesFlippedRuns.push(run);
    }
    const cr = closeRace(d, honestReports, { context, roster, threshold: opts.threshold, policy: opts.policy });
    if (cr.close) {
      res.closeRaces++;
      if (cr.flipped) res.closeRacesFlipped++;
    }
  }
}

/** The result's summary figures, once every run is done. */
export function summarize(res: SimResult, x: { verifier: MemoVerifier; latencies: number[]; cpuUs: readonly number[]; validators: number; runs: number }): void {
  const { verifier, latencies, cpuUs, validators, runs } = x;
  res.closeRaceFlipShare = res.closeRaces ? round(res.closeRacesFlipped / res.closeRaces) : 0;
  const vs = verifier.stats;
  res.signatureVerifications = vs.sr25519 + vs.ed25519;
  res.sr25519Verifications = vs.sr25519;
  res.ed25519Verifications = vs.ed25519;
  res.realVerifications = vs.realSr25519 + vs.realEd25519;
  res.verificationsPerMemberPerRun = round(res.signatureVerifications / (validators * runs));
  res.messagesPerRun = round(res.messages / runs);
  latencies.sort((a, b) => a - b);
  res.simulatedLatencyMs = { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)), max: round(latencies[latencies.length - 1] ?? 0) };
  const perMember = cpuUs.map((us, i) => (us / 1000 + verifier.chargedMs[i]) / runs);
  res.cpuMsPerMember = round(perMember.reduce((s, x) => s + x, 0) / validators);
  res.cpuMsPerMemberMax = round(Math.max(...perMember));
  res.verifyCostMs = { sr25519: round(verifier.meanSrMs()), ed25519: round(verifier.meanEdMs()) };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

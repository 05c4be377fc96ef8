// Aggregation of counted score reports into per-miner consensus scores.
//
// Which entries vote: 'scored' votes its score; a verdict that the submission failed
// ('rejected-static', 'rejected-runtime', 'duplicate', 'timeout') votes 0; 'quarantined',
// 'fetch-failed' and 'not-evaluated' abstain (the validator has no verdict, e.g. its download failed).
// A miner gets a consensus score only if the reports that vote on it hold > threshold of the
// COUNTED voting power (the stake of the counted reports, not of the whole validator set: a member
// that did not report cannot veto a miner by its absence); the score is the stake-weighted lower
// median of those votes. With Byzantine stake below 1/3 of the counted stake, an abstaining
// coalition cannot veto a miner every honest counted report votes on, and the median stays within
// the honest votes (the voters then hold > 2/3 of the counted stake, so honest voters outweigh them).
import type { ScoreReport, ScoreStatus } from '../proto/score-report.ts';
import { weightedLowerMedian } from './median.ts';
import { meetsThreshold, type Threshold } from './validator-set.ts';

/** Everything a report must agree on to be counted in a run (issue "Foundation": run, roster, policy). */
export interface RunContext {
  netuid: number;
  runId: number;
  rosterHash: string;
  policyHash: string;
  /** The policy pins the hardware class; reports measured on another class are not mixed in. */
  hardwareClass: string;
}

/** The roster fields consensus needs (a projection of proto/roster.ts RosterEntry). */
export interface RosterSlot {
  uid: number;
  minerHotkey: string;
  codeSha256: string;
  commitBlock: number;
}

/** Statuses that abstain: the status names the reason (no verdict: quarantined, download failed, not evaluated). */
export const ABSTAIN_STATUSES: ReadonlySet<ScoreStatus> = new Set(['quarantined', 'fetch-failed', 'not-evaluated']);

export const VOTING_STATUSES: ReadonlySet<ScoreStatus> = new Set(['scored', 'rejected-static', 'rejected-runtime', 'duplicate', 'timeout']);

/** Why a report cannot be counted in this run, or null when it fits. Signature is checked elsewhere. */
export function reportMismatch(report: ScoreReport, ctx: RunContext, roster: ReadonlyMap<number, RosterSlot>): string | null {
  if (report.netuid !== ctx.netuid) return `report is for netuid ${report.netuid}, this run is netuid ${ctx.netuid}`;
  if (report.runId !== ctx.runId) return `report is for run ${report.runId}, this run is ${ctx.runId} (stale or replayed)`;
  if (report.rosterHash !== ctx.rosterHash) return `report roster hash ${report.rosterHash.slice(0, 12)}… differs from the run's ${ctx.rosterHash.slice(0, 12)}…`;
  if (report.policyHash !== ctx.policyHash) return `report policy hash ${report.policyHash.slice(0, 12)}… differs from the run's ${ctx.policyHash.slice(0, 12)}…`;
  if (report.hardwareClass !== ctx.hardwareClass) return `report measured on hardware class ${report.hardwareClass}, the policy pins ${ctx.hardwareClass}`;
  for (const e of report.entries) {
    const slot = roster.get(e.uid);
    if (!slot) return `report scores uid ${e.uid}, which is not in the run's roster`;
    if (slot.minerHotkey !== e.minerHotkey || slot.codeSha256 !== e.codeSha256) return `report entry for uid ${e.uid} names a different miner hotkey or code hash than the roster`;
  }
  return null;
}

export interface CountedReport {
  report: ScoreReport;
  power: bigint;
}

export interface MinerConsensus {
  uid: number;
  /** null: the voting reports hold too little power (no consensus score). */
  score: number | null;
  votingPower: bigint;
}

export function aggregateScores(counted: readonly CountedReport[], countedPower: bigint, threshold: Threshold): MinerConsensus[] {
  const votes = new Map<number, { value: number; weight: bigint }[]>();
  for (const { report, power } of counted) {
    for (const e of report.entries) {
      if (!VOTING_STATUSES.has(e.status)) continue;
      let list = votes.get(e.uid);
      if (!list) votes.set(e.uid, (list = []));
      list.push({ value: e.status === 'scored' ? e.score : 0, weight: power });
    }
  }
  const out: MinerConsensus[] = [];
  for (const uid of [...votes.keys()].sort((a, b) => a - b)) {
    const list = votes.get(uid)!;
    const votingPower = list.reduce((s, v) => s + v.weight, 0n);
    const score = meetsThreshold(votingPower, countedPower, threshold) ? weightedLowerMedian(list) : null;
    out.push({ uid, score, votingPower });
  }
  return out;
}

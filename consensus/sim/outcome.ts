// What the simulator checks of a certified decision against the honest validators' reports:
//   - median bound: a consensus score outside the range of the honest votes on that miner;
//   - clear race flipped: every honest validator scored some miner A above the certified winner B
//     (above B x (1 + margin) when B is the incumbent, which keeps the crown within the margin), yet B
//     was certified: the Byzantine members changed the winner. "No winner" (everything to the burn
//     uid) with the quorum met counts as B when every honest validator scored A above zero. Must be 0
//     with f < n/3;
//   - close race: the honest reports do not all order the honest winner above its runner-up; flipped
//     when the certified winner differs from the decision of the honest reports alone (Byzantine
//     votes may legitimately move a median within the honest range: reported as a share).
import type { Decision } from '../../proto/consensus.ts';
import type { ScoreReport } from '../../proto/score-report.ts';
import { VOTING_STATUSES, type RosterSlot, type RunContext } from '../aggregate.ts';
import { computeDecision } from '../decision.ts';
import { meetsThreshold, type Threshold } from '../validator-set.ts';
import { PPM, type WinnerPolicy } from '../winner.ts';

/** A report's vote on a miner: its score, 0 for a verdict, undefined when it abstains. */
export function voteOf(r: ScoreReport, uid: number): number | undefined {
  const e = r.entries.find((x) => x.uid === uid);
  if (!e || !VOTING_STATUSES.has(e.status)) return undefined;
  return e.status === 'scored' ? e.score : 0;
}

export function scoresOutsideHonestRange(d: Decision, honest: readonly ScoreReport[]): number {
  let out = 0;
  for (const s of d.scores) {
    const votes = honest.map((r) => voteOf(r, s.uid)).filter((v): v is number => v !== undefined);
    if (votes.length && (s.score < Math.min(...votes) || s.score > Math.max(...votes))) out++;
  }
  return out;
}

/** A miner every honest report scored above the certified winner (with the incumbent's margin), or null. */
export function clearlyBeaten(d: Decision, honest: readonly ScoreReport[], policy: WinnerPolicy, uids: readonly number[], threshold: Threshold): number | null {
  const b = d.winnerUid;
  if (honest.length === 0) return null;
  if (b === null) {
    // nothing crowned although the quorum was met: a miner every honest validator scored was kept out
    if (!meetsThreshold(d.countedPower, d.totalPower, threshold)) return null;
    for (const a of uids) {
      if (a === policy.burnUid) continue;
      if (honest.every((r) => (voteOf(r, a) ?? 0) > 0)) return a;
    }
    return null;
  }
  const margin = b === d.incumbentUid ? BigInt(PPM + policy.dethroneMarginPpm) : BigInt(PPM);
  for (const a of uids) {
    if (a === b || a === policy.burnUid) continue;
    const beats = honest.every((r) => {
      const va = voteOf(r, a);
      const vb = voteOf(r, b);
      return va !== undefined && vb !== undefined && BigInt(va) * BigInt(PPM) > BigInt(vb) * margin;
    });
    if (beats) return a;
  }
  return null;
}

export interface CloseRace {
  close: boolean;
  flipped: boolean;
  honestWinner: number | null;
}

/** Compares the certified winner with the decision of the honest reports alone (same incumbent and rules). */
export function closeRace(d: Decision, honest: readonly { report: ScoreReport; hash: string; hotkey: string; power: bigint }[], x: { context: RunContext; roster: readonly RosterSlot[]; threshold: Threshold; policy: WinnerPolicy }): CloseRace {
  if (honest.length === 0) return { close: false, flipped: false, honestWinner: null };
  const incumbent = d.incumbentUid === null ? null : x.roster.find((r) => r.uid === d.incumbentUid);
  const hd = computeDecision(
    {
      context: x.context, roster: x.roster, members: honest.map((h) => ({ hotkey: h.hotkey, stake: h.power })), threshold: x.threshold, policy: x.policy,
      basis: { previous: null, chain: incumbent ? { uid: incumbent.uid, hotkey: incumbent.minerHotkey } : null }, committed: [], maxMissedReveals: 0,
    },
    honest.map((h) => ({ report: h.report, hash: h.hash, power: h.power })),
  );
  const w = hd.winnerUid;
  const runnerUp = hd.scores.filter((s) => s.uid !== w && s.uid !== x.policy.burnUid).sort((a, b) => b.score - a.score)[0]?.uid;
  if (w === null || runnerUp === undefined) return { close: false, flipped: d.winnerUid !== w, honestWinner: w };
  const unanimous = honest.every((h) => {
    const vw = voteOf(h.report, w);
    const vr = voteOf(h.report, runnerUp);
    return vw !== undefined && vr !== undefined && vw > vr;
  });
  return { close: !unanimous, flipped: d.winnerUid !== w, honestWinner: w };
}

// The per-validator record of a run (pure): who committed by the commit deadline, who revealed on
// time, late, not at all or with a reveal that does not open the commitment, who was counted or
// excluded, the missed-reveal streak, and each report's abstentions by reason. Built when consensus
// starts (this node's view) and completed from the certified decision.
import { ABSTAIN_STATUSES, VOTING_STATUSES } from '../../consensus/aggregate.ts';
import type { Decision } from '../../proto/consensus.ts';
import type { ScoreReport } from '../../proto/score-report.ts';
import type { ParticipationRow } from './store.ts';

export interface HeldReveal {
  report: ScoreReport;
  reportHash: string;
  /** the reveal opens its author's on-chain commitment */
  opens: boolean;
  /** block at which this node received it (its own: when it published) */
  receivedAt: number | null;
}

export function participationOf(x: {
  members: { uid: number; hotkey: string; stake: bigint }[];
  commitments: Map<string, { hash: string; block: number }>;
  reveals: Map<string, HeldReveal>;
  revealEnd: number;
  decision?: Pick<Decision, 'reportHashes' | 'missedReveals' | 'excluded'> | null;
}): ParticipationRow[] {
  const counted = new Set(x.decision?.reportHashes ?? []);
  const streak = new Map((x.decision?.missedReveals ?? []).map((m) => [m.hotkey, m.streak]));
  const excluded = new Set(x.decision?.excluded ?? []);
  return x.members.map((m) => {
    const c = x.commitments.get(m.hotkey);
    const r = x.reveals.get(m.hotkey);
    let revealed: ParticipationRow['revealed'] = 'none';
    if (r && !r.opens) revealed = 'mismatch';
    else if (r) revealed = r.receivedAt !== null && r.receivedAt >= x.revealEnd ? 'late' : 'on-time';
    const abstained: Record<string, number> = {};
    let voted = 0;
    for (const e of r?.report.entries ?? []) {
      if (VOTING_STATUSES.has(e.status)) voted++;
      else if (ABSTAIN_STATUSES.has(e.status)) abstained[e.status] = (abstained[e.status] ?? 0) + 1;
    }
    return {
      hotkey: m.hotkey,
      uid: m.uid,
      stake: m.stake.toString(),
      committedAt: c?.block ?? null,
      revealed,
      revealedAt: r?.receivedAt ?? null,
      counted: r ? counted.has(r.reportHash) : false,
      excluded: excluded.has(m.hotkey),
      missedStreak: streak.get(m.hotkey) ?? 0,
      abstained,
      voted,
    };
  });
}

/** Per-validator totals over several runs (newest first): commitments, reveals by kind, counted runs, abstained entries. */
export function participationSummary(runs: { runId: number; participation?: ParticipationRow[] }[]) {
  const out = new Map<string, { hotkey: string; uid: number; runs: number; committed: number; onTime: number; late: number; none: number; mismatch: number; counted: number; excluded: number; abstainedEntries: number; votedEntries: number; lastStreak: number }>();
  for (const run of runs) {
    for (const p of run.participation ?? []) {
      let o = out.get(p.hotkey);
      if (!o) out.set(p.hotkey, (o = { hotkey: p.hotkey, uid: p.uid, runs: 0, committed: 0, onTime: 0, late: 0, none: 0, mismatch: 0, counted: 0, excluded: 0, abstainedEntries: 0, votedEntries: 0, lastStreak: p.missedStreak }));
      o.runs++;
      if (p.committedAt !== null) o.committed++;
      if (p.revealed === 'on-time') o.onTime++;
      else if (p.revealed === 'late') o.late++;
      else if (p.revealed === 'mismatch') o.mismatch++;
      else if (p.committedAt !== null) o.none++;
      if (p.counted) o.counted++;
      if (p.excluded) o.excluded++;
      o.abstainedEntries += Object.values(p.abstained).reduce((a, b) => a + b, 0);
      o.votedEntries += p.voted;
    }
  }
  return [...out.values()].sort((a, b) => a.uid - b.uid);
}

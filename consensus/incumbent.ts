// The incumbent of a run — the miner that keeps the crown unless beaten by the dethrone margin — is
// derived from agreed evidence only, never from a node's local memory:
//   - from the latest certified run before this one (its decision names the winner uid and the
//     winner's miner hotkey; the member holds or fetches a commit certificate for it), or
//   - when no certified run is known: from the validators' weights on chain at the run's start block.
// Either way the uid must still belong to the same miner in this run's roster (uids are recycled).
import type { Decision } from '../proto/consensus.ts';
import type { RosterSlot } from './aggregate.ts';

export interface IncumbentRef {
  uid: number;
  hotkey: string;
}

/** The winner a certified decision hands on, if its uid still holds the same miner in `roster`. */
export function incumbentFromDecision(previous: Decision, roster: readonly RosterSlot[]): IncumbentRef | null {
  if (previous.winnerUid === null || previous.winnerHotkey === null) return null;
  const slot = roster.find((r) => r.uid === previous.winnerUid);
  return slot && slot.minerHotkey === previous.winnerHotkey ? { uid: slot.uid, hotkey: slot.minerHotkey } : null;
}

/** A member's weights as read from chain at the run's start block (u16 or shares: only the argmax matters). */
export interface ChainWeightsRow {
  hotkey: string;
  stake: bigint;
  weights: readonly { uid: number; weight: number }[];
}

/**
 * The incumbent on chain: the non-burn uid that is the top weight (among non-burn uids) of members
 * holding more than half of the validator set's stake. Unique by construction; null when no uid has
 * such a majority (e.g. the validators disagree, or most set no weights yet) or when the uid does not
 * hold a roster slot. A Byzantine minority (< 1/2 of stake) cannot name it.
 */
export function incumbentFromWeights(rows: readonly ChainWeightsRow[], totalStake: bigint, burnUid: number, roster: readonly RosterSlot[]): IncumbentRef | null {
  if (totalStake <= 0n) return null;
  const support = new Map<number, bigint>();
  for (const row of rows) {
    let top: { uid: number; weight: number } | null = null;
    for (const w of row.weights) {
      if (w.uid === burnUid || !(w.weight > 0)) continue;
      if (!top || w.weight > top.weight || (w.weight === top.weight && w.uid < top.uid)) top = w;
    }
    if (top) support.set(top.uid, (support.get(top.uid) ?? 0n) + row.stake);
  }
  for (const [uid, stake] of support) {
    if (stake * 2n <= totalStake) continue;
    const slot = roster.find((r) => r.uid === uid);
    return slot ? { uid, hotkey: slot.minerHotkey } : null;
  }
  return null;
}

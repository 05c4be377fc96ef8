// Stake-weighted median.
//
// Definition (lower weighted median): sort the votes by value ascending; with W the total weight,
// the median is the first value v_k whose cumulative weight satisfies 2 * sum_{i<=k} w_i >= W.
// Equal values are interchangeable, so the result does not depend on the order of ties.
// Property used by the proofs and tests: if the weight of dishonest votes is < W/2, the median lies
// within [min, max] of the honest values (a dishonest-only prefix cannot reach W/2, and the honest
// votes up to the honest maximum already exceed W/2).

export interface WeightedVote {
  value: number;
  weight: bigint;
}

export function weightedLowerMedian(votes: readonly WeightedVote[]): number | null {
  const live = votes.filter((v) => v.weight > 0n);
  if (live.length === 0) return null;
  const sorted = [...live].sort((a, b) => a.value - b.value);
  const total = sorted.reduce((s, v) => s + v.weight, 0n);
  let cum = 0n;
  for (const v of sorted) {
    cum += v.weight;
    if (2n * cum >= total) return v.value;
  }
  return sorted[sorted.length - 1].value; // unreachable: cum reaches total
}

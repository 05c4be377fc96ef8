// Duplicate and near-duplicate decisions (PRISM). Pure: given a candidate's print and the prints of
// earlier commitments, decide `duplicate` (exact normalised copy: the first committer keeps it),
// `quarantined` (similarity at or above the threshold: counts for nothing until an operator
// resolves it) or `allowed`.
import type { CodePrint, Span } from './fingerprint.ts';
import { compare } from './fingerprint.ts';

/** Containment similarity at or above which a submission is quarantined. Unrelated legitimate
 * training loops written from the same contract score up to ~0.66 (test/intake/legit corpus). */
export const DEFAULT_QUARANTINE_THRESHOLD = 0.8;

export interface SubmissionPrint {
  uid: number;
  minerHotkey: string;
  codeSha256: string;
  commitBlock: number;
  print: CodePrint;
}

export interface PriorRef { uid: number; minerHotkey: string; codeSha256: string; commitBlock: number }

export type DuplicateDecision =
  | { status: 'allowed'; bestSimilarity: number; closest?: PriorRef }
  | { status: 'duplicate'; of: PriorRef; similarity: 1; reason: 'identical-normalised-ast' | 'operator-rejected' }
  | { status: 'quarantined'; of: PriorRef; similarity: number; candidateSpans: Span[]; priorSpans: Span[] };

export function refOf(p: SubmissionPrint): PriorRef {
  return { uid: p.uid, minerHotkey: p.minerHotkey, codeSha256: p.codeSha256, commitBlock: p.commitBlock };
}

/** True when `a` was committed before `b` (block, then hotkey as a deterministic tie-break). */
export function committedBefore(a: PriorRef, b: PriorRef): boolean {
  if (a.commitBlock !== b.commitBlock) return a.commitBlock < b.commitBlock;
  return a.minerHotkey < b.minerHotkey;
}

export function classifySubmission(candidate: SubmissionPrint, priors: SubmissionPrint[],
  threshold = DEFAULT_QUARANTINE_THRESHOLD): DuplicateDecision {
  if (!(threshold > 0 && threshold <= 1)) throw new RangeError(`quarantine threshold must be in (0, 1], got ${threshold}`);
  const earlier = priors
    .filter((p) => p.minerHotkey !== candidate.minerHotkey && committedBefore(p, candidate))
    .sort((a, b) => (committedBefore(a, b) ? -1 : committedBefore(b, a) ? 1 : 0));
  const exact = earlier.find((p) => p.print.normHash === candidate.print.normHash);
  if (exact) return { status: 'duplicate', of: refOf(exact), similarity: 1, reason: 'identical-normalised-ast' };
  let best: { prior: SubmissionPrint; sim: number; cmp: ReturnType<typeof compare> } | undefined;
  for (const p of earlier) {
    const cmp = compare(candidate.print, p.print);
    if (!best || cmp.similarity > best.sim) best = { prior: p, sim: cmp.similarity, cmp };
  }
  if (best && best.sim >= threshold) {
    return { status: 'quarantined', of: refOf(best.prior), similarity: best.sim,
      candidateSpans: best.cmp.candidateSpans, priorSpans: best.cmp.priorSpans };
  }
  return best ? { status: 'allowed', bestSimilarity: best.sim, closest: refOf(best.prior) } : { status: 'allowed', bestSimilarity: 0 };
}

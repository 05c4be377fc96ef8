// PRISM-style code fingerprints over the reviewer's normalised token stream (CPython ast, with
// identifiers, literals, comments and formatting removed). Pure functions:
// - normalisedHash: exact structural identity (a renamed-variable copy hashes the same);
// - winnow: k-gram hashes, then the minimum of every window of w consecutive k-grams (Schleimer,
//   Wilkerson, Aiken 2003), each kept with the source lines it covers;
// - compare: containment similarity and the matching line spans on both sides.
import { createHash } from 'node:crypto';
import type { TokenStream } from './review.ts';

export interface WinnowParams { k: number; w: number }
/** k = 15 tokens is about one short statement of normalised AST; w = 8 guarantees any match of 22+ tokens is seen. */
export const DEFAULT_WINNOW: WinnowParams = { k: 15, w: 8 };

export interface Fingerprint { hash: number; startLine: number; endLine: number }
export interface CodePrint { normHash: string; tokenCount: number; fingerprints: Fingerprint[] }

export interface Span { fromLine: number; toLine: number }
/** Lines of the candidate that match the prior, and the prior's lines they match (merged ranges). */
export interface Comparison { similarity: number; shared: number; candidateSpans: Span[]; priorSpans: Span[] }

export function normalisedHash(stream: TokenStream): string {
  return createHash('sha256').update(stream.tokens.join(' ')).digest('hex');
}

function fnv1a(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export function winnow(stream: TokenStream, params: WinnowParams = DEFAULT_WINNOW): Fingerprint[] {
  const { k, w } = params;
  const { tokens, lines } = stream;
  if (tokens.length === 0) return [];
  const tokenHashes = tokens.map((t) => fnv1a(t));
  const grams: Fingerprint[] = [];
  const count = Math.max(1, tokens.length - k + 1);
  for (let i = 0; i < count; i++) {
    let h = 0x811c9dc5;
    let lo = Infinity;
    let hi = -Infinity;
    for (let j = i; j < Math.min(i + k, tokens.length); j++) {
      h = Math.imul(h ^ tokenHashes[j], 0x01000193) >>> 0;
      lo = Math.min(lo, lines[j]);
      hi = Math.max(hi, lines[j]);
    }
    grams.push({ hash: h, startLine: lo, endLine: hi });
  }
  if (grams.length <= w) {
    let best = 0;
    for (let i = 1; i < grams.length; i++) if (grams[i].hash <= grams[best].hash) best = i;
    return [grams[best]];
  }
  const picked: Fingerprint[] = [];
  let last = -1;
  for (let start = 0; start + w <= grams.length; start++) {
    let best = start;
    for (let i = start + 1; i < start + w; i++) if (grams[i].hash <= grams[best].hash) best = i;
    if (best !== last) {
      picked.push(grams[best]);
      last = best;
    }
  }
  return picked;
}

export function codePrint(stream: TokenStream, params: WinnowParams = DEFAULT_WINNOW): CodePrint {
  return { normHash: normalisedHash(stream), tokenCount: stream.tokens.length, fingerprints: winnow(stream, params) };
}

function mergeSpans(spans: Span[]): Span[] {
  const sorted = [...spans].sort((a, b) => a.fromLine - b.fromLine || a.toLine - b.toLine);
  const out: Span[] = [];
  for (const s of sorted) {
    const prev = out[out.length - 1];
    if (prev && s.fromLine <= prev.toLine + 1) prev.toLine = Math.max(prev.toLine, s.toLine);
    else out.push({ ...s });
  }
  return out;
}

/**
 * Containment of the candidate in the prior: the share of the candidate's distinct fingerprint hashes
 * that also occur in the prior (1.0 = everything the candidate does, the prior already did).
 */
export function compare(candidate: CodePrint, prior: CodePrint): Comparison {
  const priorByHash = new Map<number, Fingerprint[]>();
  for (const f of prior.fingerprints) {
    const list = priorByHash.get(f.hash) ?? [];
    list.push(f);
    priorByHash.set(f.hash, list);
  }
  const candHashes = new Set(candidate.fingerprints.map((f) => f.hash));
  let shared = 0;
  for (const h of candHashes) if (priorByHash.has(h)) shared++;
  const candSpans: Span[] = [];
  const priorSpans: Span[] = [];
  for (const f of candidate.fingerprints) {
    const matches = priorByHash.get(f.hash);
    if (!matches) continue;
    candSpans.push({ fromLine: f.startLine, toLine: f.endLine });
    for (const m of matches) priorSpans.push({ fromLine: m.startLine, toLine: m.endLine });
  }
  return {
    similarity: candHashes.size === 0 ? 0 : shared / candHashes.size,
    shared,
    candidateSpans: mergeSpans(candSpans).slice(0, 64),
    priorSpans: mergeSpans(priorSpans).slice(0, 64),
  };
}

// The consensus session's persisted state, as the store keeps it: the PBFT reducer state in parts
// (consensus/pbft/state.ts StateParts) so that a persist writes only what changed since the previous
// one. The adapter (consensus-adapter.ts) makes the deltas; the store (store.ts) keeps the parts
// under separate keys and merges them back on resume.

/** What a session resumes from: the reducer state in parts (consensus/pbft/state.ts StateParts) and its timers. */
export interface PersistedConsensus {
  v: 2;
  core: string;
  timers: Record<string, number>;
  setup: string;
  reports: Record<string, string>;
}

/**
 * What one persist hands the store: the core and timers always, the setup and report entries only when
 * they are new or replaced since the previous persist of this session. The store keeps the parts under
 * separate keys and returns them merged (`mergeConsensusDelta` is the same rule in memory).
 */
export interface ConsensusDelta {
  v: 2;
  delta: true;
  core: string;
  timers: Record<string, number>;
  setup?: string;
  reports: Record<string, string>;
}

export function isConsensusDelta(x: unknown): x is ConsensusDelta {
  return typeof x === 'object' && x !== null && (x as ConsensusDelta).v === 2 && (x as ConsensusDelta).delta === true && typeof (x as ConsensusDelta).core === 'string';
}

/** Folds a delta into what was persisted before it (null: nothing yet). A first delta carries the setup. */
export function mergeConsensusDelta(prev: PersistedConsensus | null | undefined, d: ConsensusDelta): PersistedConsensus {
  const setup = d.setup ?? prev?.setup;
  if (setup === undefined) throw new Error('consensus state delta without a setup, and none persisted before it');
  return { v: 2, core: d.core, timers: d.timers, setup, reports: { ...(prev?.reports ?? {}), ...d.reports } };
}

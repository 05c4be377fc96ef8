// PBFT reducer, the context of one step: the state, the time, the env, the outputs collected so far,
// and lookups derived from the run setup (not persisted; cached per setup object).
import { encodeMessage, type ConsensusMessage } from '../../proto/consensus.ts';
import type { RosterSlot } from '../aggregate.ts';
import { meetsThreshold, proposerOrder } from '../validator-set.ts';
import type { DecisionRules, IncumbentBasis } from '../decision.ts';
import type { Env, Output, PbftState, RunSetup } from './state.ts';

export interface Derived {
  byNodeKey: Map<string, number>;
  byHotkey: Map<string, number>;
  roster: Map<number, RosterSlot>;
  total: bigint;
  order: number[];
  committed: string[];
}

const derivedCache = new WeakMap<RunSetup, Derived>();

function derived(setup: RunSetup): Derived {
  let d = derivedCache.get(setup);
  if (!d) {
    d = {
      byNodeKey: new Map(setup.members.map((m, i) => [m.nodeKey, i])),
      byHotkey: new Map(setup.members.map((m, i) => [m.hotkey, i])),
      roster: new Map(setup.roster.map((r) => [r.uid, r])),
      total: setup.members.reduce((s, m) => s + m.stake, 0n),
      order: proposerOrder(setup.members.length, setup.context.runId, setup.seed),
      committed: setup.commitments === null ? [] : Object.keys(setup.commitments),
    };
    derivedCache.set(setup, d);
  }
  return d;
}

export class Ctx {
  s: PbftState;
  now: number;
  env: Env;
  out: Output[] = [];
  d: Derived;
  constructor(s: PbftState, now: number, env: Env) {
    this.s = s;
    this.now = now;
    this.env = env;
    this.d = derived(s.setup);
  }
  get setup(): RunSetup {
    return this.s.setup;
  }
  get self(): number {
    return this.s.setup.selfIndex;
  }
  proposerOf(view: number): number {
    return this.d.order[view % this.d.order.length];
  }
  power(indices: Iterable<number>): bigint {
    let p = 0n;
    for (const i of indices) p += this.setup.members[i].stake;
    return p;
  }
  quorum(indices: Iterable<number>): boolean {
    return meetsThreshold(this.power(indices), this.d.total, this.setup.threshold);
  }
  /** More than the complement of the threshold (f+1 by stake): at least one honest member among them. */
  weakQuorum(indices: Iterable<number>): boolean {
    const t = this.setup.threshold;
    return meetsThreshold(this.power(indices), this.d.total, { num: t.den - t.num, den: t.den });
  }
  send(to: number, m: ConsensusMessage): void {
    if (to === this.self) return;
    this.out.push({ type: 'send', to, kind: m.type, bytes: encodeMessage(m) });
  }
  broadcast(m: ConsensusMessage): void {
    this.out.push({ type: 'broadcast', kind: m.type, bytes: encodeMessage(m) });
  }
  reject(from: number, reason: string): void {
    this.out.push({ type: 'rejected', from, reason });
  }
  timer(name: string, at: number): void {
    this.out.push({ type: 'set-timer', timer: name, at });
  }
}

export function sameRun(c: Ctx, netuid: number, runId: number): boolean {
  return netuid === c.setup.context.netuid && runId === c.setup.context.runId;
}

/** The incumbent basis this member holds now: its latest verified certified run, else the chain's incumbent. */
export function myBasis(c: Ctx): IncumbentBasis {
  const p = c.s.prior;
  return p ? { previous: { ref: { runId: p.runId, decisionHash: p.decisionHash }, decision: p.decision }, chain: null } : { previous: null, chain: c.setup.chainIncumbent };
}

export function rules(c: Ctx, basis: IncumbentBasis = myBasis(c)): DecisionRules {
  const st = c.setup;
  return {
    context: st.context, roster: st.roster, members: st.members, threshold: st.threshold, policy: st.policy,
    basis, committed: c.d.committed, maxMissedReveals: st.maxMissedReveals,
  };
}

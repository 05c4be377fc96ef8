// A deterministic driver for the PBFT reducer: n members with real sr25519 reports (revealed with
// salts against on-chain commitments) and ed25519 votes, a FIFO in-memory network with a drop
// filter, explicit timers, and the node's role of verifying certified runs (consensus/prior.ts).
import { cryptoReady, ed25519SignerFromSeed, publicKeyToHotkey, sr25519SignerFromSeed, type Ed25519Signer, type Sr25519Signer } from '../../proto/signer.ts';
import { encodeScoreReport, scoreReportHash, signScoreReport, type ScoreEntry, type ScoreReport, type SignedScoreReport } from '../../proto/score-report.ts';
import { sha256Hex, toHex } from '../../proto/codec.ts';
import { decodeMessage, decisionHash, encodeMessage, signVote, type CertifiedRun, type ConsensusMessage, type Decision } from '../../proto/consensus.ts';
import { reportCommitment, type Reveal } from '../../proto/reveal.ts';
import { signBinding, type BindingRecord } from '../../proto/binding.ts';
import { decodeState, encodeState, initState, step, type Input, type Output, type PbftState, type PriorRun, type RunSetup } from '../../consensus/pbft.ts';
import { nativeVerifier } from '../../consensus/equivocation.ts';
import { verifyCertifiedRun } from '../../consensus/prior.ts';
import { DEFAULT_WINNER_POLICY } from '../../consensus/winner.ts';
import { proposerOrder } from '../../consensus/validator-set.ts';
import type { RunContext } from '../../consensus/aggregate.ts';

export const GENESIS = sha256Hex('conclave-test-genesis');
export const NETUID = 7;
export const RUN = 720;
export const ctx: RunContext = { netuid: NETUID, runId: RUN, rosterHash: sha256Hex('roster'), policyHash: sha256Hex('policy'), hardwareClass: 'H100' };
export const roster = [1, 2, 3].map((uid) => ({ uid, minerHotkey: publicKeyToHotkey(new Uint8Array(32).fill(100 + uid)), codeSha256: sha256Hex(`code${uid}`), commitBlock: 10 + uid }));

export interface TestMember {
  sr: Sr25519Signer;
  ed: Ed25519Signer;
  stake: bigint;
  binding: BindingRecord;
}

export async function makeMembers(n: number, stakes?: bigint[]): Promise<TestMember[]> {
  await cryptoReady();
  return Array.from({ length: n }, (_, i) => {
    const sr = sr25519SignerFromSeed(new Uint8Array(32).fill(i + 1));
    const ed = ed25519SignerFromSeed(new Uint8Array(32).fill(i + 50));
    const binding = signBinding({ genesisHash: GENESIS, netuid: NETUID, node: ed, multiaddrs: [], issuedAt: 1_000, expiresAt: 1_000 + 86_400_000 }, sr);
    return { sr, ed, stake: stakes?.[i] ?? 1000n, binding };
  });
}

/** A seed (block hash) whose proposer order for `runId` is the identity: member v proposes view v. */
export function identitySeed(n: number, runId = RUN): string {
  for (let k = 0; k < 10_000; k++) {
    const seed = sha256Hex(`seed-${k}`);
    if (proposerOrder(n, runId, seed).every((x, i) => x === i)) return seed;
  }
  throw new Error('no identity seed found');
}

export function entries(scores: (number | ScoreEntry['status'])[]): ScoreEntry[] {
  return roster.map((r, i) => {
    const x = scores[i];
    return typeof x === 'number'
      ? { uid: r.uid, minerHotkey: r.minerHotkey, codeSha256: r.codeSha256, score: x, status: 'scored' as const }
      : { uid: r.uid, minerHotkey: r.minerHotkey, codeSha256: r.codeSha256, score: 0, status: x };
  });
}

export function makeReveal(sr: Sr25519Signer, scores: (number | ScoreEntry['status'])[], opts: { runId?: number; salt?: string; issuedAt?: number } = {}): Reveal {
  const report: ScoreReport = { version: 1, ...ctx, runId: opts.runId ?? RUN, validatorHotkey: sr.hotkey, entries: entries(scores), issuedAt: opts.issuedAt ?? 1 };
  const signed: SignedScoreReport = signScoreReport(report, sr);
  return { salt: opts.salt ?? sha256Hex(`salt-${sr.hotkey}-${opts.issuedAt ?? 1}`), signed };
}

export function commitmentOf(r: Reveal): string {
  return reportCommitment(r.salt, encodeScoreReport(r.signed.report));
}

export function hashOf(r: Reveal): string {
  return scoreReportHash(r.signed.report);
}

export interface Packet {
  from: number;
  to: number;
  bytes: Uint8Array;
}

/** Deterministic driver: FIFO delivery, timers fired in time order, optional persistence round-trip. */
export class Harness {
  members: TestMember[];
  states: PbftState[];
  queue: Packet[] = [];
  timers: { at: number; member: number; timer: string }[] = [];
  now = 0;
  outputs: { member: number; out: Output }[] = [];
  drop: (p: Packet, msg: ConsensusMessage | null) => boolean = () => false;
  /** Members whose timers never fire (a slow clock), for the f+1 view-join test. */
  frozen = new Set<number>();
  persist = false;
  /** The node's verification of certified runs (validator set at that run = this run's members). */
  verifyPrior = true;
  verified: { member: number; ok: boolean; reason?: string }[] = [];

  constructor(members: TestMember[], setups: RunSetup[]) {
    this.members = members;
    this.states = setups.map((s) => initState(s));
  }

  get n(): number {
    return this.members.length;
  }

  input(i: number, input: Input): void {
    let state = this.states[i];
    if (this.persist) state = decodeState(encodeState(state));
    const r = step(state, input, this.now, { signer: this.members[i].ed, verifier: nativeVerifier });
    this.states[i] = r.state;
    for (const o of r.outputs) {
      this.outputs.push({ member: i, out: o });
      if (o.type === 'send') {
        this.push({ from: i, to: o.to, bytes: o.bytes });
      } else if (o.type === 'broadcast') {
        for (let j = 0; j < this.n; j++) if (j !== i) this.push({ from: i, to: j, bytes: o.bytes });
      } else if (o.type === 'set-timer') {
        this.timers.push({ at: o.at, member: i, timer: o.timer });
      } else if (o.type === 'verify-prior' && this.verifyPrior) {
        const check = verifyCertifiedRun(o.evidence, { netuid: NETUID, genesisHash: GENESIS, members: this.members.map((m) => ({ hotkey: m.sr.hotkey, stake: m.stake })), threshold: { num: 2, den: 3 } }, nativeVerifier);
        this.verified.push({ member: i, ok: check.ok, reason: check.ok ? undefined : check.reason });
        if (check.ok) this.input(i, { type: 'verified-prior', evidence: o.evidence });
      }
    }
  }

  push(p: Packet): void {
    let msg: ConsensusMessage | null = null;
    try {
      msg = decodeMessage(p.bytes);
    } catch {
      msg = null;
    }
    if (!this.drop(p, msg)) this.queue.push(p);
  }

  deliverAll(): void {
    for (let guard = 0; guard < 100_000 && this.queue.length; guard++) {
      const p = this.queue.shift()!;
      this.input(p.to, { type: 'message', from: p.from, bytes: p.bytes });
    }
  }

  /** Runs until every listed member decided, or nothing is left to do before `until`. */
  run(until: number, who: number[] = this.members.map((_, i) => i)): void {
    for (let guard = 0; guard < 200_000; guard++) {
      if (who.every((i) => this.states[i].decided)) return;
      const p = this.queue.shift();
      if (p) {
        this.input(p.to, { type: 'message', from: p.from, bytes: p.bytes });
        continue;
      }
      const live = this.timers.filter((t) => !this.frozen.has(t.member));
      live.sort((a, b) => a.at - b.at || a.member - b.member);
      const t = live[0];
      if (!t || t.at > until) return;
      this.timers.splice(this.timers.indexOf(t), 1);
      this.now = Math.max(this.now, t.at);
      this.input(t.member, { type: 'timeout', timer: t.timer });
    }
    throw new Error('harness did not settle');
  }

  start(who: number[] = this.members.map((_, i) => i)): void {
    for (const i of who) this.input(i, { type: 'start' });
  }

  /** Delivers reveals before 'start' (the reveal window): they are on time at `to`. */
  reveal(from: number, r: Reveal, to: number[] = this.members.map((_, i) => i)): void {
    for (const j of to) if (j !== from) this.input(j, { type: 'message', from, bytes: encodeReveal(r) });
  }

  rejected(member?: number): string[] {
    return this.outputs.filter((o) => o.out.type === 'rejected' && (member === undefined || o.member === member)).map((o) => (o.out as { reason: string }).reason);
  }
}

export function encodeReveal(r: Reveal): Uint8Array {
  return encodeMessage({ type: 'reveal', reveal: r });
}

export interface SetupOptions {
  reveals: (Reveal | null)[];
  seed?: string;
  prior?: (PriorRun | null)[];
  chainIncumbent?: RunSetup['chainIncumbent'];
  maxMissedReveals?: number;
  commitments?: Record<string, string> | null;
}

export function setups(members: TestMember[], o: SetupOptions): RunSetup[] {
  const seed = o.seed ?? identitySeed(members.length);
  const commitments = o.commitments !== undefined ? o.commitments : Object.fromEntries(o.reveals.flatMap((r, i) => (r ? [[members[i].sr.hotkey, commitmentOf(r)]] : [])));
  return members.map((_, i) => ({
    context: ctx,
    members: members.map((m, k) => ({ uid: k + 1, hotkey: m.sr.hotkey, stake: m.stake, nodeKey: toHex(m.ed.publicKey) })),
    selfIndex: i,
    threshold: { num: 2, den: 3 },
    policy: DEFAULT_WINNER_POLICY,
    roster,
    seed,
    commitments,
    timing: { proposeDelayMs: 100, viewTimeoutMs: 1000, maxBackoffExponent: 2 },
    ownReveal: o.reveals[i],
    prior: o.prior?.[i] ?? null,
    chainIncumbent: o.chainIncumbent ?? null,
    maxMissedReveals: o.maxMissedReveals ?? 0,
    bindings: Object.fromEntries(members.map((m) => [toHex(m.ed.publicKey), m.binding])),
  }));
}

/** A certified run for `decision` (commit votes of every member), as a member that decided it holds it. */
export function certifiedRun(members: TestMember[], decision: Decision): PriorRun {
  const hash = decisionHash(decision);
  const votes = members.map((m) => signVoteFor(m, decision, hash)).sort((a, b) => (a.voter < b.voter ? -1 : 1));
  const evidence: CertifiedRun = { certificate: { phase: 'commit', view: 0, decision, votes }, bindings: members.map((m) => m.binding) };
  return { runId: decision.runId, decisionHash: hash, decision, evidence };
}

function signVoteFor(m: TestMember, d: Decision, hash: string) {
  return signVote({ phase: 'commit', netuid: d.netuid, runId: d.runId, view: 0, decisionHash: hash }, m.ed);
}

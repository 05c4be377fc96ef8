// Byzantine behaviours of the simulator that need more than filtering the honest machine's outputs.
//   - EquivocationAttack: an equivocating proposer sends two valid conflicting proposals to two halves
//     of the honest members, the colluding coalition signs prepares and commits for both, and the
//     attacker hands out both certificates;
//   - selectiveDropSet: the honest reports a selective-counting proposer leaves out (those that rank
//     the honest best highest, as many as the quorum allows);
//   - forgedBindings: what a binding hijacker offers honest members (another hotkey's binding naming
//     an honest node key; its own binding replayed from another subnet).
import { toHex } from '../../proto/codec.ts';
import { decisionHash, decodeMessage, encodeMessage, signVote, type Certificate, type Decision, type Proposal, type Vote } from '../../proto/consensus.ts';
import { BINDING_DOMAIN, encodeBindingBody, signBinding, type BindingRecord, type UnsignedBinding } from '../../proto/binding.ts';
import { signingBytes } from '../../proto/codec.ts';
import type { Reveal } from '../../proto/reveal.ts';
import { scoreReportHash } from '../../proto/score-report.ts';
import type { Ed25519Signer, Sr25519Signer } from '../../proto/signer.ts';
import type { RosterSlot, RunContext } from '../aggregate.ts';
import { computeDecision, type IncumbentBasis } from '../decision.ts';
import type { PbftState } from '../pbft.ts';
import { meetsThreshold, type Threshold } from '../validator-set.ts';
import type { WinnerPolicy } from '../winner.ts';
import { voteOf } from './outcome.ts';

export interface AttackMember {
  index: number;
  sr: Sr25519Signer;
  ed: Ed25519Signer;
  nodeKey: string;
  stake: bigint;
  fault: string | null;
}

export interface AttackWorld {
  netuid: number;
  runId: number;
  context: RunContext;
  roster: readonly RosterSlot[];
  threshold: Threshold;
  policy: WinnerPolicy;
  members: readonly AttackMember[];
  totalStake: bigint;
  honest: readonly number[];
  reveals: readonly (Reveal | null)[];
  committed: readonly string[];
  deliver: (from: number, to: number, bytes: Uint8Array, now: number, kind: string) => void;
}

export class EquivocationAttack {
  private readonly w: AttackWorld;
  private readonly attacker: number;
  private readonly view: number;
  private readonly hashes = new Map<string, { decision: Decision; group: Set<number> }>();
  private readonly tallies = new Map<string, Map<string, Vote>>();
  private readonly issued = new Set<string>();
  private readonly byNodeKey: Map<string, AttackMember>;

  private constructor(w: AttackWorld, attacker: number, view: number) {
    this.w = w;
    this.attacker = attacker;
    this.view = view;
    this.byNodeKey = new Map(w.members.map((m) => [m.nodeKey, m]));
  }

  /**
   * Replaces the attacker's honest proposal X by X to one side and Y to the other. The colluders
   * revealed only to side X (see `equivocatorSide`), so Y = X without a colluder's report is complete
   * for side Y; failing that, Y adds a colluder report X lacks, or drops an honest one (honest members
   * holding it refuse that). Returns null when no such Y reaches the quorum.
   */
  static start(w: AttackWorld, attacker: number, state: PbftState, basis: IncumbentBasis, proposalBytes: Uint8Array, now: number): EquivocationAttack | null {
    const p = (decodeMessage(proposalBytes) as { type: 'proposal'; proposal: Proposal }).proposal;
    const x = p.decision;
    const inX = new Set(x.reportHashes);
    const byHotkey = new Map(w.members.map((m) => [m.sr.hotkey, m]));
    const counted = x.reportHashes.map((h) => ({ report: state.reports[h].reveal.signed.report, hash: h, power: byHotkey.get(state.reports[h].hotkey)!.stake }));
    const colluder = counted.findIndex((c) => byHotkey.get(c.report.validatorHotkey)?.fault);
    const extra = w.reveals.find((r, k) => r && w.members[k].fault && !inX.has(scoreReportHash(r.signed.report)) && !x.excluded.includes(r.signed.report.validatorHotkey));
    if (colluder >= 0) counted.splice(colluder, 1);
    else if (extra) counted.push({ report: extra.signed.report, hash: scoreReportHash(extra.signed.report), power: byHotkey.get(extra.signed.report.validatorHotkey)!.stake });
    else {
      const dropIdx = counted.findIndex((c) => !byHotkey.get(c.report.validatorHotkey)?.fault);
      if (dropIdx < 0) return null;
      counted.splice(dropIdx, 1);
    }
    const y = computeDecision({ context: w.context, roster: w.roster, members: w.members.map((m) => ({ hotkey: m.sr.hotkey, stake: m.stake })), threshold: w.threshold, policy: w.policy, basis, committed: w.committed, maxMissedReveals: 0 }, counted);
    if (!meetsThreshold(y.countedPower, y.totalPower, w.threshold)) return null;
    const att = new EquivocationAttack(w, attacker, p.vote.view);
    const gx = new Set<number>();
    const gy = new Set<number>();
    for (const m of w.members) (equivocatorSide(w, m.index) === 'x' ? gx : gy).add(m.index);
    const hx = decisionHash(x);
    const hy = decisionHash(y);
    att.hashes.set(hx, { decision: x, group: gx });
    att.hashes.set(hy, { decision: y, group: gy });
    const py: Proposal = { vote: signVote({ phase: 'propose', netuid: w.netuid, runId: w.runId, view: p.vote.view, decisionHash: hy }, w.members[attacker].ed), decision: y, justification: p.justification };
    const by = encodeMessage({ type: 'proposal', proposal: py });
    for (const to of gx) if (to !== attacker) w.deliver(attacker, to, proposalBytes, now, 'proposal');
    for (const to of gy) if (to !== attacker) w.deliver(attacker, to, by, now, 'proposal');
    att.coalitionVotes('prepare', hx, now);
    att.coalitionVotes('prepare', hy, now);
    return att;
  }

  private coalitionVotes(phase: 'prepare' | 'commit', hash: string, now: number): void {
    for (const cm of this.w.members) {
      if (!cm.fault || cm.fault === 'withhold') continue;
      this.tally(signVote({ phase, netuid: this.w.netuid, runId: this.w.runId, view: this.view, decisionHash: hash }, cm.ed), -1, now);
    }
  }

  /** A vote reaching the attacker (or a coalition vote, self = -1): certificates go out when it next acts. */
  tally(v: Vote, self: number, now: number): void {
    const target = this.hashes.get(v.decisionHash);
    if (!target || v.view !== this.view) return;
    const key = `${v.phase}:${v.decisionHash}`;
    let t = this.tallies.get(key);
    if (!t) this.tallies.set(key, (t = new Map()));
    t.set(v.voter, v);
    if (this.issued.has(key)) return;
    const power = [...t.keys()].reduce((s, k) => s + (this.byNodeKey.get(k)?.stake ?? 0n), 0n);
    if (!meetsThreshold(power, this.w.totalStake, this.w.threshold)) return;
    if (self < 0) return;
    this.issued.add(key);
    const cert: Certificate = { phase: v.phase as 'prepare' | 'commit', view: this.view, decision: target.decision, votes: [...t.keys()].sort().map((k) => t!.get(k)!) };
    const bytes = encodeMessage({ type: 'certificate', cert });
    for (const to of target.group) if (to !== self) this.w.deliver(self, to, bytes, now, 'certificate');
    if (v.phase === 'prepare') this.coalitionVotes('commit', v.decisionHash, now);
  }

  get attackerIndex(): number {
    return this.attacker;
  }
}

/**
 * Which side of an equivocation a member is on: the Byzantine members and every other honest member
 * (by position among the honest) see the colluders' committed reveals and proposal X; the rest see
 * their twin reports and proposal Y.
 */
export function equivocatorSide(w: Pick<AttackWorld, 'members' | 'honest'>, index: number): 'x' | 'y' {
  if (w.members[index].fault) return 'x';
  return w.honest.indexOf(index) % 2 === 1 ? 'x' : 'y';
}

/**
 * The honest members whose reports a selective-counting proposer refuses to hold: those scoring the
 * honest best highest, dropped one by one while the rest (with the coalition) still reaches the quorum.
 */
export function selectiveDropSet(w: AttackWorld, target: number): Set<string> {
  const present = w.members.filter((m) => w.reveals[m.index]);
  let power = present.reduce((s, m) => s + m.stake, 0n);
  const candidates = w.honest.map((i) => w.members[i]).filter((m) => w.reveals[m.index])
    .sort((a, b) => (voteOf(w.reveals[b.index]!.signed.report, target) ?? -1) - (voteOf(w.reveals[a.index]!.signed.report, target) ?? -1));
  const drop = new Set<string>();
  for (const m of candidates) {
    if (!meetsThreshold(power - m.stake, w.totalStake, w.threshold)) break;
    power -= m.stake;
    drop.add(m.sr.hotkey);
  }
  return drop;
}

/**
 * What a hijacker offers honest members: bindings its hotkey signs (validly) naming an honest node
 * key — it cannot countersign them, so it reuses the countersignature of the victim's own binding or
 * of its own — one issued later than the victim's (the version-1 takeover), and its own genuine
 * binding replayed from another subnet.
 */
export function forgedBindings(hijacker: AttackMember, victim: { binding: BindingRecord }, scope: { genesisHash: string; netuid: number }, issuedAt: number): BindingRecord[] {
  const claim = (nodeSignature: string, at: number): BindingRecord => {
    const body: UnsignedBinding = { ...victim.binding, hotkey: hijacker.sr.hotkey, issuedAt: at, expiresAt: at + 86_400_000 };
    delete (body as Partial<BindingRecord>).signature;
    delete (body as Partial<BindingRecord>).nodeSignature;
    return { ...body, signature: toHex(hijacker.sr.sign(signingBytes(BINDING_DOMAIN, encodeBindingBody(body)))), nodeSignature };
  };
  const own = signBinding({ genesisHash: scope.genesisHash, netuid: scope.netuid, node: hijacker.ed, multiaddrs: [], issuedAt, expiresAt: issuedAt + 86_400_000 }, hijacker.sr);
  const replay = signBinding({ genesisHash: scope.genesisHash, netuid: (scope.netuid + 1) & 0xffff, node: hijacker.ed, multiaddrs: [], issuedAt, expiresAt: issuedAt + 86_400_000 }, hijacker.sr);
  return [claim(victim.binding.nodeSignature, victim.binding.issuedAt + 1), claim(own.nodeSignature, issuedAt), replay];
}

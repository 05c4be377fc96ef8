// The consensus wire format's constants (versions, signing domains, size bounds) and message shapes.
import type { SignedScoreReport } from '../score-report.ts';
import { MAX_BINDING_BYTES, type BindingRecord } from '../binding.ts';
import type { Reveal } from '../reveal.ts';

export const WIRE_VERSION = 2;
export const DECISION_VERSION = 2;
export const CERTIFIED_RUN_VERSION = 1;
export const DECISION_DOMAIN = 'conclave/consensus-decision/v2';
export const VOTE_DOMAIN = 'conclave/consensus-vote/v2';
export const VIEW_CHANGE_DOMAIN = 'conclave/consensus-view-change/v2';
export const MAX_MEMBERS = 1024;
export const MAX_DECISION_SCORES = 4096;
export const MAX_HASH_REQUEST = 1024;
export const MAX_DECISION_BYTES = 240 + 8 * 6 + MAX_DECISION_SCORES * 10 + MAX_MEMBERS * 32 + 16 + 4 + MAX_MEMBERS * (36 + 32);
const VOTE_BYTES = 1 + 2 + 8 + 4 + 32 + 32 + 64;
export const MAX_CERT_BYTES = 1 + 4 + 4 + MAX_DECISION_BYTES + 2 + MAX_MEMBERS * VOTE_BYTES;
export const MAX_CERTIFIED_RUN_BYTES = 1 + 4 + MAX_CERT_BYTES + 2 + MAX_MEMBERS * (4 + MAX_BINDING_BYTES);
export const MAX_MESSAGE_BYTES = 2 + Math.max(MAX_DECISION_BYTES + 4 + VOTE_BYTES + 2 + MAX_MEMBERS * (2 + 8 + 4 + 1 + MAX_CERT_BYTES + 96), MAX_CERTIFIED_RUN_BYTES);

export type Phase = 'propose' | 'prepare' | 'commit';
export const PHASES: readonly Phase[] = ['propose', 'prepare', 'commit'];

export interface Weight {
  uid: number;
  weightPpm: number;
}

/** The certified run a decision takes its incumbent from (its decision hash; any valid commit certificate proves it). */
export interface PreviousRef {
  runId: number;
  decisionHash: string;
}

export interface Decision {
  version: 2;
  netuid: number;
  runId: number;
  rosterHash: string;
  policyHash: string;
  hardwareClass: string;
  /** 'winner': a winner was chosen (possibly the incumbent, held within the margin); 'hold': no candidate or quorum miss, incumbent's weights held. */
  outcome: 'winner' | 'hold';
  /** Who receives the non-burn weight; null sends everything to the burn uid. */
  winnerUid: number | null;
  /** The miner hotkey of winnerUid in this run's roster: the next run checks its incumbent still holds that uid. */
  winnerHotkey: string | null;
  incumbentUid: number | null;
  /** Where the incumbent comes from: the previous certified run, or null = on-chain weights at the run's start block. */
  previous: PreviousRef | null;
  weights: Weight[];
  /** Consensus scores of the miners that have one, ascending uid. */
  scores: { uid: number; score: number }[];
  /** The exact set of counted report hashes, ascending. */
  reportHashes: string[];
  countedPower: bigint;
  /** Voting power of the run's counting members (the validator set less the excluded). */
  totalPower: bigint;
  /** Members that committed on chain by the commit deadline but whose report is not counted, with their run streak. */
  missedReveals: { hotkey: string; streak: number }[];
  /** Members excluded from this run's counting by the subnet's rule on missed reveals. */
  excluded: string[];
}

export interface Vote {
  phase: Phase;
  netuid: number;
  runId: number;
  view: number;
  decisionHash: string;
  /** ed25519 node key, hex. */
  voter: string;
  signature: string;
}

export interface Certificate {
  phase: 'prepare' | 'commit';
  view: number;
  decision: Decision;
  votes: Vote[];
}

/** A commit certificate and the bindings (node key → hotkey) of its voters: verifiable with the chain alone. */
export interface CertifiedRun {
  certificate: Certificate;
  bindings: BindingRecord[];
}

export interface ViewChange {
  netuid: number;
  runId: number;
  newView: number;
  /** Highest prepared certificate the sender holds (its lock), if any. */
  prepared: Certificate | null;
  voter: string;
  signature: string;
}

export interface Proposal {
  /** The proposer's signed 'propose' vote on hash(decision). */
  vote: Vote;
  decision: Decision;
  /** For view > 0: view changes for this view from > threshold of voting power. */
  justification: ViewChange[];
}

export type EquivocationProof =
  | { kind: 'report'; a: SignedScoreReport; b: SignedScoreReport }
  /** Two votes by one node key, same run/view/phase, different decision; the binding attributes the key to a hotkey. */
  | { kind: 'vote'; a: Vote; b: Vote; binding: BindingRecord | null }
  /** Two bindings of one node key to two hotkeys, both countersigned by that node key, with overlapping validity. */
  | { kind: 'binding'; a: BindingRecord; b: BindingRecord };

export type ConsensusMessage =
  | { type: 'reveal'; reveal: Reveal }
  | { type: 'proposal'; proposal: Proposal }
  | { type: 'vote'; vote: Vote }
  | { type: 'certificate'; cert: Certificate }
  | { type: 'view-change'; viewChange: ViewChange }
  | { type: 'request-reports'; netuid: number; runId: number; hashes: string[] }
  | { type: 'equivocation'; proof: EquivocationProof }
  /** Ask for a commit certificate of an earlier run (the one a proposal takes its incumbent from). */
  | { type: 'request-prior'; netuid: number; runId: number; priorRunId: number; decisionHash: string }
  | { type: 'prior'; evidence: CertifiedRun }
  /** The report hashes of the valid reveals the sender held when consensus started (sent to the collector). */
  | { type: 'inventory'; netuid: number; runId: number; hashes: string[] };

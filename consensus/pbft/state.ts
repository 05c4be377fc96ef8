// PBFT reducer, state and setup: the run setup a member is started with, the reducer's inputs and
// outputs, and its state. The state is plain data (no classes, no Maps) so that `encodeState` /
// `decodeState` persist and resume it mid-run; lookups derived from the setup live in context.ts.
import type { Certificate, ConsensusMessage, Decision, EquivocationProof, Proposal, ViewChange, Vote } from '../../proto/consensus.ts';
import type { SignedScoreReport } from '../../proto/score-report.ts';
import type { BindingRecord } from '../../proto/binding.ts';
import type { Ed25519Signer } from '../../proto/signer.ts';
import type { RosterSlot, RunContext } from '../aggregate.ts';
import type { Verifier } from '../equivocation.ts';
import { checkThreshold, type Threshold } from '../validator-set.ts';
import type { WinnerPolicy } from '../winner.ts';
import type { Timing } from './timers.ts';

export interface PeerInfo {
  uid: number;
  hotkey: string;
  stake: bigint;
  /** ed25519 node key (hex), bound to the hotkey by a verified binding record. */
  nodeKey: string;
}

export interface RunSetup {
  context: RunContext;
  /** Sorted by uid; the index is the member's position in proposer rotation and in `from`. */
  members: PeerInfo[];
  selfIndex: number;
  threshold: Threshold;
  policy: WinnerPolicy;
  incumbentUid: number | null;
  roster: RosterSlot[];
  /** On-chain report commitments (hotkey -> report hash). null disables the check (dev only). */
  commitments: Record<string, string> | null;
  timing: Timing;
  ownReport: SignedScoreReport | null;
  /** Verified bindings by node key, attached to vote-equivocation proofs. Optional. */
  bindings?: Record<string, BindingRecord>;
}

export interface Env {
  signer: Ed25519Signer;
  verifier: Verifier;
}

export type Input =
  | { type: 'start' }
  /** The member's own signed report, when it was not ready at setup time. */
  | { type: 'own-report'; signed: SignedScoreReport }
  | { type: 'message'; from: number; bytes: Uint8Array }
  | { type: 'timeout'; timer: string };

export type Output =
  | { type: 'send'; to: number; kind: ConsensusMessage['type']; bytes: Uint8Array }
  | { type: 'broadcast'; kind: ConsensusMessage['type']; bytes: Uint8Array }
  | { type: 'set-timer'; timer: string; at: number }
  | { type: 'decided'; decision: Decision; hash: string; certificate: Certificate }
  | { type: 'equivocation'; proof: EquivocationProof; offender: string }
  | { type: 'rejected'; from: number; reason: string };

interface StoredReport {
  signed: SignedScoreReport;
  hotkey: string;
  countable: boolean;
}

export interface PbftState {
  setup: RunSetup;
  started: boolean;
  view: number;
  reports: Record<string, StoredReport>;
  byHotkey: Record<string, string[]>;
  /** Hotkeys excluded for this run (proven equivocators). */
  equivocators: Record<string, true>;
  /** First vote seen per `${phase}:${view}:${voter}` (equivocation detection). */
  votesSeen: Record<string, Vote>;
  /** The decision hash this member prepared in each view. */
  prepared: Record<number, string>;
  pending: { proposal: Proposal; from: number } | null;
  requested: Record<string, true>;
  lock: Certificate | null;
  sentCommit: Record<number, true>;
  validCerts: Record<string, true>;
  /** Collector role: the proposals this member made, and the votes it collected per view. */
  myProposals: Record<number, Decision>;
  tallies: Record<string, Record<string, Vote>>;
  certIssued: Record<string, true>;
  issuedCerts: Record<string, Certificate>;
  viewChanges: Record<number, Record<string, ViewChange>>;
  proposeReady: boolean;
  decided: { decision: Decision; hash: string; certificate: Certificate } | null;
  helped: Record<number, number>;
}

export function initState(setup: RunSetup): PbftState {
  checkThreshold(setup.threshold);
  if (setup.members.length === 0) throw new Error('run setup: empty validator set');
  if (!Number.isInteger(setup.selfIndex) || setup.selfIndex < 0 || setup.selfIndex >= setup.members.length) {
    throw new Error(`run setup: selfIndex ${setup.selfIndex} is not a member position (0..${setup.members.length - 1})`);
  }
  return {
    setup,
    started: false,
    view: 0,
    reports: {},
    byHotkey: {},
    equivocators: {},
    votesSeen: {},
    prepared: {},
    pending: null,
    requested: {},
    lock: null,
    sentCommit: {},
    validCerts: {},
    myProposals: {},
    tallies: {},
    certIssued: {},
    issuedCerts: {},
    viewChanges: {},
    proposeReady: false,
    decided: null,
    helped: {},
  };
}

/** JSON with tagged bigints; `decodeState(encodeState(s))` resumes exactly where `s` was. */
export function encodeState(s: PbftState): string {
  return JSON.stringify(s, (_k, v) => (typeof v === 'bigint' ? { $bigint: v.toString() } : v));
}

export function decodeState(json: string): PbftState {
  return JSON.parse(json, (_k, v) => (v && typeof v === 'object' && typeof v.$bigint === 'string' && Object.keys(v).length === 1 ? BigInt(v.$bigint) : v));
}

// PBFT reducer, state and setup: the run setup a member is started with, the reducer's inputs and
// outputs, and its state. The state is plain data (no classes, no Maps) so that `encodeState` /
// `decodeState` persist and resume it mid-run; lookups derived from the setup live in context.ts.
import type { Certificate, CertifiedRun, ConsensusMessage, Decision, EquivocationProof, Proposal, ViewChange, Vote } from '../../proto/consensus.ts';
import type { Reveal } from '../../proto/reveal.ts';
import type { BindingRecord } from '../../proto/binding.ts';
import type { Ed25519Signer } from '../../proto/signer.ts';
import type { RosterSlot, RunContext } from '../aggregate.ts';
import type { Verifier } from '../equivocation.ts';
import type { IncumbentRef } from '../incumbent.ts';
import { checkThreshold, proposerOrder, type Threshold } from '../validator-set.ts';
import type { WinnerPolicy } from '../winner.ts';
import type { Timing } from './timers.ts';

export interface PeerInfo {
  uid: number;
  hotkey: string;
  stake: bigint;
  /** ed25519 node key (hex), bound to the hotkey by a verified binding record. */
  nodeKey: string;
}

/** The latest certified run before this one that a member holds (verified), with what proves it. */
export interface PriorRun {
  runId: number;
  decisionHash: string;
  decision: Decision;
  /** The commit certificate with its voters' bindings: served to members that lack it. */
  evidence: CertifiedRun | null;
}

export interface RunSetup {
  context: RunContext;
  /** Sorted by uid; the index is the member's position in `from` and in the proposer order. */
  members: PeerInfo[];
  selfIndex: number;
  threshold: Threshold;
  policy: WinnerPolicy;
  roster: RosterSlot[];
  /** Hash of the run's commit-deadline block (64 hex): seeds the proposer order. */
  seed: string;
  /** On-chain report commitments by the commit deadline (hotkey -> sha256(salt || report)). null disables the check (dev only). */
  commitments: Record<string, string> | null;
  timing: Timing;
  ownReveal: Reveal | null;
  /**
   * The own reveal already went out to every member on the reports topic (the node published it in the
   * reveal window). Then it is not sent to each view's collector again — at 64 members that doubled
   * the run's largest messages —; a collector that missed it asks for it after the member's inventory.
   */
  ownRevealGossiped?: boolean;
  /** The latest certified run this member holds; the incumbent comes from it (or from `chainIncumbent` when null). */
  prior: PriorRun | null;
  /** The incumbent on chain at the run's start block (consensus/incumbent.ts incumbentFromWeights). */
  chainIncumbent: IncumbentRef | null;
  /** Missed reveals in a row after which a member sits out a run (the subnet's rule); 0 never excludes. */
  maxMissedReveals: number;
  /** Verified bindings by node key, attached to vote-equivocation proofs. Optional. */
  bindings?: Record<string, BindingRecord>;
}

export interface Env {
  signer: Ed25519Signer;
  verifier: Verifier;
}

export type Input =
  | { type: 'start' }
  /** The member's own reveal, when it was not ready at setup time. */
  | { type: 'own-reveal'; reveal: Reveal }
  | { type: 'message'; from: number; bytes: Uint8Array }
  | { type: 'timeout'; timer: string }
  /** A certified run the node verified against chain data (answer to a 'verify-prior' output). */
  | { type: 'verified-prior'; evidence: CertifiedRun };

export type Output =
  | { type: 'send'; to: number; kind: ConsensusMessage['type']; bytes: Uint8Array }
  | { type: 'broadcast'; kind: ConsensusMessage['type']; bytes: Uint8Array }
  | { type: 'set-timer'; timer: string; at: number }
  | { type: 'decided'; decision: Decision; hash: string; certificate: Certificate }
  | { type: 'equivocation'; proof: EquivocationProof; offender: string }
  | { type: 'rejected'; from: number; reason: string }
  /** A peer sent a certified run newer than this member's: the node verifies it with chain data (validator set at its run) and answers 'verified-prior'. */
  | { type: 'verify-prior'; evidence: CertifiedRun; from: number };

export interface StoredReport {
  reveal: Reveal;
  hotkey: string;
  /** Its salted commitment matches the author's on-chain commitment. */
  countable: boolean;
  /** Held when this member's consensus started (the reveal deadline). */
  onTime: boolean;
}

export interface PbftState {
  setup: RunSetup;
  started: boolean;
  view: number;
  reports: Record<string, StoredReport>;
  byHotkey: Record<string, string[]>;
  /** Hotkeys with a proven equivocation in this run: their votes are no longer tallied. */
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
  /** Highest verified view change per voter node key (joining a view f+1 members moved to). */
  viewOf: Record<string, number>;
  proposeReady: boolean;
  decided: { decision: Decision; hash: string; certificate: Certificate } | null;
  helped: Record<number, number>;
  /** The latest verified certified run (starts as setup.prior; a newer one learnt from peers replaces it). */
  prior: PriorRun | null;
  /** Certified runs asked for (`${runId}:${hash}`) and handed to the node for verification. */
  priorAsked: Record<string, true>;
  /** Reveals broadcast as the answer to a proposal that left them out (once each). */
  answered: Record<string, true>;
  /** Whether this member's last prior evidence was answered to the collector of a view (once per view). */
  priorAnswered: Record<number, true>;
}

export function initState(setup: RunSetup): PbftState {
  checkThreshold(setup.threshold);
  if (setup.members.length === 0) throw new Error('run setup: empty validator set');
  if (!Number.isInteger(setup.selfIndex) || setup.selfIndex < 0 || setup.selfIndex >= setup.members.length) {
    throw new Error(`run setup: selfIndex ${setup.selfIndex} is not a member position (0..${setup.members.length - 1})`);
  }
  proposerOrder(setup.members.length, setup.context.runId, setup.seed); // refuses a malformed seed
  if (!Number.isSafeInteger(setup.maxMissedReveals) || setup.maxMissedReveals < 0) throw new Error(`run setup: maxMissedReveals must be a non-negative integer, got ${setup.maxMissedReveals}`);
  if (setup.prior && setup.prior.runId >= setup.context.runId) throw new Error(`run setup: prior run ${setup.prior.runId} is not before run ${setup.context.runId}`);
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
    viewOf: {},
    proposeReady: false,
    decided: null,
    helped: {},
    prior: setup.prior,
    priorAsked: {},
    answered: {},
    priorAnswered: {},
  };
}

/** JSON with tagged bigints (`{ $bigint: "…" }`), the encoding of everything persisted from a run. */
export function encodeJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? { $bigint: x.toString() } : x));
}

export function decodeJson<T>(json: string): T {
  return JSON.parse(json, (_k, v) => (v && typeof v === 'object' && typeof v.$bigint === 'string' && Object.keys(v).length === 1 ? BigInt(v.$bigint) : v));
}

/** `decodeState(encodeState(s))` resumes exactly where `s` was. */
export function encodeState(s: PbftState): string {
  return encodeJson(s);
}

export function decodeState(json: string): PbftState {
  return decodeJson<PbftState>(json);
}

/**
 * The state in parts, for persisting only what changed: the setup (replaced only when a member's node
 * key is learnt), each report entry (written once, replaced only when re-judged) and the core (votes,
 * views, locks: everything else). At 64 members x 256 miners the reports are ~1.3 MB and the core a
 * few KB, and a member persists before every message it sends.
 */
export interface StateParts {
  core: string;
  setup: string;
  reports: Record<string, string>;
}

export function encodeStateCore(s: PbftState): string {
  return encodeJson({ ...s, setup: undefined, reports: undefined });
}

export function decodeStateParts(p: StateParts): PbftState {
  const core = decodeJson<Omit<PbftState, 'setup' | 'reports'>>(p.core);
  const reports: Record<string, StoredReport> = {};
  for (const [hash, json] of Object.entries(p.reports)) reports[hash] = decodeJson<StoredReport>(json);
  return { ...core, setup: decodeJson<RunSetup>(p.setup), reports };
}

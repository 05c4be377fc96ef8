// The seams of the run loop. The validator (node/validator/validator.ts) talks to the chain, the mesh,
// the evaluator and the consensus protocol only through these interfaces; node/validator/wiring.ts
// adapts the real parts (node/chain, node/p2p, runtime/, consensus/) to them, and tests can put
// in-process implementations behind the same seams.
import type { Neuron } from '../../consensus/validator-set.ts';
import type { RosterEntry } from '../../proto/roster.ts';
import type { BindingRecord } from '../../proto/binding.ts';
import type { CertifiedRun } from '../../proto/consensus.ts';
import type { PriorRun } from '../../consensus/pbft.ts';
import type { IncumbentRef } from '../../consensus/incumbent.ts';
import type { ScoreStatus, SignedScoreReport } from '../../proto/score-report.ts';
import type { Reveal } from '../../proto/reveal.ts';
import type { Sr25519Signer } from '../../proto/signer.ts';
import type { NodeConfig } from '../config.ts';
import type { NodeMetrics } from '../metrics.ts';
import type { RunDecision, ValidatorStore } from './store.ts';
import { createLogger, type Logger, type NodeLogger } from '../logging/logger.ts';
import type { RevealStatus, WeightsCommit } from '../chain/types.ts';

/** The subnet's epoch schedule at the best block, read in one pinned read. */
export interface EpochInfo {
  /** the best block it was read at */
  block: number;
  /** the block the current run (epoch) started at; null while the subnet has had no epoch yet (a young chain) */
  runStart: number | null;
  /** the block the next epoch is expected to fire at */
  nextEpochAt: number;
  tempo: number;
  /** 'stateful' (spec >= 423: LastEpochBlock, PendingEpochAt, SubnetEpochIndex) or 'legacy' (modulo rule) */
  model: 'stateful' | 'legacy';
}

/** A write the chain (or the client on its behalf) refused: the run loop backs off and logs it once per run. */
export class ChainWriteRefused extends Error {
  readonly op: string;
  readonly kind: string;
  /** the chain's error name (e.g. SettingWeightsTooFast), when it gave one */
  readonly errorName: string | null;
  constructor(op: string, error: { kind: string; message: string; module?: { section: string; name: string } }) {
    super(`${op} refused by the chain: ${error.kind} (${error.message})`);
    this.name = 'ChainWriteRefused';
    this.op = op;
    this.kind = error.kind;
    this.errorName = error.module?.name ?? null;
  }
}

export interface ChainPort {
  bestBlock(): Promise<number>;
  /** The chain's genesis hash (0x hex): bindings and certified runs are scoped to it. */
  genesisHash(): Promise<string>;
  /** Blocks per epoch of the subnet (subtensor `Tempo`). */
  tempo(): Promise<number>;
  /**
   * Hash (0x hex) of block `block`: a run's chain randomness is the hash of its epoch start block;
   * the hash of its commit-deadline block seeds its proposer order (unknown before the run starts).
   */
  blockHash(block: number): Promise<string>;
  /** The subnet's epoch schedule at the best block (runs are keyed by it). */
  epoch(): Promise<EpochInfo>;
  /** The chain's target block time in ms (runtime constants); absent: 12 s. Only estimates use it: deadlines are blocks. */
  blockTimeMs?(): number;
  metagraph(atBlock?: number): Promise<Neuron[]>;
  /** Miners' revealed commitments (`<sha256>:<url>`) as of `atBlock`; malformed ones are skipped with a reason. */
  minerRoster(atBlock: number): Promise<{ entries: RosterEntry[]; skipped: { uid: number; reason: string }[] }>;
  /** Commit `conclave/v2:<runId>:<commitment>` (commitment = sha256(salt || report)) for this node's hotkey; returns the block it landed in. */
  commitReportHash(runId: number, commitment: string): Promise<{ block: number }>;
  /** Validators' salted report commitments for `runId` in effect at `atBlock` (hotkey → commitment + block). */
  reportCommitments(runId: number, atBlock: number): Promise<Map<string, { hash: string; block: number }>>;
  /**
   * Weights by uid, as the subnet requires: set_weights, or a timelocked commit (commit-reveal v4) where
   * CommitRevealWeightsEnabled is on — then `commit` describes it and the weights apply only once the
   * chain reveals it (confirmReveal). Weights are normalised to u16 by the adapter.
   */
  setWeights(uids: number[], weights: number[]): Promise<{ block: number; commit?: WeightsCommit }>;
  /** Whether the chain revealed a commit made by setWeights (a failed reveal is silent on chain). */
  confirmReveal?(commit: WeightsCommit): Promise<RevealStatus>;
  /** This hotkey's timelocked commit included at `block`, if any (a restart that lost the commit's details). */
  findWeightsCommit?(block: number, uids: number[], weights: number[]): Promise<WeightsCommit | null>;
  /** The weights `hotkey` set on the subnet as of `atBlock` (default: best block): the owner's pick, the incumbent at a run's start. */
  weightsOf(hotkey: string, atBlock?: number): Promise<{ uid: number; weight: number }[]>;
  /** weightsOf for many hotkeys as of one block, read together (hotkeys not registered are absent). */
  weightsOfMany(hotkeys: readonly string[], atBlock?: number): Promise<Map<string, { uid: number; weight: number }[]>>;
  /**
   * The block at which `hotkey` last set weights (LastUpdate of its uid), null when never / unknown.
   * Lets a restarted loop tell weights that landed before a crash from an older identical set.
   */
  lastWeightsBlock?(hotkey: string): Promise<number | null>;
  /** The owner's hotkey of the subnet (when the config names none). */
  subnetOwnerHotkey(): Promise<string | null>;
  close(): Promise<void>;
}

export interface MeshPort {
  publishReport(signedReportBytes: Uint8Array): Promise<void>;
  onReport(handler: (signedReportBytes: Uint8Array) => void): void;
  /** Consensus message to one member (by ed25519 node key hex) or, with `to` null, to all. */
  sendConsensus(to: string | null, bytes: Uint8Array): Promise<void>;
  /** Consensus messages with the sender's (envelope-verified) node key. */
  onConsensus(handler: (bytes: Uint8Array, fromNodeKey: string) => void): void;
  /** Admitted validators: hotkey → ed25519 node key (hex), from verified binding records. */
  boundNodeKeys(): Map<string, string>;
  /** The verified binding records themselves (hotkey → record, own included): they attribute a certificate's votes. */
  bindingRecords?(): Map<string, BindingRecord>;
  /** Ask peers for the reports of a run (late join / restart). Best effort. */
  fetchReports?(runId: number): Promise<Uint8Array[]>;
  peerCount(): number;
  /** The run the loop is in (the mesh accepts messages of this run and the previous one). */
  setRun?(runId: number): void;
  /** A run's roster (its hash given as the run record holds it): the mesh sends and expands that run's reports against it. */
  knowRoster?(rosterHash: string, roster: RosterEntry[]): void;
  close(): Promise<void>;
}

export interface EvaluationOutcome {
  status: ScoreStatus;
  /** integer fixed point (SCORE_SCALE); 0 unless status is 'scored' */
  score: number;
  detail: Record<string, unknown>;
}

export interface EvaluatorPort {
  /** sha256 of the policy JSON + evaluator image digest; goes into every report. */
  policyHash(): Promise<string>;
  /** Fetch → review → duplicates → sandbox → MFU. Never throws for a bad submission: a status says why. */
  /** `randomness`: the run's chain randomness (hash of its epoch start block), every evaluation seed derives from it. */
  evaluate(entry: RosterEntry, ctx: { runId: number; randomness: string; earlier: RosterEntry[]; timeoutMs: number; signal: AbortSignal }): Promise<EvaluationOutcome>;
  /** Evaluation slots (GPUs across Docker hosts). */
  concurrency(): number;
}

export interface ConsensusInput {
  runId: number;
  netuid: number;
  members: { uid: number; hotkey: string; stake: bigint }[];
  rosterHash: string;
  policyHash: string;
  hardwareClass: string;
  roster: RosterEntry[];
  /** Reveals this node held at the reveal deadline (verified, opening their on-chain commitment), encoded: on time. */
  counted: Uint8Array[];
  /** hotkey → salted report commitment on chain by the commit deadline (members check reveals against it). */
  commitments: Map<string, { hash: string; block: number }>;
  /** hotkey → ed25519 node key hex (members without a binding cannot vote). */
  nodeKeys: Map<string, string>;
  /** this node's own reveal, encoded (null when it has none) */
  ownReport: Uint8Array | null;
  /** The own reveal was published on the reports topic (every member got it there): not resent to collectors. */
  ownReportGossiped?: boolean;
  /** Hash of the commit-deadline block (hex, no 0x): seeds the proposer order. */
  seed: string;
  /** The latest certified run before this one this node holds (verified), or null. */
  prior: PriorRun | null;
  /** The incumbent on chain at the run's start block, when no certified run is held. */
  chainIncumbent: IncumbentRef | null;
  maxMissedReveals: number;
}

export interface ConsensusOutcome {
  decision: RunDecision;
  certificateBytes: Uint8Array;
  certificateHash: string;
  /** The commit certificate with its voters' bindings. */
  certified: CertifiedRun;
  /** decisionHash of the certified decision (how the next run names it). */
  decisionHash: string;
  /** report hashes the certificate counts */
  countedHashes: string[];
}

/**
 * One run of the consensus protocol, driven by the loop with wall-clock ticks and mesh messages.
 * `persist` is awaited before any message leaves (restart = no double vote).
 */
export interface ConsensusSession {
  deliver(bytes: Uint8Array, fromNodeKey: string, now: number): Promise<void>;
  /** A reveal that arrived after the reveal deadline (reports topic): late, it still counts if a proposal includes it. */
  deliverReveal(revealBytes: Uint8Array, now: number): Promise<void>;
  tick(now: number): Promise<void>;
  outcome(): ConsensusOutcome | null;
  /** Equivocation proofs seen (portable, hex). */
  equivocations(): { hotkey: string; proofHex: string }[];
}

export interface ConsensusIoPort {
  send(to: string | null, bytes: Uint8Array): Promise<void>;
  persist(state: unknown): Promise<void>;
  /** Verifies a certified run a peer sent (chain data: the validator set at its run); null when it does not verify (the reason is logged). */
  verifyPrior(evidence: CertifiedRun): Promise<boolean>;
  /** The binding records that attribute node keys to hotkeys, for the evidence of a decided run. */
  bindingOf(nodeKey: string): BindingRecord | undefined;
  /** hotkey → node key of the bindings known now, for members that had none when the session opened */
  nodeKeys?(): Map<string, string>;
}

export interface ConsensusPort {
  /** The protocol's view timing: the run's consensus timeout never cuts short one view per member. */
  readonly timing?: { proposeDelayMs: number; viewTimeoutMs: number; maxBackoffExponent: number };
  start(input: ConsensusInput, io: ConsensusIoPort, resumeState: unknown | undefined, now: number): Promise<ConsensusSession>;
}

export type { Logger } from '../logging/logger.ts';

/** JSON-lines logger to stderr (node/logging/logger.ts): bigints as strings, secret-named fields redacted. */
export function jsonLogger(level: 'debug' | 'info' | 'warn' | 'error', base: Record<string, unknown> = {}, out: (line: string) => void = (l) => process.stderr.write(l + '\n')): NodeLogger {
  return createLogger({ level, base, out });
}

/** What the loop hands the archive (node/archive.ts adapter); all methods best effort. */
export interface ArchivePort {
  /** A report whose signature the loop has verified (peers') or just made (its own): not verified again. */
  putSignedReport(signed: SignedScoreReport): Promise<void>;
  putCertificate(runId: number, bytes: Uint8Array): Promise<void>;
  /** A reveal (report + salt), verified by the loop; `block`: when this node received it. */
  putReveal?(reveal: Reveal, block?: number): Promise<void>;
  /** The commit certificate with its voters' bindings (replaces putCertificate when present). */
  putCertifiedRun?(runId: number, certified: CertifiedRun): Promise<void>;
  putEquivocation(runId: number, hotkey: string, proofHex: string): Promise<void>;
  putEvaluation?(codeSha256: string, record: unknown): Promise<void>;
}

export interface ValidatorDeps {
  config: NodeConfig;
  chain: ChainPort;
  mesh: MeshPort;
  evaluator: EvaluatorPort;
  consensus: ConsensusPort;
  store: ValidatorStore;
  signer: Sr25519Signer;
  metrics: NodeMetrics;
  log: Logger;
  archive?: ArchivePort;
  now?: () => number;
}

// Shapes the chain client returns. `Neuron` is the consensus module's type (consensus/validator-set.ts).
export type { Neuron } from '../../consensus/validator-set.ts';
export type { Sr25519Signer } from '../../proto/signer.ts';
export type { RosterEntry } from '../../proto/roster.ts';

export interface Hyperparams {
  netuid: number;
  tempo: number;
  /** Blocks between two set_weights of one hotkey. */
  weightsRateLimit: number;
  commitRevealEnabled: boolean;
  /** Reveal period in epochs (commit-reveal), null when the chain lacks the item. */
  revealPeriodEpochs: number | null;
  weightsVersionKey: bigint;
  subnetworkN: number;
  maxAllowedUids: number;
  minAllowedWeights: number;
  maxWeightsLimit: number;
  immunityPeriod: number;
  maxAllowedValidators: number;
  /** Blocks without weights after which a validator counts as inactive: ActivityCutoffFactorMilli × tempo / 1000 (≥ 1) where the runtime has the factor, else ActivityCutoff. */
  activityCutoff: number;
  /** ActivityCutoffFactorMilli (per-mille of tempo), null on runtimes without it. */
  activityCutoffFactorMilli: number | null;
  kappa: number;
}

/** A timelocked weight commit this client sent, with what is needed to confirm its reveal later. */
export interface WeightsCommit {
  netuid: number;
  hotkey: string;
  /** block the commit was included in */
  commitBlock: number;
  /** epoch index the chain keyed it under (current_epoch_with_lookahead at commitBlock) */
  commitEpoch: number;
  /** commitEpoch + RevealPeriodEpochs: the epoch in which the chain reveals it */
  revealEpoch: number;
  /** first block of the reveal epoch, as predicted at commit time */
  expectedRevealBlock: number;
  revealRound: number;
  /** 'v4': commit_timelocked_weights with the hotkey payload; 'crv3': commit_crv3_weights with the legacy payload (spec <= 300) */
  format: 'v4' | 'crv3';
  /** blake2-256 of the ciphertext (0x hex) */
  commitHash: string;
  /** the weights committed, max-upscaled u16 as the chain stores them */
  uids: number[];
  values: number[];
}

/** Where a commit's reveal stands, read from chain state and events (a failed reveal is silent on chain). */
export type RevealStatus =
  | { state: 'pending'; reason: string }
  | { state: 'revealed'; block: number; weightsOnChain: boolean }
  | { state: 'failed'; block?: number; reason: string };

/** A hotkey's text commitment on a subnet (CommitmentOf or the latest RevealedCommitments entry). */
export interface CommitmentRecord {
  hotkey: string;
  text: string;
  block: number;
  source: 'CommitmentOf' | 'RevealedCommitments';
}

export type ChainWriteErrorKind =
  | 'rejected' // the node's pool refused it (bad signature, stale nonce, unknown call: JSON-RPC 1010/1002/...)
  | 'dispatch' // included, but the call failed (module error)
  | 'rate-limited' // SettingWeightsTooFast (or refused locally before submitting)
  | 'commit-reveal' // a commit-reveal rule: CommitRevealEnabled / Disabled, IncorrectCommitRevealVersion, InvalidRevealRound, TooManyUnrevealedCommits
  | 'not-registered' // hotkey is not registered on the subnet / has no validator permit
  | 'no-balance' // the signer cannot pay the fee (pool: Inability to pay some fees) or its account does not exist
  | 'invalid-input' // bad uids/weights/commitment before anything was sent
  | 'timeout' // no inclusion before the deadline
  | 'disconnected'; // the connection dropped and did not come back in time

export interface ChainWriteError {
  kind: ChainWriteErrorKind;
  message: string;
  /** Pallet and error name for dispatch errors, e.g. SubtensorModule.SettingWeightsTooFast. */
  module?: { section: string; name: string };
}

export type ChainWriteResult = { ok: true; block: number; blockHash: string } | { ok: false; error: ChainWriteError };

/** A read pinned to a block: a block hash (0x…) or a block number; omitted = best block at call time. */
export type BlockRef = string | number | undefined;

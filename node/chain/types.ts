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
  activityCutoff: number;
  kappa: number;
}

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
  | 'commit-reveal' // subnet needs commit-reveal; plain set_weights is refused on chain
  | 'not-registered' // hotkey is not registered on the subnet / has no validator permit
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

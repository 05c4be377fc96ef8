// What a refused write means: subtensor's module errors and the transaction pool's refusals, mapped to a
// ChainWriteError kind and a message that names the cause and the fix; and the client's own errors
// (a chain it cannot reach, a runtime that lacks what Conclave needs). Pure.
import type { ChainWriteError, ChainWriteErrorKind, ChainWriteResult } from './types.ts';

/** The connected chain's metadata lacks something Conclave reads or writes. */
export class ChainSchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChainSchemaError';
  }
}

export class ChainUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChainUnavailableError';
  }
}

/** A write refused or failed before it reached the chain (or that could not be sent). */
export function writeFailure(kind: ChainWriteError['kind'], message: string): ChainWriteResult {
  return { ok: false, error: { kind, message } };
}

/** subtensor's CustomTransactionError codes (common/src/transaction_error.rs): "Custom error: N" from the pool. */
export const CUSTOM_TX_ERRORS: Record<number, string> = {
  0: 'ColdkeyInSwapSchedule', 1: 'StakeAmountTooLow', 2: 'BalanceTooLow', 3: 'SubnetNotExists', 4: 'HotkeyAccountDoesntExist',
  5: 'NotEnoughStakeToWithdraw', 6: 'RateLimitExceeded', 7: 'InsufficientLiquidity', 8: 'SlippageTooHigh', 9: 'TransferDisallowed',
  10: 'HotKeyNotRegisteredInNetwork', 11: 'InvalidIpAddress', 12: 'ServingRateLimitExceeded', 13: 'InvalidPort', 14: 'ZeroMaxAmount',
  15: 'InvalidRevealRound', 16: 'CommitNotFound', 17: 'CommitBlockNotInRevealRange', 18: 'InputLengthsUnequal', 19: 'UidNotFound',
  20: 'EvmKeyAssociateRateLimitExceeded', 21: 'ColdkeySwapDisputed', 22: 'InvalidRealAccount', 23: 'FailedShieldedTxParsing',
  24: 'InvalidShieldedTxPubKeyHash', 25: 'NonAssociatedColdKey', 26: 'DelegateTakeTooLow', 27: 'DelegateTakeTooHigh', 255: 'BadRequest',
};

const RATE_LIMITED = new Set(['SettingWeightsTooFast', 'CommittingWeightsTooFast', 'ServingRateLimitExceeded', 'RateLimitExceeded', 'TxRateLimitExceeded', 'NetworkTxRateLimitExceeded']);
const NOT_REGISTERED = new Set(['HotKeyNotRegisteredInSubNet', 'HotKeyNotRegisteredInNetwork', 'NeuronNoValidatorPermit', 'AccountNotAllowedCommit', 'UidNotFound', 'NotRegistered', 'HotKeyAccountNotExists', 'HotkeyAccountDoesntExist', 'NotEnoughStakeToSetWeights', 'StakeAmountTooLow']);
const COMMIT_REVEAL = new Set(['CommitRevealEnabled', 'CommitRevealDisabled', 'IncorrectCommitRevealVersion', 'InvalidRevealRound', 'TooManyUnrevealedCommits']);
const NO_BALANCE = new Set(['BalanceTooLow', 'NotEnoughBalanceToStake']);

/** What to do about the commit-reveal errors (the issue's list) and a few others an operator meets. */
const ADVICE: Record<string, string> = {
  CommitRevealEnabled: 'the subnet requires commit-reveal weights: plain set_weights is refused; Conclave commits timelocked weights there',
  CommitRevealDisabled: 'commit-reveal is off on this subnet, so timelocked commits are refused; plain set_weights is used once the client sees the flag',
  IncorrectCommitRevealVersion: 'the chain expects another commit-reveal version (SubtensorModule.CommitRevealWeightsVersion); this Conclave build speaks the version it read at connect — update Conclave if the runtime changed',
  InvalidRevealRound: 'the reveal round is older than the newest drand pulse on chain (Drand.LastStoredRound), so the commit would open at once; the next attempt recomputes it from the chain clock',
  CommittingWeightsTooFast: 'this hotkey committed weights less than WeightsSetRateLimit blocks ago (commits update LastUpdate); wait for the rate limit',
  SettingWeightsTooFast: 'weights were set less than WeightsSetRateLimit blocks ago; wait for the rate limit',
  TooManyUnrevealedCommits: 'this hotkey already has 10 unrevealed commits in this epoch; wait for them to be revealed or expire',
  NeuronNoValidatorPermit: 'the hotkey has no validator permit on this subnet: it needs enough stake to be among the top validators',
  HotKeyNotRegisteredInSubNet: 'the hotkey is not registered on this subnet (btcli subnet register)',
  HotKeyNotRegisteredInNetwork: 'the hotkey is not registered on this subnet (btcli subnet register)',
  InvalidIpAddress: 'subtensor refuses this axon address (0.0.0.0, 127.0.0.1, ::1, broadcast); set p2p.announce_address to a reachable address',
  ServingRateLimitExceeded: 'the axon was served less than ServingRateLimit blocks ago; wait',
  BalanceTooLow: 'the signing hotkey cannot pay the fee; transfer a little TAO to it',
};

export function kindOfError(name: string): ChainWriteErrorKind {
  if (RATE_LIMITED.has(name)) return 'rate-limited';
  if (NOT_REGISTERED.has(name)) return 'not-registered';
  if (COMMIT_REVEAL.has(name)) return 'commit-reveal';
  if (NO_BALANCE.has(name)) return 'no-balance';
  return 'dispatch';
}

/** A dispatch (module) error of an included extrinsic. */
export function moduleError(section: string, name: string, docs: string): ChainWriteError {
  const advice = ADVICE[name];
  return { kind: kindOfError(name), message: `${section}.${name}: ${advice ?? (docs.trim() || 'dispatch failed')}`, module: { section, name } };
}

/**
 * A refusal by the node's transaction pool (JSON-RPC error 1010 and friends, as @polkadot/api reports it):
 * fees it cannot pay, a subtensor custom validity error, a stale nonce, a bad signature.
 */
export function poolError(message: string): ChainWriteError {
  const custom = /Custom error:\s*(\d+)|"custom"\s*:\s*(\d+)/i.exec(message);
  if (custom) {
    const name = CUSTOM_TX_ERRORS[Number(custom[1] ?? custom[2])] ?? `Custom(${custom[1] ?? custom[2]})`;
    return { kind: kindOfError(name), message: `transaction pool refused it: ${name}${ADVICE[name] ? ` — ${ADVICE[name]}` : ''} (${message})`, module: { section: 'subtensorModule', name } };
  }
  if (/Inability to pay some fees|balance too low|Payment/i.test(message)) {
    return { kind: 'no-balance', message: `transaction pool refused it: the signing hotkey cannot pay the fee or does not exist on chain; transfer a little TAO to it (${message})` };
  }
  return { kind: 'rejected', message };
}

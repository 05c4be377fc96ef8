// The subnet hyperparameters Conclave reads (SubtensorModule storage, each keyed by netuid) and how
// they make a Hyperparams (pure); SubtensorClient (subnet-reads.ts) and the lean reader read them.
import type { Hyperparams } from './types.ts';

/** Read in this order; every runtime Conclave supports has them. */
export const HYPERPARAM_ITEMS = ['Tempo', 'WeightsSetRateLimit', 'CommitRevealWeightsEnabled', 'WeightsVersionKey', 'SubnetworkN', 'MaxAllowedUids',
  'MinAllowedWeights', 'MaxWeightsLimit', 'ImmunityPeriod', 'MaxAllowedValidators', 'Kappa'] as const;
/** Read by name where present: newer runtimes replace ActivityCutoff by ActivityCutoffFactorMilli (one of the two is required). */
export const OPTIONAL_HYPERPARAM_ITEMS = ['RevealPeriodEpochs', 'ActivityCutoffFactorMilli', 'ActivityCutoff'] as const;

export type HyperparamItem = (typeof HYPERPARAM_ITEMS)[number];
export type OptionalHyperparamItem = (typeof OPTIONAL_HYPERPARAM_ITEMS)[number];

/** The values as read: integers, the one flag, null for an optional item the runtime lacks. */
export interface HyperparamValues {
  int(item: HyperparamItem): number;
  big(item: HyperparamItem): bigint;
  flag(item: HyperparamItem): boolean;
  optional(item: OptionalHyperparamItem): number | null;
}

export function hyperparamsFrom(netuid: number, v: HyperparamValues): Hyperparams {
  const tempo = v.int('Tempo');
  const factor = v.optional('ActivityCutoffFactorMilli');
  const cutoff = v.optional('ActivityCutoff');
  if (factor === null && cutoff === null) throw new Error('hyperparams: neither ActivityCutoffFactorMilli nor ActivityCutoff was read');
  return {
    netuid, tempo, weightsRateLimit: v.int('WeightsSetRateLimit'), commitRevealEnabled: v.flag('CommitRevealWeightsEnabled'),
    weightsVersionKey: v.big('WeightsVersionKey'), subnetworkN: v.int('SubnetworkN'), maxAllowedUids: v.int('MaxAllowedUids'),
    minAllowedWeights: v.int('MinAllowedWeights'), maxWeightsLimit: v.int('MaxWeightsLimit'), immunityPeriod: v.int('ImmunityPeriod'),
    maxAllowedValidators: v.int('MaxAllowedValidators'), kappa: v.int('Kappa'), revealPeriodEpochs: v.optional('RevealPeriodEpochs'),
    activityCutoff: factor !== null ? Math.max(1, Math.floor((factor * tempo) / 1000)) : cutoff!, activityCutoffFactorMilli: factor,
  };
}

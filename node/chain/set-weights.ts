// Plain weights: whether a hotkey may set weights on a subnet, and set_weights itself with the
// refusals checked before sending (commit-reveal subnet, unregistered hotkey, rate limit), so a
// transaction the chain would refuse is never signed.
import type { SubtensorClient } from './client.ts';
import { normaliseWeights } from './encoding.ts';
import { ChainUnavailableError, writeFailure as fail } from './errors.ts';
import type { ChainWriteResult, Sr25519Signer } from './types.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Dyn = any;

/**
 * Whether `hotkey` can set weights on `netuid`: registered, holds a validator permit, and — where the
 * subnet has commit-reveal — the runtime has a timelocked commit call and a drand pallet to reveal it.
 */
export async function readCanSetWeights(client: SubtensorClient, netuid: number, hotkey: string): Promise<{ ok: true; uid: number; commitReveal: boolean } | { ok: false; reason: string }> {
  const hp = await client.hyperparams(netuid);
  if (hp.commitRevealEnabled) {
    const tx = client.api.tx as Dyn;
    const q = client.api.query as Dyn;
    if (!tx.subtensorModule?.commitTimelockedWeights && !tx.subtensorModule?.commitCrv3Weights) {
      return { ok: false, reason: `subnet ${netuid} has CommitRevealWeightsEnabled but the runtime at ${client.endpoint} has neither commit_timelocked_weights nor commit_crv3_weights: this client cannot commit weights there` };
    }
    if (!q.drand?.beaconConfig) return { ok: false, reason: `subnet ${netuid} has CommitRevealWeightsEnabled but the runtime has no Drand pallet to reveal timelocked commits` };
  }
  const neurons = await client.metagraph(netuid);
  const me = neurons.find((n) => n.hotkey === hotkey);
  if (!me) return { ok: false, reason: `hotkey ${hotkey} is not registered on subnet ${netuid}; register it (btcli subnet register --netuid ${netuid})` };
  if (!me.validatorPermit) return { ok: false, reason: `hotkey ${hotkey} (uid ${me.uid}) has no validator permit on subnet ${netuid}; it needs enough stake to be among the top validators` };
  return { ok: true, uid: me.uid, commitReveal: hp.commitRevealEnabled };
}

/**
 * set_weights: `weights` are non-negative numbers, max-upscaled to u16 (largest = 65535); zero weights are
 * dropped. Refused locally (nothing sent) when commit-reveal is on or the rate limit has not passed.
 */
export async function submitSetWeights(client: SubtensorClient, signer: Sr25519Signer, netuid: number, uids: number[], weights: number[], versionKey?: bigint): Promise<ChainWriteResult> {
  const norm = normaliseWeights(uids, weights);
  if (!norm.ok) return fail('invalid-input', norm.reason);
  try {
    const hp = await client.hyperparams(netuid);
    if (hp.commitRevealEnabled) return fail('commit-reveal', `SubtensorModule.CommitRevealEnabled: subnet ${netuid} requires commit-reveal weights; plain set_weights would be refused (use commitWeights / submitWeights)`);
    const mine = await client.lastWeightsUpdate(netuid, signer.hotkey);
    if (!mine) return fail('not-registered', `hotkey ${signer.hotkey} is not registered on subnet ${netuid}`);
    const { uid, block: lastBlock } = mine;
    const best = await client.bestBlock();
    const next = lastBlock + hp.weightsRateLimit;
    if (lastBlock !== 0 && best.number + 1 < next) {
      return fail('rate-limited', `SettingWeightsTooFast (checked before sending): weights for uid ${uid} were set at block ${lastBlock}; the subnet allows one set_weights per ${hp.weightsRateLimit} blocks, next at block ${next} (now ${best.number})`);
    }
    const vk = versionKey ?? hp.weightsVersionKey;
    return client.submit(signer, () => client.txFn('subtensorModule', 'setWeights')(netuid, norm.uids, norm.weights, vk));
  } catch (err) {
    return fail(err instanceof ChainUnavailableError ? 'disconnected' : 'rejected', (err as Error).message);
  }
}

// Signing and submitting an extrinsic: @polkadot/api's signer over an Sr25519Signer (exactly the extrinsic
// payload, blake2-256 first when > 256 bytes), the nonce, inclusion with a deadline, and every failure —
// the pool's refusal, a module error, a dropped connection — mapped to a ChainWriteError.
import type { ApiPromise } from '@polkadot/api';
import type { Signer, SignerResult } from '@polkadot/api/types';
import type { SignerPayloadJSON } from '@polkadot/types/types';
import type { SubmittableExtrinsic } from '@polkadot/api/promise/types';
import { u8aConcat, u8aToHex } from '@polkadot/util';
import { blake2AsU8a, encodeAddress, decodeAddress } from '@polkadot/util-crypto';
import { moduleError, poolError } from './errors.ts';
import type { ChainWriteError, ChainWriteResult, Sr25519Signer } from './types.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Dyn = any;

function fail(kind: ChainWriteError['kind'], message: string): ChainWriteResult {
  return { ok: false, error: { kind, message } };
}

/** Signs `tx` with `signer`, submits it and waits (at most `inclusionTimeoutMs`) for its block. Throws only for local errors. */
export async function submitSigned(api: ApiPromise, endpoint: string, inclusionTimeoutMs: number, signer: Sr25519Signer, tx: SubmittableExtrinsic): Promise<ChainWriteResult> {
  const polkaSigner = polkadotSigner(api, signer);
  const nonce = await nextNonce(api, signer.hotkey);
  return await new Promise<ChainWriteResult>((resolve) => {
    let unsub: (() => void) | undefined;
    let settled = false;
    const done = (r: ChainWriteResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      api.off('disconnected', onDrop);
      unsub?.();
      resolve(r);
    };
    const onDrop = () => done(fail('disconnected', `connection to ${endpoint} dropped before the extrinsic was included; it may still land — check before resubmitting`));
    const timer = setTimeout(() => done(fail('timeout', `not included within ${inclusionTimeoutMs} ms`)), inclusionTimeoutMs);
    api.on('disconnected', onDrop);
    tx.signAndSend(signer.hotkey, { signer: polkaSigner, nonce }, (res) => {
      const st = res.status;
      if (st.isInvalid || st.isDropped || st.isUsurped) return done(fail('rejected', `extrinsic ${st.type.toLowerCase()} by the transaction pool`));
      if (!st.isInBlock && !st.isFinalized) return;
      const blockHash = (st.isInBlock ? st.asInBlock : st.asFinalized).toHex();
      if (res.dispatchError) {
        const e = res.dispatchError;
        if (e.isModule) {
          const m = api.registry.findMetaError(e.asModule);
          return done({ ok: false, error: moduleError(m.section, m.name, m.docs.join(' ')) });
        }
        return done(fail('dispatch', `dispatch failed: ${e.toString()}`));
      }
      api.rpc.chain.getHeader(blockHash).then(
        (h) => done({ ok: true, block: h.number.toNumber(), blockHash }),
        (err: Error) => done(fail('disconnected', `included in ${blockHash} but its header could not be read: ${err.message}`)),
      );
    }).then((u) => {
      unsub = u;
      if (settled) u();
    }, (err: Error) => done(api.isConnected ? { ok: false, error: poolError(err.message) } : fail('disconnected', err.message)));
  });
}

/**
 * The nonce to sign with: the larger of the account's state nonce at the best block and the pool's
 * next index (a pool may lag right after an inclusion, or know pending transactions the state does not).
 */
async function nextNonce(api: ApiPromise, address: string): Promise<number> {
  const [acc, pool] = await Promise.all([
    api.query.system.account(address) as Promise<Dyn>,
    api.rpc.system.accountNextIndex(address).catch(() => null),
  ]);
  return Math.max(Number(acc.nonce.toString()), pool ? Number(pool.toString()) : 0);
}

/** Adapts an Sr25519Signer (wallet hotkey) to @polkadot/api's Signer: signs the exact extrinsic payload. */
export function polkadotSigner(api: ApiPromise, signer: Sr25519Signer): Signer {
  let id = 0;
  return {
    signPayload: async (payload: SignerPayloadJSON): Promise<SignerResult> => {
      if (encodeAddress(decodeAddress(payload.address), 42) !== signer.hotkey) throw new Error(`signer ${signer.hotkey} asked to sign for ${payload.address}`);
      const p = api.registry.createType('ExtrinsicPayload', payload, { version: payload.version });
      let msg = p.toU8a({ method: true });
      if (msg.length > 256) msg = blake2AsU8a(msg, 256);
      const sig = signer.sign(msg);
      return { id: ++id, signature: u8aToHex(u8aConcat(Uint8Array.of(1), sig)) }; // MultiSignature::Sr25519
    },
  };
}

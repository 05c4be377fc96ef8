// Decoding and validity checks for submitted extrinsics, the way a Substrate node's transaction pool does
// it: decode, check the call is one the devchain runs, the mortality window, the nonce, and the sr25519
// signature over exactly the payload @polkadot/api signs (call, era, nonce, tip, CheckMetadataHash mode,
// spec/tx version, genesis hash, birth block hash, metadata hash None; blake2-256 first when > 256 bytes).
import { hexToU8a, u8aToHex, stringCamelCase } from '@polkadot/util';
import { blake2AsU8a, signatureVerify, encodeAddress } from '@polkadot/util-crypto';
import type { Extrinsic } from '@polkadot/types/interfaces';
import type { ChainMeta } from './metadata.ts';
import { SUPPORTED_CALLS, type CallInput } from './runtime.ts';

/** A JSON-RPC error as a Substrate node reports it (code + message + data). */
export class RpcError extends Error {
  readonly code: number;
  readonly data?: string;
  constructor(code: number, message: string, data?: string) {
    super(message);
    this.name = 'RpcError';
    this.code = code;
    this.data = data;
  }
}

/** Substrate's InvalidTransaction texts (author_submitExtrinsic error 1010). */
export const INVALID = {
  call: 'Transaction call is not expected',
  payment: 'Inability to pay some fees (e.g. account balance too low)',
  future: 'Transaction will be valid in the future',
  stale: 'Transaction is outdated',
  badProof: 'Transaction has a bad signature',
  ancientBirthBlock: 'Transaction has an ancient birth block',
  badSigner: 'Invalid signing address',
} as const;

export function invalidTx(what: string): RpcError {
  return new RpcError(1010, 'Invalid Transaction', what);
}

export interface ChainView {
  head: number;
  genesisHash: string;
  hashOf(n: number): string | undefined;
  /** Next nonce of `who`, counting pending pool transactions. */
  nextNonce(who: string): number;
  accountNonce(who: string): number;
  /** Whether `who` exists in System.Account (providers or sufficients > 0). */
  accountExists(who: string): boolean;
}

export interface CheckedExtrinsic {
  hex: string;
  hash: string;
  who: string;
  nonce: number;
  call: CallInput;
  /** Last block (inclusive) in which it may be included. */
  deathBlock: number;
}

export function decodeExtrinsic(meta: ChainMeta, hex: string): Extrinsic {
  try {
    return meta.registry.createType('Extrinsic', hexToU8a(hex));
  } catch (err) {
    throw new RpcError(1002, 'Verification Error: Runtime error: Could not decode extrinsic', (err as Error).message);
  }
}

export function checkExtrinsic(meta: ChainMeta, view: ChainView, hex: string): CheckedExtrinsic {
  const ext = decodeExtrinsic(meta, hex);
  if (!ext.isSigned) throw invalidTx(INVALID.call);
  const id = `${ext.method.section}.${ext.method.method}`;
  if (!SUPPORTED_CALLS.has(id)) throw invalidTx(INVALID.call);
  const signerRaw = ext.signer.toU8a(); // MultiAddress::Id = 0x00 ++ AccountId32
  if (signerRaw.length !== 33 || signerRaw[0] !== 0) throw invalidTx(INVALID.badSigner);
  const who = encodeAddress(signerRaw.subarray(1), 42);

  // mortality
  const current = view.head + 1; // the block it would be included in
  let blockHash = view.genesisHash;
  let deathBlock = Number.MAX_SAFE_INTEGER;
  if (ext.era.isMortalEra) {
    const era = ext.era.asMortalEra;
    const birth = era.birth(view.head);
    deathBlock = era.death(view.head) - 1;
    const h = view.hashOf(birth);
    if (birth > view.head || h === undefined) throw invalidTx(INVALID.ancientBirthBlock);
    if (current > deathBlock) throw invalidTx(INVALID.stale);
    blockHash = h;
  }

  // nonce
  const nonce = ext.nonce.toNumber();
  if (nonce < view.accountNonce(who)) throw invalidTx(INVALID.stale);
  if (nonce > view.nextNonce(who)) throw invalidTx(INVALID.future);
  if (nonce < view.nextNonce(who)) throw new RpcError(1014, 'Priority is too low: (0 vs 0)', 'The transaction has too low priority to replace another transaction already in the pool.');

  // signature over the exact signing payload
  const payload = meta.registry.createType('ExtrinsicPayload', {
    method: ext.method.toHex(),
    era: ext.era.toHex(),
    nonce: ext.nonce,
    tip: ext.tip,
    mode: ext.mode.toNumber(),
    metadataHash: null,
    specVersion: meta.specVersion,
    transactionVersion: meta.transactionVersion,
    genesisHash: view.genesisHash,
    blockHash,
  }, { version: ext.version & 0x7f });
  let msg = payload.toU8a({ method: true });
  if (msg.length > 256) msg = blake2AsU8a(msg, 256);
  const multi = (ext.inner as unknown as { signature: { multiSignature: { toU8a(): Uint8Array } } }).signature.multiSignature.toU8a();
  if (!signatureVerify(msg, multi, who).isValid) throw invalidTx(INVALID.badProof);
  // frame_system's CheckNonce: an account that does not exist (no providers, no sufficients) has not
  // paid for its nonce storage, and the pool refuses its transactions as InvalidTransaction::Payment.
  if (!view.accountExists(who)) throw invalidTx(INVALID.payment);

  return {
    hex,
    hash: u8aToHex(blake2AsU8a(hexToU8a(hex), 256)),
    who,
    nonce,
    call: { section: ext.method.section, method: ext.method.method, args: callArgs(ext) },
    deathBlock,
  };
}

function callArgs(ext: Extrinsic): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  ext.method.meta.args.forEach((a, i) => {
    out[stringCamelCase(a.name.toString())] = ext.method.args[i];
  });
  return out;
}

// The Drand pallet's state as subtensor keeps it: BeaconConfig (the beacon the chain decrypts with),
// Pulses(round) = { round, randomness = sha256(signature), signature } and LastStoredRound. On a real chain
// pulses arrive as unsigned extrinsics from offchain workers that fetched them from drand; on the devchain
// they are injected (verified against BeaconConfig like the pallet verifies them: a real quicknet signature,
// e.g. round 1000) or, with the devchain's own beacon, produced as the chain clock passes each round.
import { sha256 } from '@noble/hashes/sha2.js';
import { bls12_381 } from '@noble/curves/bls12-381.js';
import { u8aToHex } from '@polkadot/util';
import { beaconPublicKey, signRound, verifyRoundSignature } from '../../chain/timelock/tle.ts';
import { latestRoundAt, type DrandBeacon } from '../../chain/timelock/drand.ts';
import type { Store } from '../runtime.ts';

/** The devchain's own beacon: a fixed, public dev key (like //Alice): anyone can sign its rounds. */
export function devBeaconSecret(seed = 'conclave devchain drand beacon'): Uint8Array {
  const Fr = bls12_381.fields.Fr;
  let v = 0n;
  for (const b of sha256(new TextEncoder().encode(seed))) v = (v << 8n) | BigInt(b);
  return Fr.toBytes(Fr.create(v) || 1n);
}

/** BeaconConfig value for the dev beacon whose round 1 is at `genesisTime` (unix seconds). */
export function devBeaconConfig(secret: Uint8Array, genesisTime: number, period = 3) {
  const id = (s: string) => u8aToHex(sha256(new TextEncoder().encode(s)));
  return {
    publicKey: u8aToHex(beaconPublicKey(secret)), period, genesisTime,
    hash: id('conclave devchain beacon'), groupHash: id('conclave devchain beacon group'), schemeId: u8aToHex(new TextEncoder().encode('bls-unchained-g1-rfc9380')),
    metadata: { beaconId: u8aToHex(new TextEncoder().encode('conclave-dev')) },
  };
}

export function beacon(s: Store): DrandBeacon {
  const cfg = s.readDefault('drand', 'beaconConfig') as unknown as { publicKey: { toU8a(raw: boolean): Uint8Array }; period: unknown; genesisTime: unknown };
  return { publicKey: cfg.publicKey.toU8a(true), period: Number(String(cfg.period)), genesisTime: Number(String(cfg.genesisTime)) };
}

export function pulseSignature(s: Store, round: number): Uint8Array | null {
  const v = s.read('drand', 'pulses', round).value as unknown as { isSome?: boolean; unwrap?(): { signature: { toU8a(raw: boolean): Uint8Array } }; signature?: { toU8a(raw: boolean): Uint8Array } } | null;
  if (v === null || v.isSome === false) return null;
  const p = v.unwrap ? v.unwrap() : (v as { signature: { toU8a(raw: boolean): Uint8Array } });
  return p.signature.toU8a(true);
}

/** Stores a pulse (already verified) and moves LastStoredRound forward. */
export function storePulse(s: Store, round: number, signature: Uint8Array): void {
  s.write('drand', 'pulses', [round], { round, randomness: u8aToHex(sha256(signature)), signature: u8aToHex(signature) });
  if (round > s.num('drand', 'lastStoredRound')) s.write('drand', 'lastStoredRound', [], round);
  if (s.num('drand', 'oldestStoredRound') === 0) s.write('drand', 'oldestStoredRound', [], round);
}

/** The pallet's check: the signature is the beacon's for this round. */
export function checkPulse(s: Store, round: number, signature: Uint8Array): string | null {
  if (!Number.isSafeInteger(round) || round < 1) return `round ${round} is not a positive integer`;
  if (signature.length !== 48) return `signature is ${signature.length} bytes; a drand G1 signature is 48`;
  if (!verifyRoundSignature(round, signature, beacon(s).publicKey)) return `signature is not the beacon's (Drand.BeaconConfig) signature of round ${round}`;
  return null;
}

/** Dev beacon: sign and store every round published up to the chain time `nowMs` (at most 50 per block, as the pallet fetches). */
export function publishDevPulses(s: Store, secret: Uint8Array, nowMs: number): number {
  const latest = latestRoundAt(beacon(s), Math.floor(nowMs / 1000));
  const last = s.num('drand', 'lastStoredRound');
  const from = last === 0 ? latest : last + 1;
  let n = 0;
  for (let r = Math.max(1, from, latest - 49); r <= latest; r++, n++) storePulse(s, r, signRound(r, secret));
  return n;
}

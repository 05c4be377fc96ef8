// drand beacons as subtensor's Drand pallet knows them (`Drand.BeaconConfig`), and round arithmetic.
// Facts: ../shared/chain/commit-reveal-v4.md §1 (quicknet: bls-unchained-g1-rfc9380, 3 s period).

export interface DrandBeacon {
  /** G2 public key, 96 bytes compressed */
  publicKey: Uint8Array;
  /** seconds between rounds */
  period: number;
  /** unix seconds of round 1 */
  genesisTime: number;
}

const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));

/** drand quicknet, the beacon subtensor's Drand pallet follows (its default BeaconConfig). */
export const QUICKNET: DrandBeacon & { chainHash: string } = {
  chainHash: '52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971',
  publicKey: hex('83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a'),
  period: 3,
  genesisTime: 1692803367,
};

/**
 * The round a timelocked commit targets so that it opens at unix time `unixSeconds` (bittensor SDK
 * rule: floor((t - genesis) / period), at least 1). drand publishes round n at genesis + (n - 1)·period.
 */
export function revealRoundAt(beacon: DrandBeacon, unixSeconds: number): number {
  return Math.max(1, Math.floor((unixSeconds - beacon.genesisTime) / beacon.period));
}

/** The latest round drand has published at unix time `unixSeconds` (0 before genesis). */
export function latestRoundAt(beacon: DrandBeacon, unixSeconds: number): number {
  if (unixSeconds < beacon.genesisTime) return 0;
  return Math.floor((unixSeconds - beacon.genesisTime) / beacon.period) + 1;
}

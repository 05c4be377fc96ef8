// The simulated subnet: its constants, the members' stakes (by distribution), keys, faults (assigned
// round-robin to the members the seed picks as Byzantine) and signed node bindings.
import { sha256Hex, toHex } from '../../proto/codec.ts';
import { signBinding, type BindingRecord } from '../../proto/binding.ts';
import { ed25519SignerFromSeed, sr25519SignerFromSeed, type Ed25519Signer, type Sr25519Signer } from '../../proto/signer.ts';
import type { Fault, SimOptions, StakeDistribution } from './options.ts';
import type { Prng } from './prng.ts';

const RAO = 1_000_000_000n;
export const NETUID = 7;
export const GENESIS = sha256Hex('conclave-sim-genesis');
export const BIND_AT = 1_700_000_000_000;

export interface SimMember {
  index: number;
  uid: number;
  sr: Sr25519Signer;
  ed: Ed25519Signer;
  nodeKey: string;
  stake: bigint;
  fault: Fault | null;
  binding: BindingRecord;
}

function makeStakes(n: number, dist: StakeDistribution, rng: Prng): bigint[] {
  switch (dist) {
    case 'equal':
      return new Array(n).fill(1000n * RAO);
    case 'uniform':
      return Array.from({ length: n }, () => BigInt(100 + rng.int(9900)) * RAO);
    case 'zipf':
      return Array.from({ length: n }, (_, i) => BigInt(Math.round(100_000 / (i + 1))) * RAO);
    case 'whale':
      // One validator holds 30 % of the stake, the rest share 70 % equally.
      return Array.from({ length: n }, (_, i) => (i === 0 ? BigInt(Math.round((0.3 / 0.7) * (n - 1) * 1000)) * RAO : 1000n * RAO));
  }
}

/** The members, in order; draws the stakes, keys and Byzantine set from `rng` (forks 1, 2, 3). */
export function makeMembers(opts: SimOptions, rng: Prng): SimMember[] {
  const n = opts.validators;
  const stakes = makeStakes(n, opts.stake, rng.fork(1));
  const keyRng = rng.fork(2);
  const byzRng = rng.fork(3);
  const byzSet = new Set(byzRng.shuffle(Array.from({ length: n }, (_, i) => i)).slice(0, opts.byzantine));
  let byzCount = 0;
  const members: SimMember[] = [];
  for (let i = 0; i < n; i++) {
    const sr = sr25519SignerFromSeed(keyRng.bytes(32));
    const ed = ed25519SignerFromSeed(keyRng.bytes(32));
    const fault = byzSet.has(i) ? opts.faults[byzCount++ % opts.faults.length] : null;
    const binding = signBinding({ genesisHash: GENESIS, netuid: NETUID, node: ed, multiaddrs: [`/ip4/127.0.0.1/tcp/${40000 + i}`], issuedAt: BIND_AT, expiresAt: BIND_AT + 7 * 86_400_000 }, sr);
    members.push({ index: i, uid: i + 1, sr, ed, nodeKey: toHex(ed.publicKey), stake: stakes[i], fault, binding });
  }
  return members;
}

// Devchain genesis: a JSON description of subnets, neurons, stakes, permits, balances and miners'
// commitments, the default devnet genesis (4 validators of unequal stake + 6 miners on netuid 1, keys
// derived from fixed dev seeds), and its translation into real subtensor storage entries.
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady, decodeAddress, encodeAddress, sha256AsU8a } from '@polkadot/util-crypto';
import { u8aToHex, stringToU8a } from '@polkadot/util';
import { type ChainMeta, storageKey, encodeValue } from './metadata.ts';

export interface GenesisNeuron {
  /** SS58 hotkey, or omit and give `seed` (e.g. "//Validator0"). */
  hotkey?: string;
  seed?: string;
  coldkey?: string;
  /** Alpha stake in rao (decimal string or number). */
  stake?: string | number;
  validatorPermit?: boolean;
  axon?: { ip: string; port: number };
  /** Commitment text stored under Commitments.CommitmentOf, e.g. "<sha256 hex>:<url>". */
  commitment?: string;
}

export interface GenesisSubnet {
  netuid: number;
  tempo?: number;
  weightsRateLimit?: number;
  commitRevealEnabled?: boolean;
  /** RevealPeriodEpochs: a timelocked commit is revealed this many epochs after it (default 1) */
  revealPeriodEpochs?: number;
  /** ServingRateLimit: blocks between two serve_axon of one hotkey (default: the runtime's, 50) */
  servingRateLimit?: number;
  weightsVersionKey?: number;
  maxAllowedUids?: number;
  minAllowedWeights?: number;
  maxWeightsLimit?: number;
  immunityPeriod?: number;
  /** SS58 hotkey of the subnet owner (SubnetOwnerHotkey); default: the first neuron's hotkey. */
  ownerHotkey?: string;
  neurons: GenesisNeuron[];
}

export interface Genesis {
  chainName?: string;
  /** Chain clock at block 0 (ms); default: now. Each block advances it by one slot (Aura.SlotDuration). */
  genesisTimeMs?: number;
  /**
   * drand beacon of the Drand pallet. 'dev' (default): the devchain's own beacon (a fixed public dev key,
   * `seed` to vary it), whose pulses the devchain publishes as the chain clock passes each round, so
   * timelocked commits reveal on their own. 'quicknet': the real beacon (the pallet's default config);
   * pulses must be injected (dev_injectPulse) with real signatures, e.g. round 1000.
   */
  drand?: { beacon: 'dev' | 'quicknet'; seed?: string };
  /** Free balances in rao; every neuron's hotkey gets 1e12 rao unless listed here. */
  balances?: { address: string; free: string | number }[];
  subnets: GenesisSubnet[];
}

export const DEFAULT_NETUID = 1;
const TAO = 1_000_000_000n;

export function devValidatorSeed(i: number): string {
  return `//Validator${i}`;
}
export function devMinerSeed(i: number): string {
  return `//Miner${i}`;
}

/** sr25519 keypair for a dev seed (call after cryptoWaitReady). */
export function devKeypair(seed: string) {
  return new Keyring({ type: 'sr25519', ss58Format: 42 }).addFromUri(seed);
}

/** The default devnet genesis. Miners commit `<sha256 of placeholder code>:<minerUrl(i)>`. */
export async function defaultGenesis(opts: { validators?: number; miners?: number; minerUrl?: (i: number) => string } = {}): Promise<Genesis> {
  await cryptoWaitReady();
  const nv = opts.validators ?? 4;
  const nm = opts.miners ?? 6;
  const url = opts.minerUrl ?? ((i: number) => `http://127.0.0.1:8700/miner${i}/submission.zip`);
  const neurons: GenesisNeuron[] = [];
  for (let i = 0; i < nv; i++) {
    neurons.push({ seed: devValidatorSeed(i), stake: ((BigInt(nv - i) * 1000n + BigInt(i) * 7n) * TAO).toString(), validatorPermit: true });
  }
  for (let i = 0; i < nm; i++) {
    const code = u8aToHex(sha256AsU8a(stringToU8a(`placeholder submission of miner ${i}`)), -1, false);
    neurons.push({ seed: devMinerSeed(i), stake: '0', validatorPermit: false, commitment: `${code}:${url(i)}` });
  }
  return {
    chainName: 'Conclave Devchain',
    subnets: [{ netuid: DEFAULT_NETUID, tempo: 20, weightsRateLimit: 5, commitRevealEnabled: false, weightsVersionKey: 0, neurons }],
  };
}

export interface ResolvedNeuron {
  uid: number;
  hotkey: string;
  coldkey: string;
  stake: bigint;
  validatorPermit: boolean;
  axon?: { ip: string; port: number };
  commitment?: string;
}

function resolveHotkey(n: GenesisNeuron): string {
  if (n.hotkey) return encodeAddress(decodeAddress(n.hotkey), 42);
  if (n.seed) return devKeypair(n.seed).address;
  throw new Error('genesis neuron needs "hotkey" (SS58) or "seed" (e.g. "//Miner0")');
}

export function resolveNeurons(s: GenesisSubnet): ResolvedNeuron[] {
  if (!Array.isArray(s.neurons)) throw new Error(`genesis subnet ${s.netuid} needs a "neurons" array`);
  return s.neurons.map((n, uid) => {
    let hotkey: string;
    let stake: bigint;
    try {
      hotkey = resolveHotkey(n);
      stake = BigInt(n.stake ?? 0);
      if (stake < 0n || stake > 0xffffffffffffffffn) throw new Error('stake must fit a u64 (rao)');
      if (n.commitment !== undefined && typeof n.commitment !== 'string') throw new Error('commitment must be a string');
    } catch (err) {
      throw new Error(`genesis subnet ${s.netuid} neuron ${uid}: ${(err as Error).message}`);
    }
    return {
      uid,
      hotkey,
      coldkey: n.coldkey ? encodeAddress(decodeAddress(n.coldkey), 42) : hotkey,
      stake,
      validatorPermit: n.validatorPermit ?? false,
      axon: n.axon,
      commitment: n.commitment,
    };
  });
}

/** IPv4 dotted quad -> u128 as subtensor stores it (ip_type 4). */
export function ipv4ToInt(ip: string): bigint {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`bad IPv4 address "${ip}"`);
  return parts.reduce((a, p) => a * 256n + BigInt(p), 0n);
}

/** Commitment text -> CommitmentInfo fields: one Raw<N> field (N <= 128) or BigRaw beyond that. */
export function commitmentFields(text: string): Record<string, string>[] {
  const bytes = stringToU8a(text);
  return [bytes.length <= 128 ? { [`Raw${bytes.length}`]: u8aToHex(bytes) } : { BigRaw: u8aToHex(bytes) }];
}

export function accountInfo(nonce: number, free: bigint) {
  return { nonce, consumers: 0, providers: 1, sufficients: 0, data: { free, reserved: 0, frozen: 0, flags: 0 } };
}

/** Genesis -> storage entries (hex key -> hex value). Validates the genesis and names what is wrong. */
export function genesisStorage(meta: ChainMeta, g: Genesis): Map<string, string> {
  if (!g || !Array.isArray(g.subnets) || g.subnets.length === 0) throw new Error('genesis needs a non-empty "subnets" array');
  const kv = new Map<string, string>();
  const put = (pallet: string, item: string, args: unknown[], value: unknown) =>
    kv.set(storageKey(meta, pallet, item, ...args), encodeValue(meta, pallet, item, value));
  const balances = new Map<string, bigint>();
  const seen = new Set<number>();
  for (const s of g.subnets) {
    if (!Number.isInteger(s.netuid) || s.netuid < 0 || s.netuid > 65535 || seen.has(s.netuid)) throw new Error(`genesis subnet has a bad or duplicate netuid: ${s.netuid}`);
    seen.add(s.netuid);
    const neurons = resolveNeurons(s);
    const n = neurons.length;
    const hotkeys = new Set(neurons.map((x) => x.hotkey));
    if (hotkeys.size !== n) throw new Error(`genesis subnet ${s.netuid} lists a hotkey twice`);
    const net = s.netuid;
    put('subtensorModule', 'networksAdded', [net], true);
    put('subtensorModule', 'subnetworkN', [net], n);
    put('subtensorModule', 'tempo', [net], s.tempo ?? 360);
    put('subtensorModule', 'weightsSetRateLimit', [net], s.weightsRateLimit ?? 100);
    put('subtensorModule', 'commitRevealWeightsEnabled', [net], s.commitRevealEnabled ?? false);
    if (s.revealPeriodEpochs !== undefined) put('subtensorModule', 'revealPeriodEpochs', [net], s.revealPeriodEpochs);
    if (s.servingRateLimit !== undefined) put('subtensorModule', 'servingRateLimit', [net], s.servingRateLimit);
    if (meta.decorated.query.subtensorModule.lastEpochBlock) {
      // register_network seeds LastEpochBlock with the registration block minus a per-netuid stagger
      const tempo = s.tempo ?? 360;
      put('subtensorModule', 'lastEpochBlock', [net], Math.max(0, 0 - (net % Math.max(1, tempo))));
      put('subtensorModule', 'subnetEpochIndex', [net], 0);
    }
    put('subtensorModule', 'weightsVersionKey', [net], s.weightsVersionKey ?? 0);
    put('subtensorModule', 'maxAllowedUids', [net], s.maxAllowedUids ?? Math.max(256, n));
    put('subtensorModule', 'minAllowedWeights', [net], s.minAllowedWeights ?? 1);
    put('subtensorModule', 'maxWeightsLimit', [net], s.maxWeightsLimit ?? 65535);
    put('subtensorModule', 'immunityPeriod', [net], s.immunityPeriod ?? 5000);
    const ownerHotkey = s.ownerHotkey ? encodeAddress(decodeAddress(s.ownerHotkey), 42) : neurons[0]?.hotkey;
    if (ownerHotkey) {
      put('subtensorModule', 'subnetOwnerHotkey', [net], ownerHotkey);
      put('subtensorModule', 'subnetOwner', [net], neurons.find((x) => x.hotkey === ownerHotkey)?.coldkey ?? ownerHotkey);
    }
    put('subtensorModule', 'validatorPermit', [net], neurons.map((x) => x.validatorPermit));
    put('subtensorModule', 'active', [net], neurons.map(() => true));
    put('subtensorModule', 'lastUpdate', [net], neurons.map(() => 0));
    for (const item of ['rank', 'trust', 'consensus', 'incentive', 'dividends']) put('subtensorModule', item, [net], neurons.map(() => 0));
    put('subtensorModule', 'emission', [net], neurons.map(() => 0));
    for (const x of neurons) {
      put('subtensorModule', 'keys', [net, x.uid], x.hotkey);
      put('subtensorModule', 'uids', [net, x.hotkey], x.uid);
      put('subtensorModule', 'owner', [x.hotkey], x.coldkey);
      put('subtensorModule', 'blockAtRegistration', [net, x.uid], 0);
      if (x.stake > 0n) {
        put('subtensorModule', 'totalHotkeyAlpha', [x.hotkey, net], x.stake);
        put('subtensorModule', 'alpha', [x.hotkey, x.coldkey, net], { bits: x.stake << 64n });
      }
      if (x.axon) {
        put('subtensorModule', 'axons', [net, x.hotkey], { block: 0, version: 1, ip: ipv4ToInt(x.axon.ip), port: x.axon.port, ipType: 4, protocol: 4, placeholder1: 0, placeholder2: 0 });
      }
      if (x.commitment !== undefined) {
        put('commitments', 'commitmentOf', [net, x.hotkey], { deposit: 0, block: 0, info: { fields: commitmentFields(x.commitment) } });
      }
      if (!balances.has(x.hotkey)) balances.set(x.hotkey, 1_000_000n * TAO);
    }
  }
  put('subtensorModule', 'totalNetworks', [], g.subnets.length);
  for (const b of g.balances ?? []) balances.set(encodeAddress(decodeAddress(b.address), 42), BigInt(b.free));
  for (const [addr, free] of balances) put('system', 'account', [addr], accountInfo(0, free));
  return kv;
}

// The metagraph read: paged key scans + batched state_queryStorageAt (1,000 keys per call), SCALE decoded
// directly — a handful of RPCs for any subnet size, never one per neuron.
import { hexToU8a, u8aToHex } from '@polkadot/util';
import { blake2AsU8a, encodeAddress } from '@polkadot/util-crypto';
import type { SubtensorClient } from './client.ts';
import { ChainSchemaError } from './errors.ts';
import { ipFromU128 } from './encoding.ts';
import { rawEntries, rawValues, type RpcSend } from './raw-storage.ts';
import type { BlockRef, Neuron } from './types.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Dyn = any;

/** Refuses a storage map whose key hashers differ from what the direct key decoding assumes. */
function requireHashers(q: Dyn, want: string[], name: string): void {
  const t = q.creator.meta.type;
  const got: string[] = t.isMap ? t.asMap.hashers.map((h: Dyn) => h.toString()) : [];
  if (got.join(',') !== want.join(',')) throw new ChainSchemaError(`${name} uses key hashers [${got.join(', ')}], expected [${want.join(', ')}]; this subtensor version is not supported yet`);
}

function anyHex(x: string | Uint8Array): string {
  return typeof x === 'string' ? x.toLowerCase() : u8aToHex(x);
}

function u64le(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = Math.min(8, b.length) - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  return v;
}

  /**
   * The metagraph of `netuid` at a block: uid -> hotkey (Keys), stake (TotalHotkeyAlpha, rao of alpha),
   * validator permits, axons. Paged key scans + batched state_queryStorageAt (1,000 keys per call), decoded
   * directly from SCALE: a handful of RPCs in total, never one per neuron.
   */
export async function readMetagraph(client: SubtensorClient, netuid: number, at?: BlockRef): Promise<Neuron[]> {
  const { apiAt, hash } = await client.at(at);
  const send: RpcSend = (method, params) => client.send(method, params);
  return client.read(async () => {
      const keysQ = client.storage(apiAt, 'subtensorModule', 'keys');
      const stakeQ = client.storage(apiAt, 'subtensorModule', 'totalHotkeyAlpha');
      const axonsQ = client.storage(apiAt, 'subtensorModule', 'axons');
      const permitsQ = client.storage(apiAt, 'subtensorModule', 'validatorPermit');
      requireHashers(keysQ, ['Identity', 'Identity'], 'SubtensorModule.Keys');
      requireHashers(stakeQ, ['Blake2_128Concat', 'Identity'], 'SubtensorModule.TotalHotkeyAlpha');
      requireHashers(axonsQ, ['Identity', 'Blake2_128Concat'], 'SubtensorModule.Axons');
      const [keyEntries, permitsRaw, axonEntries] = await Promise.all([
        rawEntries(send, anyHex(keysQ.keyPrefix(netuid)), hash),
        send<string | null>('state_getStorage', [permitsQ.key(netuid), hash]),
        rawEntries(send, anyHex(axonsQ.keyPrefix(netuid)), hash),
      ]);
      const rows: { uid: number; hotkey: string; pk: Uint8Array }[] = [];
      for (const [k, v] of keyEntries) {
        if (v === null) continue;
        const kb = hexToU8a(k);
        const vb = hexToU8a(v);
        if (vb.length !== 32) throw new Error(`SubtensorModule.Keys value of ${vb.length} bytes; expected an AccountId32`);
        rows.push({ uid: kb[kb.length - 2] | (kb[kb.length - 1] << 8), hotkey: encodeAddress(vb, 42), pk: vb });
      }
      rows.sort((a, b) => a.uid - b.uid);
      const prefix = anyHex(stakeQ.keyPrefix()).slice(2);
      const netLe = u8aToHex(Uint8Array.of(netuid & 255, netuid >> 8)).slice(2);
      const stakeKeys = rows.map((r) => `0x${prefix}${u8aToHex(blake2AsU8a(r.pk, 128)).slice(2)}${u8aToHex(r.pk).slice(2)}${netLe}`);
      const stakeVals = await rawValues(send, stakeKeys, hash);
      const permits: boolean[] = permitsRaw ? (client.api.registry.createType('Vec<bool>', hexToU8a(permitsRaw)).toJSON() as boolean[]) : [];
      const axons = new Map<string, { ip: string; port: number }>();
      const axonType = client.api.registry.createLookupType(axonsQ.creator.meta.type.asMap.value);
      for (const [k, v] of axonEntries) {
        if (v === null) continue;
        const a = client.api.registry.createType(axonType, hexToU8a(v)) as Dyn;
        const ip = ipFromU128(BigInt(a.ip.toString()), Number(a.ipType.toString()));
        const port = Number(a.port.toString());
        if (ip && port > 0) axons.set(encodeAddress(hexToU8a(k).slice(-32), 42), { ip, port });
      }
      return rows.map((r, i) => {
        const sv = stakeVals[i];
        const n: Neuron = { uid: r.uid, hotkey: r.hotkey, stake: sv ? u64le(hexToU8a(sv)) : 0n, validatorPermit: permits[r.uid] === true };
        const ax = axons.get(r.hotkey);
        if (ax) n.axon = ax;
        return n;
      });
    });
  }

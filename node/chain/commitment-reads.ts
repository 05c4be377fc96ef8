// The text commitments on a subnet (Commitments.CommitmentOf and RevealedCommitments, the newer
// per hotkey) and what Conclave reads from them: the miners' roster joined with the metagraph and
// the validators' score commitments of one run. Malformed entries are skipped with a reason.
import { encodeAddress } from '@polkadot/util-crypto';
import type { SubtensorClient } from './client.ts';
import { joinMinerRoster, newestCommitments, scoreCommitmentsOf } from './commitments.ts';
import type { BlockRef, CommitmentRecord, RosterEntry } from './types.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Dyn = any;

/** Every text commitment on `netuid` at a block, by hotkey (the newer of CommitmentOf and RevealedCommitments). */
export async function readCommitments(client: SubtensorClient, netuid: number, at?: BlockRef): Promise<{ records: CommitmentRecord[]; skipped: { hotkey: string; reason: string }[] }> {
  const { apiAt } = await client.at(at);
  return client.read(async () => {
    const plainQ = client.storage(apiAt, 'commitments', 'commitmentOf');
    const revealedQ = client.storage(apiAt, 'commitments', 'revealedCommitments', true);
    const [plain, revealed] = await Promise.all([plainQ.entries(netuid), revealedQ ? revealedQ.entries(netuid) : Promise.resolve([])]);
    const hotkeyOf = (k: Dyn) => encodeAddress(k.args[1].toU8a(), 42);
    return newestCommitments(
      (plain as [Dyn, Dyn][]).map(([k, v]) => {
        const reg = v.isSome ? v.unwrap() : v;
        return { hotkey: hotkeyOf(k), fields: reg.info.fields.toJSON(), block: Number(reg.block.toString()) };
      }),
      (revealed as [Dyn, Dyn][]).flatMap(([k, v]) => {
        const list = (v.isSome ? v.unwrap() : v) as Dyn[];
        const last = list[list.length - 1];
        return last ? [{ hotkey: hotkeyOf(k), bytes: last[0].toU8a(true) as Uint8Array, block: Number(last[1].toString()) }] : [];
      }),
    );
  });
}

/** Miners' `<sha256>:<url>` commitments joined with the metagraph; malformed or unregistered ones skipped with a reason. */
export async function readMinerRoster(client: SubtensorClient, netuid: number, at?: BlockRef): Promise<{ entries: RosterEntry[]; skipped: { uid: number; hotkey: string; reason: string }[] }> {
  const hash = await client.blockHash(at);
  const [neurons, { records, skipped }] = await Promise.all([client.metagraph(netuid, hash), client.commitments(netuid, hash)]);
  return joinMinerRoster(neurons, records, skipped);
}

/** Validators' `conclave/v2:<runId>:<sha256(salt || report)>` commitments for `runId` in effect at a block (hotkey -> commitment + block). */
export async function readScoreCommitments(client: SubtensorClient, netuid: number, runId: number, at?: BlockRef): Promise<Map<string, { hash: string; block: number }>> {
  return scoreCommitmentsOf((await client.commitments(netuid, at)).records, runId);
}

// The text commitments on a subnet (Commitments.CommitmentOf and RevealedCommitments, the newer
// per hotkey) and what Conclave reads from them: the miners' roster joined with the metagraph and
// the validators' score commitments of one run. Malformed entries are skipped with a reason.
import { encodeAddress } from '@polkadot/util-crypto';
import type { SubtensorClient } from './client.ts';
import { commitmentText, joinMinerRoster, scoreCommitmentsOf } from './commitments.ts';
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
    const best = new Map<string, CommitmentRecord>();
    const skipped: { hotkey: string; reason: string }[] = [];
    for (const [k, v] of plain as [Dyn, Dyn][]) {
      const hotkey = encodeAddress(k.args[1].toU8a(), 42);
      const reg = v.isSome ? v.unwrap() : v;
      const t = commitmentText(reg.info.fields.toJSON());
      if (!t.ok) {
        skipped.push({ hotkey, reason: t.reason });
        continue;
      }
      best.set(hotkey, { hotkey, text: t.text, block: Number(reg.block.toString()), source: 'CommitmentOf' });
    }
    for (const [k, v] of revealed as [Dyn, Dyn][]) {
      const hotkey = encodeAddress(k.args[1].toU8a(), 42);
      const list = (v.isSome ? v.unwrap() : v) as Dyn[];
      const last = list[list.length - 1];
      if (!last) continue;
      const block = Number(last[1].toString());
      let text: string;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(last[0].toU8a(true));
      } catch {
        skipped.push({ hotkey, reason: 'revealed commitment is not valid UTF-8' });
        continue;
      }
      const prev = best.get(hotkey);
      if (!prev || block >= prev.block) best.set(hotkey, { hotkey, text, block, source: 'RevealedCommitments' });
    }
    return { records: [...best.values()], skipped };
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

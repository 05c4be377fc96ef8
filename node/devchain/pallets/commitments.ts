// Commitments.set_commitment as subtensor's commitments pallet applies it (registered hotkeys only, at most
// 3 fields, MaxSpace), storing the Registration and LastCommitment.
import { u8aConcat, u8aToHex } from '@polkadot/util';
import { storageKey } from '../metadata.ts';
import { encodeEvent, ModuleError, num, u32le, type EncodedEvent, type Store } from '../runtime.ts';

export function setCommitment(s: Store, who: string, block: number, a: Record<string, unknown>): EncodedEvent[] {
  const netuid = num(a.netuid);
  if (s.read('subtensorModule', 'uids', netuid, who).value === null) throw new ModuleError('commitments', 'AccountNotAllowedCommit');
  const info = a.info as { fields: unknown[] } & { toJSON(): unknown; toU8a(): Uint8Array };
  if (info.fields.length > 3) throw new ModuleError('commitments', 'TooManyFieldsInCommitmentInfo');
  const maxSpace = s.num('commitments', 'maxSpace');
  if (info.toU8a().length > maxSpace) throw new ModuleError('commitments', 'SpaceLimitExceeded');
  s.ov.set(storageKey(s.meta, 'commitments', 'commitmentOf', netuid, who),
    u8aToHex(u8aConcat(s.meta.registry.createType('u64', 0).toU8a(), u32le(block), info.toU8a())));
  s.write('commitments', 'lastCommitment', [netuid, who], block);
  return [encodeEvent(s.meta, 'commitments', 'Commitment', [netuid, who])];
}

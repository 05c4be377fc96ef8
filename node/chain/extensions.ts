// Signed (transaction) extensions subtensor adds and @polkadot/api does not know. Each is declared with
// exactly the bytes it puts into the extrinsic and into the signing payload, so extrinsics encode — and
// the signing payload hashes — byte-identically to what the runtime expects. At connect the client checks
// the chain's metadata against these declarations (`checkSignedExtensions`): an extension that carries
// data and is declared nowhere would shift every byte after it, so it is refused with its name rather
// than producing "bad signature" refusals later.
import type { Registry } from '@polkadot/types/types';
import type { Metadata } from '@polkadot/types';
import { allExtensions } from '@polkadot/types/extrinsic/signedExtensions';

type ExtensionDef = { extrinsic: Record<string, string>; payload: Record<string, string> };

const EMPTY: ExtensionDef = { extrinsic: {}, payload: {} };

/** Pass as `signedExtensions` to ApiPromise.create (and to TypeRegistry.setSignedExtensions). */
export const SUBTENSOR_SIGNED_EXTENSIONS: Record<string, ExtensionDef> = {
  SubtensorTransactionExtension: EMPTY,
  DrandPriority: EMPTY,
  SudoTransactionExtension: EMPTY,
  CheckShieldedTxValidity: EMPTY,
  // the tip, as ChargeTransactionPayment; newer runtimes wrap it under this identifier
  ChargeTransactionPaymentWrapper: { extrinsic: { tip: 'Compact<Balance>' }, payload: {} },
};

/** Thrown when the chain's metadata lists a transaction extension the client cannot encode. */
export class UnknownSignedExtensionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnknownSignedExtensionError';
  }
}

/** True when a type encodes to zero bytes (`()`, an empty tuple/struct, or compositions of those). */
function isEmptyType(registry: Registry, id: number, depth = 0): boolean {
  if (depth > 16) return false;
  const def = registry.lookup.getSiType(id).def;
  if (def.isTuple) return def.asTuple.every((t) => isEmptyType(registry, t.toNumber(), depth + 1));
  if (def.isComposite) return def.asComposite.fields.every((f) => isEmptyType(registry, f.type.toNumber(), depth + 1));
  if (def.isArray) return def.asArray.len.toNumber() === 0;
  return false;
}

/** The single compact integer a tip extension encodes (`(Compact<Balance>)` or a struct around one). */
function isCompactTip(registry: Registry, id: number, depth = 0): boolean {
  if (depth > 16) return false;
  const def = registry.lookup.getSiType(id).def;
  if (def.isCompact) return true;
  const inner = def.isTuple ? def.asTuple.map((t) => t.toNumber()) : def.isComposite ? def.asComposite.fields.map((f) => f.type.toNumber()) : null;
  return inner !== null && inner.length === 1 && isCompactTip(registry, inner[0], depth + 1);
}

export interface ExtensionInfo {
  identifier: string;
  /** type id of what the extension adds to the extrinsic */
  type: number;
  /** type id of what it adds to the signing payload (additionalSigned / implicit) */
  implicit: number;
}

/**
 * The transaction extensions the chain's metadata lists, read from the version it was served in (V14/V15
 * signedExtensions with additionalSigned, V16 transactionExtensions with implicit). Not from the registry's
 * upgraded copy: @polkadot/types' V15→V16 conversion loses `implicit` (it writes `implict`).
 */
export function metadataExtensions(metadata: Metadata): ExtensionInfo[] {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const m = metadata as any;
  const v = metadata.version;
  if (v === 16) return m.asV16.extrinsic.transactionExtensions.map((e: any) => ({ identifier: e.identifier.toString(), type: e.type.toNumber(), implicit: e.implicit.toNumber() })); // eslint-disable-line @typescript-eslint/no-explicit-any
  if (v === 15 || v === 14) return m[`asV${v}`].extrinsic.signedExtensions.map((e: any) => ({ identifier: e.identifier.toString(), type: e.type.toNumber(), implicit: e.additionalSigned.toNumber() })); // eslint-disable-line @typescript-eslint/no-explicit-any
  throw new UnknownSignedExtensionError(`metadata version ${v} is not supported (14, 15 or 16 expected)`);
}

/**
 * Refuses a chain whose extensions the client would encode wrongly: one @polkadot/api does not know and
 * we do not declare that carries data, or one we declare whose metadata type differs from the declaration.
 * Returns the extensions accepted as carrying nothing (for the log).
 */
export function checkSignedExtensions(registry: Registry, metadata: Metadata, endpoint: string): { empty: string[] } {
  const problems: string[] = [];
  const empty: string[] = [];
  for (const e of metadataExtensions(metadata)) {
    const ours = SUBTENSOR_SIGNED_EXTENSIONS[e.identifier];
    if (ours) {
      const wantsTip = 'tip' in ours.extrinsic;
      const okType = wantsTip ? isCompactTip(registry, e.type) : isEmptyType(registry, e.type);
      if (!okType || !isEmptyType(registry, e.implicit)) problems.push(`${e.identifier} (declared ${wantsTip ? 'as a compact tip' : 'empty'}, but the chain's type differs)`);
      else if (!wantsTip) empty.push(e.identifier);
      continue;
    }
    if (e.identifier in allExtensions) continue;
    if (isEmptyType(registry, e.type) && isEmptyType(registry, e.implicit)) {
      empty.push(e.identifier);
      continue;
    }
    problems.push(`${e.identifier} (unknown, and it carries data)`);
  }
  if (problems.length) {
    throw new UnknownSignedExtensionError(`the chain at ${endpoint} uses transaction extensions this client cannot encode: ${problems.join('; ')}. `
      + 'Extrinsics signed without them would be refused as bad signatures; update Conclave to a version that knows this subtensor runtime.');
  }
  return { empty };
}

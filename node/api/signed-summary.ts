// Signed JSON documents served by the API (the shadow-mode divergence summary): the signature is
// sr25519 by the validator's hotkey over signingBytes(domain, utf8(canonical JSON)), where the
// canonical JSON has object keys sorted and no whitespace. Anyone can verify it offline.
import { signingBytes, toHex, fromHex } from '../../proto/codec.ts';
import { verifySr25519, type Sr25519Signer } from '../../proto/signer.ts';
import { canonicalJson } from '../../proto/canonical-json.ts';

export const DIVERGENCE_DOMAIN = 'conclave/divergence-summary/v1';

export interface SignedDocument<T> {
  domain: string;
  signer: string;
  body: T;
  signature: string;
}

export function signDocument<T>(domain: string, body: T, signer: Sr25519Signer): SignedDocument<T> {
  const msg = signingBytes(domain, new TextEncoder().encode(canonicalJson(body)));
  return { domain, signer: signer.hotkey, body, signature: toHex(signer.sign(msg)) };
}

export function verifyDocument(doc: SignedDocument<unknown>, expectedDomain: string): { ok: true } | { ok: false; reason: string } {
  if (!doc || typeof doc !== 'object') return { ok: false, reason: 'not a signed document' };
  if (doc.domain !== expectedDomain) return { ok: false, reason: `domain is ${JSON.stringify(doc.domain)}, expected ${expectedDomain}` };
  let sig: Uint8Array;
  try {
    sig = fromHex(doc.signature, 64, 'signature');
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  const msg = signingBytes(doc.domain, new TextEncoder().encode(canonicalJson(doc.body)));
  return verifySr25519(msg, sig, doc.signer) ? { ok: true } : { ok: false, reason: `signature does not verify for ${doc.signer}` };
}

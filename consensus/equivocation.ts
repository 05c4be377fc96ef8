// Equivocation: two valid signatures by one key on conflicting statements for the same run.
// - report: two different score reports (same netuid and run) signed by one hotkey;
// - vote: two votes by one node key with the same netuid, run, view and phase but different
//   decision hashes (proposals are 'propose' votes). The binding record, when attached, ties the
//   node key to a hotkey so the proof names the hotkey.
// - binding: two bindings of one node key to two different hotkeys, on one chain and subnet, both
//   countersigned by that node key, with overlapping validity (the node key spoke for two hotkeys).
// A proof is portable: anyone verifies it offline with `verifyEquivocationProof`.
import { fromHex, sha256Hex, signingBytes } from '../proto/codec.ts';
import { voteSigningBytes, type EquivocationProof, type Vote } from '../proto/consensus.ts';
import { SCORE_REPORT_DOMAIN, encodeScoreReport, scoreReportSigningBytes, type SignedScoreReport } from '../proto/score-report.ts';
import { bindingsOverlap, verifyBinding, verifyBindingSignatures } from '../proto/binding.ts';
import { verifyEd25519, verifySr25519 } from '../proto/signer.ts';

/** Signature checks, injectable so a simulator can count and memoise them. */
export interface Verifier {
  sr25519(msg: Uint8Array, sig: Uint8Array, hotkey: string): boolean;
  ed25519(msg: Uint8Array, sig: Uint8Array, publicKey: Uint8Array): boolean;
}

export const nativeVerifier: Verifier = {
  sr25519: (msg, sig, hotkey) => verifySr25519(msg, sig, hotkey),
  ed25519: (msg, sig, pk) => verifyEd25519(msg, sig, pk),
};

export function verifyReportSignature(signed: SignedScoreReport, verifier: Verifier): boolean {
  let msg: Uint8Array;
  let sig: Uint8Array;
  try {
    msg = scoreReportSigningBytes(signed.report);
    sig = fromHex(signed.signature, 64, 'report signature');
  } catch {
    return false;
  }
  return verifier.sr25519(msg, sig, signed.report.validatorHotkey);
}

/** Verifies a report's signature over its canonical encoding `encoded` (already in hand: not re-encoded). */
export function verifyEncodedReport(encoded: Uint8Array, signed: SignedScoreReport, verifier: Verifier): boolean {
  try {
    return verifier.sr25519(signingBytes(SCORE_REPORT_DOMAIN, encoded), fromHex(signed.signature, 64, 'report signature'), signed.report.validatorHotkey);
  } catch {
    return false;
  }
}

export function verifyVoteSignature(v: Vote, verifier: Verifier): boolean {
  try {
    return verifier.ed25519(voteSigningBytes(v), fromHex(v.signature, 64, 'vote signature'), fromHex(v.voter, 32, 'vote voter'));
  } catch {
    return false;
  }
}

export type ProofCheck =
  | { ok: true; netuid: number; runId: number; offender: { hotkey: string | null; nodeKey: string | null; hotkeys?: [string, string] } }
  | { ok: false; reason: string };

export function verifyEquivocationProof(proof: EquivocationProof, verifier: Verifier = nativeVerifier): ProofCheck {
  if (proof.kind === 'report') {
    const a = proof.a.report;
    const b = proof.b.report;
    if (a.validatorHotkey !== b.validatorHotkey) return { ok: false, reason: 'the two reports are signed by different hotkeys' };
    if (a.netuid !== b.netuid || a.runId !== b.runId) return { ok: false, reason: 'the two reports are for different runs (not conflicting)' };
    // Encode each report once: its hash and its signing bytes both come from the canonical bytes.
    let ea: Uint8Array;
    let eb: Uint8Array;
    try {
      ea = encodeScoreReport(a);
      eb = encodeScoreReport(b);
    } catch (err) {
      return { ok: false, reason: `malformed report: ${(err as Error).message}` };
    }
    if (sha256Hex(ea) === sha256Hex(eb)) return { ok: false, reason: 'the two reports are identical (not conflicting)' };
    if (!verifyEncodedReport(ea, proof.a, verifier)) return { ok: false, reason: 'signature of report a does not verify' };
    if (!verifyEncodedReport(eb, proof.b, verifier)) return { ok: false, reason: 'signature of report b does not verify' };
    return { ok: true, netuid: a.netuid, runId: a.runId, offender: { hotkey: a.validatorHotkey, nodeKey: null } };
  }
  if (proof.kind === 'binding') {
    const { a, b } = proof;
    if (a.nodePublicKey !== b.nodePublicKey) return { ok: false, reason: 'the two bindings are for different node keys' };
    if (a.genesisHash !== b.genesisHash || a.netuid !== b.netuid) return { ok: false, reason: 'the two bindings are for different chains or subnets (not conflicting)' };
    if (a.hotkey === b.hotkey) return { ok: false, reason: 'the two bindings name the same hotkey (a re-signed binding, not conflicting)' };
    if (!bindingsOverlap(a, b)) return { ok: false, reason: 'the two bindings were never valid at the same time (the node key moved on)' };
    const ca = verifyBindingSignatures(a);
    if (!ca.ok) return { ok: false, reason: `binding a: ${ca.reason}` };
    const cb = verifyBindingSignatures(b);
    if (!cb.ok) return { ok: false, reason: `binding b: ${cb.reason}` };
    return { ok: true, netuid: a.netuid, runId: 0, offender: { hotkey: null, nodeKey: a.nodePublicKey, hotkeys: [a.hotkey, b.hotkey] } };
  }
  const { a, b } = proof;
  if (a.voter !== b.voter) return { ok: false, reason: 'the two votes are signed by different node keys' };
  if (a.netuid !== b.netuid || a.runId !== b.runId || a.view !== b.view || a.phase !== b.phase) {
    return { ok: false, reason: 'the two votes differ in run, view or phase (not conflicting)' };
  }
  if (a.decisionHash === b.decisionHash) return { ok: false, reason: 'the two votes are for the same decision (not conflicting)' };
  if (!verifyVoteSignature(a, verifier)) return { ok: false, reason: 'signature of vote a does not verify' };
  if (!verifyVoteSignature(b, verifier)) return { ok: false, reason: 'signature of vote b does not verify' };
  let hotkey: string | null = null;
  if (proof.binding) {
    if (proof.binding.nodePublicKey !== a.voter) return { ok: false, reason: 'the attached binding is for another node key' };
    // The binding is checked as of its own issue time: a later expiry does not undo the attribution.
    const check = verifyBinding(proof.binding, proof.binding.issuedAt);
    if (!check.ok) return { ok: false, reason: `attached binding is invalid: ${check.reason}` };
    hotkey = proof.binding.hotkey;
  }
  return { ok: true, netuid: a.netuid, runId: a.runId, offender: { hotkey, nodeKey: a.voter } };
}

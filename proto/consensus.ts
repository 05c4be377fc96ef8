// Consensus wire formats (owned by consensus/): decision, votes, proposals, certificates,
// view changes, report requests, equivocation proofs, prior-run evidence and report inventories.
// Canonical bytes via proto/codec.ts; every decoder is strict (one value, one encoding).
//
// Envelope v2: u8 version=2 | u8 tag | body. Tags: 1 reveal, 2 proposal, 3 vote, 4 certificate,
// 5 view-change, 6 request-reports, 7 equivocation, 8 request-prior, 9 prior, 10 inventory.
// Version 1 messages are refused (their decisions carry no incumbent evidence and their reports no salt).
//
// Decision v2: u8 version=2 | u16 netuid | u64 runId | [32] rosterHash | [32] policyHash
//   | u32-len utf8 hardwareClass | u8 outcome (0 winner, 1 hold) | opt-u16 winnerUid | opt-[32] winnerHotkey
//   | opt-u16 incumbentUid | u8 hasPrevious [u64 previous runId | [32] previous decisionHash]
//   | u16 n, n x (u16 uid, u32 weightPpm) | u16 n, n x (u16 uid, u64 score)
//   | u16 n, n x [32] report hash (ascending) | u64 countedPower | u64 totalPower
//   | u16 n, n x ([32] hotkey, u32 streak) missed reveals (ascending by key) | u16 n, n x [32] excluded hotkey (ascending)
//   (opt-X = u8 present flag, then X when present; hotkeys as 32-byte public keys)
// decisionHash = sha256(utf8("conclave/consensus-decision/v2") || 0x00 || decision bytes).
//
// Vote (proposals are votes of phase 'propose'):
//   u8 phase (0 propose, 1 prepare, 2 commit) | u16 netuid | u64 runId | u32 view | [32] decisionHash
//   | [32] voter node key (ed25519) | [64] signature
// Signature = ed25519(node key, utf8("conclave/consensus-vote/v2") || 0x00 || first 47 bytes).
//
// ViewChange: u16 netuid | u64 runId | u32 newView | opt certificate (prepared lock)
//   | [32] voter | [64] signature
// Signature = ed25519(node key, utf8("conclave/consensus-view-change/v2") || 0x00 ||
//   u16 netuid | u64 runId | u32 newView | u8 hasLock | [u32 lockView | [32] lockDecisionHash]).
//
// Certificate: u8 phase (1 prepare, 2 commit) | u32 view | decision (u32-len) | u16 n, n x vote
//   (votes strictly ascending by voter key; each vote's phase/run/view/hash must match).
//
// CertifiedRun v1 (a commit certificate with the bindings that attribute its voters to hotkeys; what a
// member lacking a previous run's certificate fetches, what archives and audits keep):
//   u8 version=1 | u32-len certificate | u16 n, n x u32-len binding (proto/binding.ts)
//
// Reveal (tag 1): proto/reveal.ts bytes, to the end of the message.
//
// This file is the barrel: each message family is in ./consensus/ (types.ts: constants and shapes;
// decision.ts; vote.ts; certificate.ts: certificates and certified runs; view-change.ts;
// equivocation.ts; message.ts: the envelope). Importers use this path.
export { WIRE_VERSION, DECISION_VERSION, CERTIFIED_RUN_VERSION, DECISION_DOMAIN, VOTE_DOMAIN, VIEW_CHANGE_DOMAIN, MAX_MEMBERS, MAX_DECISION_SCORES, MAX_HASH_REQUEST, MAX_CERT_BYTES, MAX_CERTIFIED_RUN_BYTES, MAX_MESSAGE_BYTES } from './consensus/types.ts';
export type { Phase, Weight, PreviousRef, Decision, Vote, Certificate, CertifiedRun, ViewChange, Proposal, EquivocationProof, ConsensusMessage } from './consensus/types.ts';
export { compareHotkeys, encodeDecision, decodeDecision, decisionHash } from './consensus/decision.ts';
export { voteSigningBytes, signVote, encodeVote, decodeVote } from './consensus/vote.ts';
export { encodeCertificate, decodeCertificate, certificateRunOf, encodeCertifiedRun, decodeCertifiedRun } from './consensus/certificate.ts';
export { viewChangeSigningBytes, signViewChange } from './consensus/view-change.ts';
export { encodeEquivocationProof, decodeEquivocationProof } from './consensus/equivocation.ts';
export { encodeMessage, decodeMessage } from './consensus/message.ts';

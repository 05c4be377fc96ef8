// Pure parts of the mesh: wire codecs, admission registry, message validation verdicts, store, rate limit.
import assert from 'node:assert/strict';
import { cryptoReady } from '../../proto/signer.ts';
import { BINDING_DOMAIN, encodeBindingBody, signBinding, encodeBinding, type BindingRecord, type UnsignedBinding } from '../../proto/binding.ts';
import { signScoreReport, type ScoreReport, type SignedScoreReport } from '../../proto/score-report.ts';
import { encodeReveal } from '../../proto/reveal.ts';
import { verifyEquivocationProof } from '../../consensus/equivocation.ts';
import { sha256Hex, signingBytes, toHex, CodecError } from '../../proto/codec.ts';
import {
  decodeFetchRequest, decodeFetchResponse, decodeGossipEnvelope, decodeHello, encodeFetchRequest, encodeFetchResponse,
  encodeGossipEnvelope, encodeHello, signGossipEnvelope, verifyGossipEnvelope, type GossipKind,
} from '../../proto/gossip.ts';
import { Admission } from '../../node/p2p/admission.ts';
import { CONSENSUS_BURST, MessageValidator } from '../../node/p2p/message-validator.ts';
import { encodeMessage, signVote } from '../../proto/consensus.ts';
import { ContentStore } from '../../node/p2p/content-store.ts';
import { PeerRateLimiter } from '../../node/p2p/rate-limit.ts';
import { boundValidator, type BoundValidator } from './identities.ts';

const NOW = 1_800_000_000_000;
const GENESIS = sha256Hex('p2p-test-genesis');
const SCOPE = { genesisHash: GENESIS, netuid: 7 };

type V = BoundValidator;
const validator = (): V => boundValidator(SCOPE, NOW);

/** A reveal (salt + signed report), as the reports topic carries it. */
function rv(signed: SignedScoreReport): Uint8Array {
  return encodeReveal({ salt: sha256Hex(`salt-${signed.signature}`), signed });
}

/** What a hijacker can make: its hotkey's valid signature over a body naming `victim`'s node key (it cannot countersign). */
function hijack(by: V, victim: V, issuedAt: number): BindingRecord {
  const body: UnsignedBinding = { version: 2, ...SCOPE, hotkey: by.hot.hotkey, nodePublicKey: victim.binding.nodePublicKey, peerId: victim.binding.peerId, multiaddrs: [], issuedAt, expiresAt: issuedAt + 3600_000 };
  return { ...body, signature: toHex(by.hot.sign(signingBytes(BINDING_DOMAIN, encodeBindingBody(body)))), nodeSignature: victim.binding.nodeSignature };
}

function report(v: V, runId: number, netuid = 7): ScoreReport {
  return {
    version: 1, netuid, runId, rosterHash: sha256Hex('r'), policyHash: sha256Hex('p'), hardwareClass: 'cpu',
    validatorHotkey: v.hot.hotkey, entries: [{ uid: 1, minerHotkey: v.hot.hotkey, codeSha256: sha256Hex('c'), score: 5, status: 'scored' }], issuedAt: NOW,
  };
}

function env(v: V, kind: GossipKind, runId: number, payload: Uint8Array, issuedAt = NOW, netuid = 7): Uint8Array {
  return encodeGossipEnvelope(signGossipEnvelope({ version: 1, kind, netuid, runId, issuedAt, payload }, v.node));
}

describe('p2p: wire formats (proto/gossip.ts)', () => {
  before(cryptoReady);

  it('envelope round-trips, verifies, and refuses tampering and trailing bytes', () => {
    const v = validator();
    const bytes = env(v, 'consensus', 5, Uint8Array.of(1, 2, 3));
    const e = decodeGossipEnvelope(bytes);
    assert.equal(e.kind, 'consensus');
    assert.deepEqual([...e.payload], [1, 2, 3]);
    assert.ok(verifyGossipEnvelope(e));
    assert.deepEqual(encodeGossipEnvelope(e), bytes);
    assert.ok(!verifyGossipEnvelope({ ...e, runId: 6 }));
    assert.throws(() => decodeGossipEnvelope(Uint8Array.from([...bytes, 0])), CodecError);
    assert.throws(() => decodeGossipEnvelope(bytes.subarray(0, 20)), CodecError);
  });

  it('hello and fetch frames round-trip and enforce bounds', () => {
    const v = validator();
    const h = { version: 1 as const, netuid: 3, status: 'refused' as const, reason: 'nope', binding: encodeBinding(v.binding), known: [encodeBinding(v.binding)] };
    assert.deepEqual(decodeHello(encodeHello(h)), h);
    const q = { version: 1 as const, op: 'get' as const, netuid: 3, runId: 9, hashes: [sha256Hex('a'), sha256Hex('b')] };
    assert.deepEqual(decodeFetchRequest(encodeFetchRequest(q)), q);
    assert.throws(() => encodeFetchRequest({ ...q, hashes: Array(65).fill(sha256Hex('a')) }), /limit of 64/);
    const s = { version: 1 as const, status: 'ok' as const, message: '', hashes: [sha256Hex('x')], items: [{ kind: 'blob' as const, bytes: Uint8Array.of(9) }] };
    assert.deepEqual(decodeFetchResponse(encodeFetchResponse(s)), s);
  });
});

describe('p2p: admission and message validation', () => {
  let a: V, b: V, outsider: V;
  let adm: Admission;
  let val: MessageValidator;
  const peerOf = (v: V) => v.binding.peerId;

  before(cryptoReady);
  beforeEach(() => {
    a = validator(); b = validator(); outsider = validator();
    adm = new Admission(SCOPE);
    adm.setValidatorSet([{ hotkey: a.hot.hotkey, stake: 10n }, { hotkey: b.hot.hotkey, stake: 20n }], NOW);
    val = new MessageValidator(adm, { netuid: 7, freshnessMs: 60_000 });
    val.setCurrentRun(100);
  });

  it('admits a validator binding and refuses a non-member or a binding presented by another peer', () => {
    assert.deepEqual(adm.consider(a.binding, NOW, peerOf(a)), { ok: true, changed: true });
    const r = adm.consider(outsider.binding, NOW, peerOf(outsider));
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.reason, 'not-validator');
    const stolen = adm.consider(b.binding, NOW, peerOf(a));
    assert.equal(stolen.ok, false);
    assert.ok(!adm.isBound(peerOf(b)));
  });

  it('drops bound peers whose hotkey leaves the validator set', () => {
    adm.consider(a.binding, NOW);
    adm.consider(b.binding, NOW);
    const dropped = adm.setValidatorSet([{ hotkey: b.hot.hotkey, stake: 1n }], NOW);
    assert.deepEqual(dropped, [peerOf(a)]);
    assert.ok(!adm.isBound(peerOf(a)) && adm.isBound(peerOf(b)));
  });

  it('accepts a valid report once, then suppresses the duplicate', () => {
    adm.consider(a.binding, NOW);
    const bytes = env(a, 'report', 100, rv(signScoreReport(report(a, 100), a.hot)));
    const v1 = val.check(bytes, { nowMs: NOW, via: 'gossip', author: peerOf(a), expectKind: 'report' });
    assert.equal(v1.action, 'accept');
    assert.ok(v1.action === 'accept' && val.markDelivered(v1.hash, NOW));
    const v2 = val.check(bytes, { nowMs: NOW, via: 'gossip', author: peerOf(a), expectKind: 'report' });
    assert.deepEqual(v2.action === 'ignore' && [v2.reason, v2.strike], ['duplicate', false]);
  });

  it('rejects unbound authors, forged signatures, impersonation, other runs and stale gossip, counting each reason', () => {
    adm.consider(a.binding, NOW);
    adm.consider(b.binding, NOW);
    const good = rv(signScoreReport(report(a, 100), a.hot));
    const verdict = (bytes: Uint8Array, author: string, nowMs = NOW) => {
      const v = val.check(bytes, { nowMs, via: 'gossip', author, expectKind: 'report' });
      return v.action === 'accept' ? ['accept'] : [v.action, v.reason, v.strike];
    };
    assert.deepEqual(verdict(env(outsider, 'report', 100, good), peerOf(outsider)), ['reject', 'unknown-peer', false]);
    const forged = signScoreReport(report(a, 100), a.hot);
    forged.signature = (forged.signature[0] === 'a' ? 'b' : 'a') + forged.signature.slice(1);
    assert.deepEqual(verdict(env(a, 'report', 100, rv(forged)), peerOf(a)), ['reject', 'bad-report-signature', true]);
    assert.deepEqual(verdict(env(b, 'report', 100, good), peerOf(a)), ['reject', 'signer-mismatch', true]);
    // b publishing a's report (e.g. with a wrong salt, racing a's reveal): only the author publishes its reveal
    assert.deepEqual(verdict(env(b, 'report', 100, good), peerOf(b)), ['reject', 'signer-mismatch', true]);
    assert.deepEqual(verdict(env(a, 'report', 98, good), peerOf(a)), ['ignore', 'wrong-run', false]);
    assert.deepEqual(verdict(env(a, 'report', 100, good, NOW - 120_000), peerOf(a)), ['ignore', 'stale', false]);
    assert.deepEqual(verdict(env(a, 'consensus', 100, good), peerOf(a)), ['reject', 'wrong-kind', true]);
    assert.deepEqual(verdict(Uint8Array.of(1, 2, 3), peerOf(a)), ['reject', 'decode', true]);
    const tampered = env(a, 'report', 100, good);
    tampered[tampered.length - 1] ^= 1;
    assert.deepEqual(verdict(tampered, peerOf(a)), ['reject', 'bad-signature', true]);
    assert.equal(val.counters['unknown-peer'], 1);
    assert.equal(val.counters['bad-report-signature'], 1);
    assert.equal(val.counters['wrong-run'], 1);
    // fetched messages skip the freshness window (catch-up) but keep run pinning
    assert.equal(val.check(env(a, 'report', 100, good, NOW - 120_000), { nowMs: NOW, via: 'fetch' }).action, 'accept');
  });

  it('gossip without a transport author (unsigned gossipsub frames): the envelope signer is the author, and must be bound', () => {
    adm.consider(a.binding, NOW);
    adm.consider(b.binding, NOW);
    const verdict = (bytes: Uint8Array) => {
      const v = val.check(bytes, { nowMs: NOW, via: 'gossip', expectKind: 'report' });
      return v.action === 'accept' ? ['accept'] : [v.action, v.reason, v.strike];
    };
    const mine = rv(signScoreReport({ ...report(a, 100), issuedAt: NOW + 7 }, a.hot));
    assert.deepEqual(verdict(env(a, 'report', 100, mine)), ['accept'], 'a forwarded copy of a\'s own reveal: accepted whoever relayed it');
    assert.deepEqual(verdict(env(outsider, 'report', 100, rv(signScoreReport({ ...report(a, 100), issuedAt: NOW + 8 }, a.hot)))), ['reject', 'unknown-peer', false], 'a node key bound to no validator');
    assert.deepEqual(verdict(env(b, 'report', 100, rv(signScoreReport({ ...report(a, 100), issuedAt: NOW + 9 }, a.hot)))), ['reject', 'signer-mismatch', true], 'b cannot publish a\'s reveal');
    const tampered = env(a, 'report', 100, rv(signScoreReport({ ...report(a, 100), issuedAt: NOW + 10 }, a.hot)));
    tampered[tampered.length - 1] ^= 1;
    assert.deepEqual(verdict(tampered), ['reject', 'bad-signature', true]);
    const binding = val.check(env(b, 'binding', 0, encodeBinding(b.binding)), { nowMs: NOW, via: 'gossip', expectKind: 'binding' });
    assert.equal(binding.action, 'accept', 'a binding relayed on the topic is checked by its own signatures');
  });

  it('flood limits: a third distinct report of one author in a run is ignored, consensus messages per author are rate-limited, garbage consensus payloads are schema failures', () => {
    adm.consider(a.binding, NOW);
    const check = (bytes: Uint8Array, kind: 'report' | 'consensus', nowMs = NOW) => {
      const v = val.check(bytes, { nowMs, via: 'gossip', author: peerOf(a), expectKind: kind });
      if (v.action === 'accept') val.markDelivered(v.hash, nowMs);
      return v.action === 'accept' ? ['accept'] : [v.action, v.reason, v.strike];
    };
    const rep = (k: number) => env(a, 'report', 100, rv(signScoreReport({ ...report(a, 100), issuedAt: NOW + k }, a.hot)));
    assert.deepEqual(check(rep(1), 'report'), ['accept']);
    assert.deepEqual(check(rep(2), 'report'), ['accept'], 'the second report travels: it proves an equivocation');
    assert.deepEqual(check(rep(3), 'report'), ['ignore', 'flood', false], 'a third is noise, not forwarded, no penalty');
    // undecodable consensus payload inside a validly signed envelope: a schema failure (P4 + strike)
    assert.deepEqual(check(env(a, 'consensus', 100, Uint8Array.of(1, 99, 0)), 'consensus'), ['reject', 'decode', true]);
    const vote = (k: number) => encodeMessage({ type: 'vote', vote: signVote({ phase: 'prepare', netuid: 7, runId: 100, view: k, decisionHash: sha256Hex(`d${k}`) }, a.node) });
    let accepted = 0;
    let flooded = 0;
    for (let k = 0; k < CONSENSUS_BURST + 20; k++) {
      const r = check(env(a, 'consensus', 100, vote(k)), 'consensus');
      if (r[0] === 'accept') accepted++;
      else if (r[1] === 'flood') flooded++;
    }
    assert.equal(accepted, CONSENSUS_BURST - 1, 'the garbage message above took one token');
    assert.equal(flooded, 21);
    // the bucket refills
    assert.deepEqual(check(env(a, 'consensus', 100, vote(10_000)), 'consensus', NOW + 1000), ['accept']);
    // a mesh configured for many test reports per author (conclave mesh --reports-per-author)
    const lax = new MessageValidator(adm, { netuid: 7, freshnessMs: 60_000, maxReportsPerAuthorRun: 10 });
    lax.setCurrentRun(100);
    for (let k = 1; k <= 3; k++) assert.equal(lax.check(rep(k + 10), { nowMs: NOW, via: 'gossip', author: peerOf(a), expectKind: 'report' }).action, 'accept');
  });

  it('keeps the previous run after the run advances, and no older one', () => {
    adm.consider(a.binding, NOW);
    val.setCurrentRun(200);
    const mk = (run: number) => env(a, 'report', run, rv(signScoreReport(report(a, run), a.hot)));
    assert.equal(val.check(mk(100), { nowMs: NOW, via: 'gossip', author: peerOf(a) }).action, 'accept');
    val.setCurrentRun(300);
    const old = val.check(mk(100), { nowMs: NOW, via: 'fetch' });
    assert.equal(old.action === 'ignore' && old.reason, 'wrong-run');
  });

  it('a binding on the bindings topic admits its author only when it is a validator', () => {
    const ok = val.check(env(a, 'binding', 0, encodeBinding(a.binding)), { nowMs: NOW, via: 'gossip', author: peerOf(a), expectKind: 'binding' });
    assert.equal(ok.action, 'accept');
    assert.ok(adm.isBound(peerOf(a)));
    const no = val.check(env(outsider, 'binding', 0, encodeBinding(outsider.binding)), { nowMs: NOW, via: 'gossip', author: peerOf(outsider), expectKind: 'binding' });
    assert.equal(no.action === 'reject' && no.reason, 'not-validator');
    const relayed = val.check(env(a, 'binding', 0, encodeBinding(a.binding)), { nowMs: NOW, via: 'gossip', author: peerOf(b), expectKind: 'binding' });
    assert.equal(relayed.action === 'reject' && relayed.reason, 'binding-mismatch');
  });

  it('binding hijack: another hotkey\'s binding of an honest node key, issued later, never displaces it', () => {
    assert.deepEqual(adm.consider(a.binding, NOW, peerOf(a)), { ok: true, changed: true });
    // b signs (validly, with its hotkey) a body naming a's node key, later than a's binding, relayed in peer exchange
    const r = adm.consider(hijack(b, a, NOW + 10), NOW + 20);
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.detail : '', /did not countersign/);
    assert.equal(adm.bindingOf(peerOf(a))?.hotkey, a.hot.hotkey, 'a keeps its node key');
    // a's own re-hello (refreshed binding) still works
    const refreshed = signBinding({ ...SCOPE, node: a.node, multiaddrs: [], issuedAt: NOW + 30, expiresAt: NOW + 3600_000 }, a.hot);
    assert.deepEqual(adm.consider(refreshed, NOW + 40, peerOf(a)), { ok: true, changed: true });
  });

  it('a node key that signed for two hotkeys: the second is refused with a verifiable equivocation proof', () => {
    adm.consider(a.binding, NOW);
    // a's node key countersigns a binding to b's hotkey (one operator key shared by two hotkeys)
    const second = signBinding({ ...SCOPE, node: a.node, multiaddrs: [], issuedAt: NOW, expiresAt: NOW + 3600_000 }, b.hot);
    const r = adm.consider(second, NOW + 1);
    assert.equal(!r.ok && r.reason, 'node-key-taken');
    assert.ok(!r.ok && r.proof);
    const check = verifyEquivocationProof(r.ok ? ({} as never) : r.proof!);
    assert.ok(check.ok && check.offender.nodeKey === a.binding.nodePublicKey);
    assert.equal(adm.bindingOf(peerOf(a))?.hotkey, a.hot.hotkey, 'the first binding stays');
    // on the bindings topic the node key announcing its second hotkey is struck, and the proof travels with the verdict
    const v = val.check(env(a, 'binding', 0, encodeBinding(second)), { nowMs: NOW + 2, via: 'gossip', author: peerOf(a), expectKind: 'binding' });
    assert.ok(v.action === 'reject' && v.strike && v.proof?.kind === 'binding');
  });

  it('bindings are scoped: one from another subnet or chain does not replay', () => {
    const other = signBinding({ genesisHash: GENESIS, netuid: 8, node: a.node, multiaddrs: [], issuedAt: NOW - 1000, expiresAt: NOW + 3600_000 }, a.hot);
    const r = adm.consider(other, NOW, peerOf(a));
    assert.equal(!r.ok && r.reason, 'wrong-scope');
    const otherChain = signBinding({ genesisHash: sha256Hex('another chain'), netuid: 7, node: a.node, multiaddrs: [], issuedAt: NOW - 1000, expiresAt: NOW + 3600_000 }, a.hot);
    const r2 = adm.consider(otherChain, NOW, peerOf(a));
    assert.equal(!r2.ok && r2.reason, 'wrong-scope');
    assert.ok(!adm.isBound(peerOf(a)));
  });
});

describe('p2p: content store and rate limiter', () => {
  it('serves inventory per run, prunes old runs and checks blob hashes', () => {
    const s = new ContentStore(3);
    s.putEnvelope('aa', Uint8Array.of(1), 1);
    s.putEnvelope('bb', Uint8Array.of(2), 2);
    assert.deepEqual(s.inventory(1, 10), ['aa']);
    s.pruneRuns([2]);
    assert.ok(!s.has('aa') && s.has('bb'));
    assert.throws(() => s.putBlob(sha256Hex('x'), new TextEncoder().encode('y')), /does not match/);
    for (const k of ['c', 'd', 'e']) s.putBlob(sha256Hex(k), new TextEncoder().encode(k));
    assert.equal(s.size, 3);
    assert.ok(!s.has('bb'), 'oldest entry evicted at capacity');
  });

  it('token bucket limits bursts per peer and refills over time', () => {
    const r = new PeerRateLimiter(2, 1);
    assert.ok(r.take('p', 0) && r.take('p', 0));
    assert.ok(!r.take('p', 0));
    assert.ok(r.take('q', 0), 'peers are limited independently');
    assert.ok(r.take('p', 1000));
  });
});

// Run-bundle protocol: an outsider (no binding, not a validator) fetches a past run's reveals
// (signed report + salt) and certified run (commit certificate + voter bindings) from a validator by multiaddr. Real LevelDB archive, real sr25519, real libp2p over
// loopback TCP: once against a `conclave mesh --archive` process, once against an in-process Mesh
// (paging and rate limits).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Archive } from '../../node/archive.ts';
import { Mesh } from '../../node/p2p/mesh.ts';
import { archiveRunBundleProvider, fetchRunBundle, RunBundleError } from '../../node/p2p/run-bundle.ts';
import { archiveCertifiedRun, archiveEvidenceReader, archiveReveal } from '../../node/validator/evidence.ts';
import { STANDALONE_GENESIS } from '../../node/commands/mesh.ts';
import { sha256Hex } from '../../proto/codec.ts';
import { decodeReveal, encodeReveal } from '../../proto/reveal.ts';
import { signBinding } from '../../proto/binding.ts';
import { decisionHash, decodeCertifiedRun, signVote, type CertifiedRun, type Decision } from '../../proto/consensus.ts';
import { ed25519SignerFromSeed } from '../../proto/signer.ts';
import {
  decodeRunBundleRequest, decodeRunBundleResponse, encodeRunBundleRequest, encodeRunBundleResponse, runBundlePage,
} from '../../proto/gossip.ts';
import { scoreReportHash, signScoreReport, type SignedScoreReport } from '../../proto/score-report.ts';
import { cryptoReady, sr25519SignerFromSeed } from '../../proto/signer.ts';
import { FAST_FLAGS, Member, makeIdentity, validatorsJson } from './harness.ts';

const NETUID = 1;
const RUN = 7200;

function reportOf(seed: Uint8Array, runId: number, uidScore: number): SignedScoreReport {
  const signer = sr25519SignerFromSeed(seed);
  return signScoreReport({
    version: 1, netuid: NETUID, runId, rosterHash: sha256Hex('roster'), policyHash: sha256Hex('policy'), hardwareClass: 'cpu-test',
    validatorHotkey: signer.hotkey, issuedAt: Date.now(),
    entries: [{ uid: 1, minerHotkey: signer.hotkey, codeSha256: sha256Hex('code'), score: uidScore, status: 'scored' }],
  }, signer);
}

const hashesOf = (list: Uint8Array[]) => new Set(list.map((b) => scoreReportHash(decodeReveal(b).signed.report)));
const saltOf = (s: SignedScoreReport) => sha256Hex(`salt-${s.signature}`);
/** A certified run with its bindings in node-key order (the archive returns them in vote order). */
const sorted = (x: CertifiedRun): CertifiedRun => ({ ...x, bindings: [...x.bindings].sort((a, b) => (a.nodePublicKey < b.nodePublicKey ? -1 : 1)) });

/** A commit certificate of run `runId` voted by three node keys, with their bindings. */
function certifiedRunFor(runId: number): CertifiedRun {
  const voters = [1, 2, 3].map((i) => ({ hot: sr25519SignerFromSeed(new Uint8Array(32).fill(60 + i)), node: ed25519SignerFromSeed(new Uint8Array(32).fill(70 + i)) }));
  const decision: Decision = {
    version: 2, netuid: NETUID, runId, rosterHash: sha256Hex('roster'), policyHash: sha256Hex('policy'), hardwareClass: 'cpu-test', outcome: 'hold',
    winnerUid: null, winnerHotkey: null, incumbentUid: null, previous: null, weights: [{ uid: 0, weightPpm: 1_000_000 }], scores: [],
    reportHashes: [], countedPower: 0n, totalPower: 3n, missedReveals: [], excluded: [],
  };
  const h = decisionHash(decision);
  const votes = voters.map((v) => signVote({ phase: 'commit', netuid: NETUID, runId, view: 0, decisionHash: h }, v.node)).sort((a, b) => (a.voter < b.voter ? -1 : 1));
  const bindings = voters.map((v) => signBinding({ genesisHash: STANDALONE_GENESIS, netuid: NETUID, node: v.node, multiaddrs: [], issuedAt: 1, expiresAt: 2 }, v.hot));
  return { certificate: { phase: 'commit', view: 0, decision, votes }, bindings };
}

describe('p2p: run-bundle wire format', () => {
  it('round-trips requests and responses and refuses inconsistent frames', () => {
    const q = { version: 1 as const, netuid: 3, runId: 123456, offset: 7 };
    assert.deepEqual(decodeRunBundleRequest(encodeRunBundleRequest(q)), q);
    assert.throws(() => decodeRunBundleRequest(Uint8Array.of(...encodeRunBundleRequest(q), 0)), /expected 13 bytes/);
    assert.throws(() => encodeRunBundleRequest({ ...q, offset: 5000 }), /exceeds/);
    const r = { version: 1 as const, status: 'ok' as const, message: '', total: 3, offset: 1, reports: [Uint8Array.of(1, 2), Uint8Array.of(3)], certificate: Uint8Array.of(9, 9) };
    assert.deepEqual(decodeRunBundleResponse(encodeRunBundleResponse(r)), r);
    assert.throws(() => encodeRunBundleResponse({ ...r, total: 2 }), /exceed total/);
    const bytes = encodeRunBundleResponse(r);
    bytes[8] = 9; // offset 9 of total 3
    assert.throws(() => decodeRunBundleResponse(bytes), /inconsistent counts/);
  });

  it('pages a bundle under a byte cap: every report exactly once, certificate on the first page only', () => {
    const reports = Array.from({ length: 7 }, (_, i) => new Uint8Array(100 + i).fill(i));
    const cert = new Uint8Array(50).fill(0xcc);
    const seen: Uint8Array[] = [];
    let offset = 0;
    let pages = 0;
    while (offset < reports.length) {
      const p = runBundlePage(reports, cert, offset, 400);
      assert.ok(encodeRunBundleResponse(p).length <= 400, 'page fits the cap');
      assert.equal(p.certificate.length, offset === 0 ? 50 : 0);
      assert.ok(p.reports.length >= 1);
      seen.push(...p.reports);
      offset += p.reports.length;
      pages++;
    }
    assert.deepEqual(seen, reports);
    assert.ok(pages >= 3, `expected several pages, got ${pages}`);
  });
});

describe('p2p: run bundle served to an outsider over loopback TCP', function () {
  this.timeout(90_000);
  let dir = '';
  let stored: SignedScoreReport[] = [];
  let certified: CertifiedRun;

  before(async () => {
    await cryptoReady();
    dir = await mkdtemp(join(tmpdir(), 'conclave-bundle-'));
    const archive = await Archive.open(join(dir, 'archive'));
    stored = [0, 1, 2].map((i) => reportOf(randomBytes(32), RUN, 400_000 + i));
    for (const s of stored) assert.equal(await archiveReveal(archive, { salt: saltOf(s), signed: s }), 'stored');
    await archiveReveal(archive, { salt: sha256Hex('x'), signed: reportOf(randomBytes(32), RUN + 360, 1) }); // another run: must not leak into RUN's bundle
    await archive.putReport(reportOf(randomBytes(32), RUN, 9)); // a report without its salt is no reveal: never served
    certified = certifiedRunFor(RUN);
    assert.equal(await archiveCertifiedRun(archive, { netuid: NETUID, runId: RUN }, certified), 'stored');
    await archive.close();
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a `conclave mesh --archive` process serves the run to a non-validator dialer, without admitting it', async () => {
    const id = await makeIdentity();
    const member = await Member.start(id, ['--validators', validatorsJson([id]), '--archive', join(dir, 'archive'), '--no-dht', ...FAST_FLAGS]);
    try {
      assert.match(member.multiaddr, /\/p2p\//);
      const bundle = await fetchRunBundle(member.multiaddr, NETUID, RUN, { timeoutMs: 15_000 });
      assert.equal(bundle.peerId, member.peerId);
      assert.deepEqual(hashesOf(bundle.reports), new Set(stored.map((s) => scoreReportHash(s.report))));
      for (const b of bundle.reports) assert.equal(decodeReveal(b).salt, saltOf(decodeReveal(b).signed), 'each reveal carries its salt');
      assert.ok(bundle.certificate);
      assert.deepEqual(sorted(decodeCertifiedRun(bundle.certificate)), sorted(certified), 'the certified run: certificate and its voters\' bindings');

      await assert.rejects(fetchRunBundle(member.multiaddr, NETUID, RUN + 1, { timeoutMs: 10_000 }), (e: RunBundleError) => e.status === 'not-found' && /not in that validator's archive/.test(e.message));
      await assert.rejects(fetchRunBundle(member.multiaddr, NETUID + 1, RUN, { timeoutMs: 10_000 }), (e: RunBundleError) => e.status === 'bad-request' && /netuid 1/.test(e.message));
      await assert.rejects(fetchRunBundle(member.multiaddr.replace(/\/p2p\/.*$/, ''), NETUID, RUN), /does not end in \/p2p\/<peer id>/);

      const metrics = (await member.cmd({ cmd: 'metrics' })).metrics;
      assert.equal(metrics.runBundle.served, 1);
      assert.equal(metrics.runBundle.notFound, 1);
      assert.equal(metrics.admittedPeers, 0, 'the auditor was never admitted to the mesh');
    } finally {
      await member.stop();
    }
  });

  async function withMesh(opts: Partial<ConstructorParameters<typeof Mesh>[0]>, fn: (addr: string, mesh: Mesh) => Promise<void>): Promise<void> {
    const archive = await Archive.open(join(dir, 'archive'));
    const hk = await makeIdentity();
    const mesh = new Mesh({
      netuid: NETUID, genesisHash: STANDALONE_GENESIS, hotkey: sr25519SignerFromSeed(Buffer.from(hk.hotkeySeed, 'hex')), nodeKeySeed: randomBytes(32),
      // one report per page: a frame cap just above one encoded reveal
      listen: ['/ip4/127.0.0.1/tcp/0'], dht: false, bundlePageBytes: encodeReveal({ salt: saltOf(stored[0]), signed: stored[0] }).length + 60, ...opts,
    });
    try {
      mesh.setRunBundleProvider(archiveRunBundleProvider(archiveEvidenceReader(archive)));
      await mesh.start();
      await fn(mesh.multiaddrs().find((a) => a.includes('/ip4/127.0.0.1/'))!, mesh);
    } finally {
      await mesh.stop();
      await archive.close();
    }
  }

  it('pages a bundle larger than one frame, then limits requests across all peers', async () => {
    await withMesh({ bundleBurst: 3, bundlePerSecond: 0.01, bundleGlobalBurst: 4, bundleGlobalPerSecond: 0.01 }, async (addr, mesh) => {
      const bundle = await fetchRunBundle(addr, NETUID, RUN, { timeoutMs: 15_000 });
      assert.equal(bundle.reports.length, 3);
      assert.deepEqual(hashesOf(bundle.reports), new Set(stored.map((s) => scoreReportHash(s.report))));
      assert.deepEqual(sorted(decodeCertifiedRun(bundle.certificate!)), sorted(certified));
      assert.equal(mesh.metrics().runBundle.served, 3, 'three pages, one reveal each (the certified run rides on page 0)');

      // every call is a fresh outsider identity: only the node-wide bucket stops it (after its 4th token)
      await assert.rejects(fetchRunBundle(addr, NETUID, RUN, { timeoutMs: 15_000 }), (e: RunBundleError) => e.status === 'rate-limited' && /too many run-bundle requests/.test(e.message));
      assert.equal(mesh.metrics().runBundle.served, 4);
      assert.equal(mesh.metrics().runBundle.rateLimited, 1);
    });
  });

  it('limits each requesting peer', async () => {
    await withMesh({ bundleBurst: 2, bundlePerSecond: 0.01 }, async (addr, mesh) => {
      await assert.rejects(fetchRunBundle(addr, NETUID, RUN, { timeoutMs: 15_000 }), (e: RunBundleError) => e.status === 'rate-limited' && /from this peer/.test(e.message));
      assert.equal(mesh.metrics().runBundle.served, 2);
      // a node without an archive says so
      mesh.setRunBundleProvider(null);
      await assert.rejects(fetchRunBundle(addr, NETUID, RUN, { timeoutMs: 15_000 }), (e: RunBundleError) => e.status === 'unavailable' && /no run archive/.test(e.message));
    });
  });
});

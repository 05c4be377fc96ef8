// `conclave audit --source MULTIADDR` end to end: a real devchain (metagraph, miner roster and salted
// score commitments as chain state), three dev validators' real sr25519 reports revealed with their
// salts and a commit certificate whose ed25519 votes are attributed by real bindings (hotkey +
// node-key signatures, scoped to the devchain's genesis), in a real LevelDB archive, served by a
// `conclave mesh --archive` process over loopback libp2p; the audit runs as its own CLI process, as an
// outsider with no validator key.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Archive } from '../../node/archive.ts';
import { DevChain } from '../../node/devchain/devchain.ts';
import { defaultGenesis } from '../../node/devchain/genesis.ts';
import { devHotkeyFile } from '../../node/devnet/setup.ts';
import { parseHotkeyFile } from '../../node/keys/wallet.ts';
import { SubtensorClient } from '../../node/chain/client.ts';
import { formatScoreCommitment } from '../../node/chain/commitments.ts';
import { parseConfig } from '../../node/config.ts';
import { decide, membersOf, rulesFromConfig } from '../../node/validator/decision.ts';
import { decisionHash, signVote } from '../../proto/consensus.ts';
import { sha256Hex } from '../../proto/codec.ts';
import { rosterHash, type RosterEntry } from '../../proto/roster.ts';
import { encodeScoreReport, signScoreReport, toScore, type ScoreReport } from '../../proto/score-report.ts';
import { reportCommitment, type Reveal } from '../../proto/reveal.ts';
import { signBinding } from '../../proto/binding.ts';
import { archiveCertifiedRun, archiveReveal } from '../../node/validator/evidence.ts';
import { cryptoReady, ed25519SignerFromSeed, type Sr25519Signer } from '../../proto/signer.ts';
import { FAST_FLAGS, Member, makeIdentity, validatorsJson } from './harness.ts';

const CLI = new URL('../../node/cli.ts', import.meta.url).pathname;
const NETUID = 1;
const COMMIT_WINDOW = 4;

function runCli(args: string[], timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b) => { stdout += b; });
  child.stderr.on('data', (b) => { stderr += b; });
  return new Promise((res) => {
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => { clearTimeout(t); res({ code, stdout, stderr }); });
  });
}

describe('conclave audit --source MULTIADDR (devchain + archive served over libp2p)', function () {
  this.timeout(120_000);
  let chain: DevChain;
  let dir = '';
  let runId = 0;
  let signers: Sr25519Signer[] = [];
  let roster: RosterEntry[] = [];
  const members: Member[] = [];

  function report(signer: Sr25519Signer, bump: number): Reveal {
    const r: ScoreReport = {
      version: 1, netuid: NETUID, runId, rosterHash: rosterHash(roster), policyHash: sha256Hex('evaluator policy'), hardwareClass: 'cpu-test',
      validatorHotkey: signer.hotkey, issuedAt: 1_767_225_600_000 + bump, // deterministic: the same report as the one committed
      entries: roster.map((e) => ({ uid: e.uid, minerHotkey: e.minerHotkey, codeSha256: e.codeSha256, score: toScore(0.2 + e.uid / 100 + bump / 1000), status: 'scored' as const })),
    };
    return { salt: sha256Hex(`salt-${signer.hotkey}-${bump}`), signed: signScoreReport(r, signer) };
  }
  const commitmentOf = (r: Reveal) => reportCommitment(r.salt, encodeScoreReport(r.signed.report));
  const nodeOf = (i: number) => ed25519SignerFromSeed(new Uint8Array(32).fill(90 + i));

  /**
   * Archives `served` plus a commit certificate over the decision from `counted`, and serves it from a
   * mesh process. The votes are the validators' node keys with their bindings; `forge` signs them with
   * node keys no binding attributes to anyone (what the old audit accepted).
   */
  async function serve(tag: string, served: Reveal[], counted: Reveal[], forge = false): Promise<Member> {
    const client = await SubtensorClient.connect({ endpoint: chain.url });
    let metagraph;
    try {
      metagraph = await client.metagraph(NETUID, runId);
    } finally {
      await client.close();
    }
    const rules = rulesFromConfig(parseConfig('', { env: {} }));
    const first = counted[0].signed.report;
    const decision = decide(counted.map((s) => s.signed.report), membersOf(metagraph, rules.minStake), roster,
      { netuid: NETUID, runId, rosterHash: first.rosterHash, policyHash: first.policyHash, hardwareClass: first.hardwareClass }, { previous: null, chain: null }, rules, signers.map((s) => s.hotkey));
    const dh = decisionHash(decision);
    const nodes = signers.map((_, i) => (forge ? ed25519SignerFromSeed(randomBytes(32)) : nodeOf(i)));
    const votes = nodes.map((n) => signVote({ phase: 'commit', netuid: NETUID, runId, view: 0, decisionHash: dh }, n)).sort((a, b) => (a.voter < b.voter ? -1 : 1));
    const bindings = forge ? [] : signers.map((s, i) => signBinding({ genesisHash: chain.genesisHash, netuid: NETUID, node: nodeOf(i), multiaddrs: [], issuedAt: Date.now() - 1000, expiresAt: Date.now() + 3600_000 }, s));
    const archive = await Archive.open(join(dir, tag));
    try {
      for (const s of served) assert.equal(await archiveReveal(archive, s), 'stored');
      assert.equal(await archiveCertifiedRun(archive, { netuid: NETUID, runId }, { certificate: { phase: 'commit', view: 0, decision, votes }, bindings }), 'stored');
    } finally {
      await archive.close();
    }
    const id = await makeIdentity();
    const m = await Member.start(id, ['--validators', validatorsJson([id]), '--archive', join(dir, tag), '--no-dht', ...FAST_FLAGS]);
    members.push(m);
    return m;
  }

  before(async () => {
    await cryptoReady();
    dir = await mkdtemp(join(tmpdir(), 'conclave-audit-p2p-'));
    chain = new DevChain({ genesis: await defaultGenesis({ validators: 3, miners: 3 }), host: '127.0.0.1', port: 0, blockMs: 0 });
    await chain.start();
    for (let i = 0; i < 3; i++) chain.produceBlock();
    runId = chain.head;
    signers = await Promise.all([0, 1, 2].map(async (i) => parseHotkeyFile((await devHotkeyFile(`//Validator${i}`)).json)));
    const client = await SubtensorClient.connect({ endpoint: chain.url });
    try {
      roster = (await client.minerRoster(NETUID, runId)).entries;
    } finally {
      await client.close();
    }
    assert.equal(roster.length, 3, 'devchain roster: three miners');
  });

  after(async () => {
    await Promise.all(members.map((m) => m.stop()));
    await chain?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('verifies a certified run fetched from a validator\'s p2p address (exit 0)', async () => {
    const reports = signers.map((s, i) => report(s, i));
    for (const r of reports) chain.setCommitment(NETUID, r.signed.report.validatorHotkey, formatScoreCommitment(runId, commitmentOf(r)));
    for (let i = 0; i < COMMIT_WINDOW + 1; i++) chain.produceBlock();
    const m = await serve('honest', reports, reports);
    const r = await runCli(['audit', '--run', String(runId), '--source', m.multiaddr, '--chain', chain.url, '--commit-window', String(COMMIT_WINDOW), '--json']);
    assert.equal(r.code, 0, `audit failed: ${r.stdout}${r.stderr}`);
    const result = JSON.parse(r.stdout);
    assert.equal(result.ok, true);
    const ok = new Map(result.checks.map((c: { check: string; ok: boolean }) => [c.check, c.ok]));
    for (const s of signers) assert.equal(ok.get(`report-signature:${s.hotkey}`), true);
    for (const c of ['roster-matches-chain', 'certificate-votes-verify', 'certified-reports-open-commitments', 'incumbent-rebuilt', 'decision-recomputes', 'no-equivocation']) assert.equal(ok.get(c), true, c);
    assert.deepEqual(result.uncounted, []);
    assert.deepEqual(result.uncommitted, []);
    assert.equal(result.incumbent.from, 'chain-weights');
    assert.equal(result.winner, roster.at(-1)!.uid, 'the best-scored miner wins');
  });

  it('refuses a forged certificate: votes no binding attributes to a member (exit 1)', async () => {
    const reports = signers.map((s, i) => report(s, i));
    const m = await serve('forged', reports, reports, true);
    const r = await runCli(['audit', '--run', String(runId), '--source', m.multiaddr, '--chain', chain.url, '--commit-window', String(COMMIT_WINDOW), '--json']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const result = JSON.parse(r.stdout);
    const failed = result.checks.find((c: { check: string }) => c.check === 'certificate-votes-verify');
    assert.equal(failed.ok, false);
    assert.match(failed.detail, /no valid binding/);
  });

  it('names the failed checks when the served evidence does not match the chain (exit 1), and refuses a bad source', async () => {
    // validator 2 committed one report but the archive serves (and the certificate counts) another
    const reports = signers.map((s, i) => report(s, i));
    const swapped = report(signers[2], 50);
    const m = await serve('swapped', [reports[0], reports[1], swapped], [reports[0], reports[1], swapped]);
    const r = await runCli(['audit', '--run', String(runId), '--source', m.multiaddr, '--chain', chain.url, '--commit-window', String(COMMIT_WINDOW), '--json']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const result = JSON.parse(r.stdout);
    assert.ok(result.failed.includes('certified-reports-open-commitments'), result.failed.join(', '));
    assert.deepEqual(result.uncommitted.map((u: { hotkey: string }) => u.hotkey), [signers[2].hotkey], 'the swapped reveal opens no commitment');
    assert.deepEqual(result.uncounted.map((u: { hotkey: string }) => u.hotkey), [signers[2].hotkey], 'the real commitment is not counted');

    const noPeer = await runCli(['audit', '--run', String(runId), '--source', m.multiaddr.replace(/\/p2p\/.*$/, ''), '--chain', chain.url]);
    assert.equal(noPeer.code, 2);
    assert.match(noPeer.stderr, /must end in \/p2p\/<peer id>/);

    const unknownRun = await runCli(['audit', '--run', String(runId + 1000), '--source', m.multiaddr, '--chain', chain.url]);
    assert.equal(unknownRun.code, 2);
    assert.match(unknownRun.stderr, /not-found: run \d+ is not in that validator's archive/);
  });
});

// `conclave audit --source MULTIADDR` end to end: a real devchain (metagraph, miner roster and score
// commitments as chain state), three dev validators' real sr25519 reports and an ed25519-signed commit
// certificate in a real LevelDB archive, served by a `conclave mesh --archive` process over loopback
// libp2p; the audit runs as its own CLI process, as an outsider with no validator key.
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
import { decisionHash, encodeCertificate, signVote } from '../../proto/consensus.ts';
import { sha256Hex } from '../../proto/codec.ts';
import { rosterHash, type RosterEntry } from '../../proto/roster.ts';
import { scoreReportHash, signScoreReport, toScore, type ScoreReport, type SignedScoreReport } from '../../proto/score-report.ts';
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

  function report(signer: Sr25519Signer, bump: number): SignedScoreReport {
    const r: ScoreReport = {
      version: 1, netuid: NETUID, runId, rosterHash: rosterHash(roster), policyHash: sha256Hex('evaluator policy'), hardwareClass: 'cpu-test',
      validatorHotkey: signer.hotkey, issuedAt: Date.now(),
      entries: roster.map((e) => ({ uid: e.uid, minerHotkey: e.minerHotkey, codeSha256: e.codeSha256, score: toScore(0.2 + e.uid / 100 + bump / 1000), status: 'scored' as const })),
    };
    return signScoreReport(r, signer);
  }

  /** Archives `served` plus a commit certificate over the decision from `counted`, and serves it from a mesh process. */
  async function serve(tag: string, served: SignedScoreReport[], counted: SignedScoreReport[]): Promise<Member> {
    const client = await SubtensorClient.connect({ endpoint: chain.url });
    let metagraph;
    try {
      metagraph = await client.metagraph(NETUID, runId);
    } finally {
      await client.close();
    }
    const rules = rulesFromConfig(parseConfig('', { env: {} }));
    const first = counted[0].report;
    const decision = decide(counted.map((s) => s.report), membersOf(metagraph, rules.minStake), roster,
      { netuid: NETUID, runId, rosterHash: first.rosterHash, policyHash: first.policyHash, hardwareClass: first.hardwareClass }, null, rules);
    const dh = decisionHash(decision);
    const votes = signers.map(() => signVote({ phase: 'commit', netuid: NETUID, runId, view: 0, decisionHash: dh }, ed25519SignerFromSeed(randomBytes(32))))
      .sort((a, b) => (a.voter < b.voter ? -1 : 1));
    const archive = await Archive.open(join(dir, tag));
    try {
      for (const s of served) assert.equal((await archive.putReport(s)).status, 'stored');
      assert.equal(await archive.putCertificate({ netuid: NETUID, runId }, encodeCertificate({ phase: 'commit', view: 0, decision, votes })), 'stored');
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
    for (const r of reports) chain.setCommitment(NETUID, r.report.validatorHotkey, formatScoreCommitment(runId, scoreReportHash(r.report)));
    for (let i = 0; i < COMMIT_WINDOW + 1; i++) chain.produceBlock();
    const m = await serve('honest', reports, reports);
    const r = await runCli(['audit', '--run', String(runId), '--source', m.multiaddr, '--chain', chain.url, '--commit-window', String(COMMIT_WINDOW), '--json']);
    assert.equal(r.code, 0, `audit failed: ${r.stdout}${r.stderr}`);
    const result = JSON.parse(r.stdout);
    assert.equal(result.ok, true);
    const ok = new Map(result.checks.map((c: { check: string; ok: boolean }) => [c.check, c.ok]));
    for (const s of signers) {
      assert.equal(ok.get(`report-signature:${s.hotkey}`), true);
      assert.equal(ok.get(`report-matches-commitment:${s.hotkey}`), true);
    }
    for (const c of ['roster-matches-chain', 'certificate-votes-verify', 'certified-reports-valid', 'decision-recomputes', 'no-equivocation']) assert.equal(ok.get(c), true, c);
    assert.equal(result.winner, roster.at(-1)!.uid, 'the best-scored miner wins');
  });

  it('names the failed checks when the served evidence does not match the chain (exit 1), and refuses a bad source', async () => {
    // validator 2 committed one report but the archive serves (and the certificate counts) another
    const reports = signers.map((s, i) => report(s, i));
    const swapped = report(signers[2], 50);
    const m = await serve('swapped', [reports[0], reports[1], swapped], [reports[0], reports[1], swapped]);
    const r = await runCli(['audit', '--run', String(runId), '--source', m.multiaddr, '--chain', chain.url, '--commit-window', String(COMMIT_WINDOW), '--json']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const result = JSON.parse(r.stdout);
    assert.ok(result.failed.includes(`report-matches-commitment:${signers[2].hotkey}`), result.failed.join(', '));
    assert.ok(result.failed.includes('certified-reports-valid'), result.failed.join(', '));

    const noPeer = await runCli(['audit', '--run', String(runId), '--source', m.multiaddr.replace(/\/p2p\/.*$/, ''), '--chain', chain.url]);
    assert.equal(noPeer.code, 2);
    assert.match(noPeer.stderr, /must end in \/p2p\/<peer id>/);

    const unknownRun = await runCli(['audit', '--run', String(runId + 1000), '--source', m.multiaddr, '--chain', chain.url]);
    assert.equal(unknownRun.code, 2);
    assert.match(unknownRun.stderr, /not-found: run \d+ is not in that validator's archive/);
  });
});

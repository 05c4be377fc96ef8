// `conclave audit --archive DIR`: the run's evidence read from an archive directory, read-only
// (a private snapshot), beside the live writer that holds it; and hostile HTTP sources answered with
// exit 1 naming the field, not a crash.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { encodeScoreReport, signScoreReport, toScore } from '../../proto/score-report.ts';
import { reportCommitment, type Reveal } from '../../proto/reveal.ts';
import { signBinding } from '../../proto/binding.ts';
import { cryptoReady, ed25519SignerFromSeed } from '../../proto/signer.ts';
import { archiveCertifiedRun, archiveReveal } from '../../node/validator/evidence.ts';
import { buildCli } from '../../tools/build-cli.ts';

const CLI = new URL('../../node/cli.ts', import.meta.url).pathname;
const ROOT = new URL('../../', import.meta.url).pathname;
const NETUID = 1;
const COMMIT_WINDOW = 4;

function runCli(args: string[], timeoutMs = 60_000, entry = CLI): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [entry, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b) => { stdout += b; });
  child.stderr.on('data', (b) => { stderr += b; });
  return new Promise((res) => {
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => { clearTimeout(t); res({ code, stdout, stderr }); });
  });
}

describe('conclave audit --archive DIR (read-only) and hostile HTTP sources', function () {
  this.timeout(120_000);
  let chain: DevChain;
  let dir = '';
  let runId = 0;
  let genesis = '';
  let reports: Reveal[] = [];
  let live: Archive | undefined;
  let http: Server | undefined;

  before(async () => {
    await cryptoReady();
    dir = await mkdtemp(join(tmpdir(), 'conclave-audit-archive-'));
    chain = new DevChain({ genesis: await defaultGenesis({ validators: 3, miners: 3 }), host: '127.0.0.1', port: 0, blockMs: 0 });
    await chain.start();
    for (let i = 0; i < 3; i++) chain.produceBlock();
    runId = chain.head;
    const signers = await Promise.all([0, 1, 2].map(async (i) => parseHotkeyFile((await devHotkeyFile(`//Validator${i}`)).json)));
    const client = await SubtensorClient.connect({ endpoint: chain.url });
    let roster: RosterEntry[];
    let metagraph;
    try {
      roster = (await client.minerRoster(NETUID, runId)).entries;
      metagraph = await client.metagraph(NETUID, runId);
      genesis = await client.blockHash(0);
    } finally {
      await client.close();
    }
    reports = signers.map((s, i) => ({
      salt: sha256Hex(`salt-${i}`),
      signed: signScoreReport({
        version: 1, netuid: NETUID, runId, rosterHash: rosterHash(roster), policyHash: sha256Hex('evaluator policy'), hardwareClass: 'cpu-test',
        validatorHotkey: s.hotkey, issuedAt: Date.now(),
        entries: roster.map((e) => ({ uid: e.uid, minerHotkey: e.minerHotkey, codeSha256: e.codeSha256, score: toScore(0.2 + e.uid / 100 + i / 1000), status: 'scored' as const })),
      }, s),
    }));
    for (const r of reports) chain.setCommitment(NETUID, r.signed.report.validatorHotkey, formatScoreCommitment(runId, reportCommitment(r.salt, encodeScoreReport(r.signed.report))));
    for (let i = 0; i < COMMIT_WINDOW + 1; i++) chain.produceBlock();
    const rules = rulesFromConfig(parseConfig('', { env: {} }));
    const first = reports[0].signed.report;
    const decision = decide(reports.map((s) => s.signed.report), membersOf(metagraph, rules.minStake), roster,
      { netuid: NETUID, runId, rosterHash: first.rosterHash, policyHash: first.policyHash, hardwareClass: first.hardwareClass }, { previous: null, chain: null }, rules, signers.map((s) => s.hotkey));
    const dh = decisionHash(decision);
    const nodes = signers.map(() => ed25519SignerFromSeed(randomBytes(32)));
    const votes = nodes.map((n) => signVote({ phase: 'commit', netuid: NETUID, runId, view: 0, decisionHash: dh }, n)).sort((a, b) => (a.voter < b.voter ? -1 : 1));
    const bindings = signers.map((s, i) => signBinding({ genesisHash: genesis, netuid: NETUID, node: nodes[i], multiaddrs: [], issuedAt: Date.now() - 1000, expiresAt: Date.now() + 3600_000 }, s));
    // the node's archive, keyed by the chain's genesis, held open by a live writer during the audit
    live = await Archive.open(join(dir, 'archive'), { chain: genesis });
    for (const s of reports) assert.equal(await archiveReveal(live, s), 'stored');
    assert.equal(await archiveCertifiedRun(live, { netuid: NETUID, runId }, { certificate: { phase: 'commit', view: 0, decision, votes }, bindings }), 'stored');
  });

  after(async () => {
    await live?.close();
    http?.closeAllConnections();
    http?.close();
    await chain?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('verifies a certified run read from the archive of a running node (exit 0)', async () => {
    const r = await runCli(['audit', '--run', String(runId), '--archive', join(dir, 'archive'), '--chain', chain.url, '--commit-window', String(COMMIT_WINDOW), '--json']);
    assert.equal(r.code, 0, `audit failed: ${r.stdout}${r.stderr}`);
    const result = JSON.parse(r.stdout);
    assert.equal(result.ok, true);
    for (const c of ['roster-matches-chain', 'certificate-votes-verify', 'certified-reports-open-commitments', 'incumbent-rebuilt', 'decision-recomputes', 'no-equivocation']) {
      assert.equal(result.checks.find((x: { check: string }) => x.check === c)?.ok, true, c);
    }
    const other = await runCli(['audit', '--run', String(runId), '--archive', join(dir, 'archive'), '--chain', chain.url, '--netuid', '2']);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /run \d+ of netuid 2 is not in the archive/);
    const both = await runCli(['audit', '--run', String(runId), '--archive', join(dir, 'archive'), '--source', 'http://127.0.0.1:1']);
    assert.equal(both.code, 2);
  });

  it('the compiled CLI (tools/build-cli.ts, what bin/conclave runs when built) audits the same run to the same result', async () => {
    const out = join(ROOT, `.cli-build-test-audit-${process.pid}`);
    try {
      await buildCli({ outdir: out, ifAvailable: false });
      const args = ['audit', '--run', String(runId), '--archive', join(dir, 'archive'), '--chain', chain.url, '--commit-window', String(COMMIT_WINDOW), '--json'];
      const [src, built] = [await runCli(args), await runCli(args, 60_000, join(out, 'cli.js'))];
      assert.equal(built.code, 0, `compiled audit failed: ${built.stdout}${built.stderr}`);
      assert.equal(built.stdout, src.stdout, 'the same checks, details and decision');
      const missing = await runCli(['audit', '--run', String(runId), '--archive', join(dir, 'archive'), '--chain', chain.url, '--netuid', '2'], 60_000, join(out, 'cli.js'));
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /run \d+ of netuid 2 is not in the archive/);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('a hostile HTTP source gets exit 1 naming the field: wrong shapes, deep nesting, endless bodies', async () => {
    const huge = 'x'.repeat(1_000_000);
    const answers: Record<string, string> = {
      [`/shape/v1/runs/${runId}`]: JSON.stringify({ roster: 5, rosterHash: huge }),
      [`/shape/v1/runs/${runId}/reports`]: JSON.stringify({ reports: [] }),
      [`/deep/v1/runs/${runId}`]: '{"roster":' + '['.repeat(100_000) + ']'.repeat(100_000) + '}',
      [`/hash/v1/runs/${runId}`]: JSON.stringify({ roster: [], rosterHash: 7, policyHash: 'p', hardwareClass: 'h' }),
      [`/hash/v1/runs/${runId}/reports`]: JSON.stringify({ reports: [], certificateHex: null, certifiedRunHex: null }),
    };
    http = createServer((req, res) => {
      if (req.url?.startsWith('/endless')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(1 << 20, ' ');
        const pump = () => { while (res.write(chunk)) { /* until back-pressure */ } res.once('drain', pump); };
        pump();
        return;
      }
      const body = answers[req.url ?? ''];
      res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
      res.end(body ?? '{}');
    });
    await new Promise<void>((r) => http!.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
    const audit = (path: string) => runCli(['audit', '--run', String(runId), '--source', `${base}${path}`, '--chain', chain.url, '--json']);
    const shape = await audit('/shape');
    assert.equal(shape.code, 1, shape.stderr);
    assert.match(shape.stderr, /run\.roster: expected an array/);
    const deep = await audit('/deep');
    assert.equal(deep.code, 1, deep.stderr);
    assert.match(deep.stderr, /\$\.roster(\[0\]){15}: nested deeper than 16 levels/);
    assert.ok(deep.stderr.length < 400);
    const hash = await audit('/hash');
    assert.equal(hash.code, 1, hash.stderr);
    assert.match(hash.stderr, /run\.rosterHash: expected a string, got 7/);
    const endless = await audit('/endless');
    assert.equal(endless.code, 1, endless.stderr);
    assert.match(endless.stderr, /response ran past the limit of 8 MiB/);
  });
});

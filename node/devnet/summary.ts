// The devnet's summary: what every live validator's API says of a run (certificate, counted reports,
// weights committed/revealed), the outside auditor's verdict, and the human table.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ByzantineSummary } from './byzantine.ts';

const CLI = fileURLToPath(new URL('../cli.ts', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface MinerRow {
  uid: number;
  miner: string;
  hotkey: string;
  status: string;
  statuses: Record<string, number>;
  consensusScore: number | null;
  winner: boolean;
}

/** One validator's weights for a run: set directly, or committed timelocked and revealed by the chain. */
export interface ValidatorWeights {
  index: number;
  hotkey: string;
  /** set | held | failed | null (no record) */
  result: string | null;
  /** the weights went as a timelocked commit that landed on chain */
  committed: boolean;
  commitBlock: number | null;
  /** the chain revealed the commit (null: not settled, or no commit) */
  revealed: boolean | null;
  /** revealed and the chain's Weights equal the committed ones */
  revealConfirmed: boolean | null;
  revealBlock: number | null;
  reason: string | null;
}

export interface RunSummary {
  runId: number;
  /** per live validator: committed / revealed / revealConfirmed (commit-reveal on, as on real subnets) */
  weightsByValidator: ValidatorWeights[];
  certifiedBy: string[];
  notCertified: string[];
  sameCertificate: boolean;
  certificateHash: string | null;
  winner: number | null;
  winnerMiner: string | null;
  countedStakeShare: number | null;
  /** hotkeys of the validators whose reports the certified decision counts */
  countedHotkeys: string[];
  weights: { uid: number; weight: number }[];
  miners: MinerRow[];
}

export interface DevnetSummary {
  ok: boolean;
  chain: string;
  dir: string;
  validators: { index: number; hotkey: string; stake: string; api: string; alive: boolean; killed: boolean }[];
  runs: RunSummary[];
  audit: { ok: boolean; failed: string[]; source: string; runId: number; exitCode: number; checks: number } | null;
  /** The same audit with the run fetched over libp2p (`--source MULTIADDR`, run-bundle protocol). */
  auditP2p: DevnetSummary['audit'];
  /** `--byzantine`: what the adversary tried and how each attempt was refused. */
  byzantine?: ByzantineSummary;
  elapsedMs: number;
  problems: string[];
}

/** What the summary reads of a live validator process. */
export interface LiveValidator {
  index: number;
  hotkey: string;
  api: string;
}

export async function getJson(url: string, timeoutMs = 5000): Promise<any> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

export async function summariseRun(runId: number, live: LiveValidator[], minerName: (uid: number) => string): Promise<RunSummary> {
  const recs = await Promise.all(live.map(async (ch) => ({ ch, rec: await getJson(`${ch.api}/v1/runs/${runId}`).catch(() => null) })));
  const certified = recs.filter((x) => x.rec?.certificateHash);
  const hashes = new Set(certified.map((x) => x.rec.certificateHash));
  const ref = certified[0]?.rec ?? recs.find((x) => x.rec)?.rec;
  const reports = certified[0] ? await getJson(`${certified[0].ch.api}/v1/runs/${runId}/reports`).catch(() => null) : null;
  const counted = new Set<string>((ref?.decision?.reportHashes as string[] | undefined) ?? []);
  const statuses = new Map<number, Record<string, number>>();
  for (const r of reports?.reports ?? []) {
    if (!r.report || (counted.size && !counted.has(r.reportHash))) continue;
    for (const e of r.report.entries) {
      const s = statuses.get(e.uid) ?? {};
      s[e.status] = (s[e.status] ?? 0) + 1;
      statuses.set(e.uid, s);
    }
  }
  const weightsByValidator: ValidatorWeights[] = recs.map(({ ch, rec }) => {
    const w = rec?.weights;
    const cr = w?.commitReveal;
    return {
      index: ch.index, hotkey: ch.hotkey, result: w?.result ?? null, committed: Boolean(cr?.commitBlock), commitBlock: cr?.commitBlock ?? null,
      revealed: cr ? cr.revealed ?? null : null, revealConfirmed: cr ? cr.revealConfirmed ?? null : null, revealBlock: cr?.revealBlock ?? null, reason: cr?.reason ?? w?.reason ?? null,
    };
  });
  const winner: number | null = ref?.decision?.winner ?? null;
  const miners: MinerRow[] = (ref?.roster ?? []).map((e: { uid: number; minerHotkey: string }) => {
    const st = statuses.get(e.uid) ?? {};
    const top = Object.entries(st).sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'unknown';
    const score = ref?.decision?.scores?.find((x: { uid: number }) => x.uid === e.uid)?.score ?? null;
    return { uid: e.uid, miner: minerName(e.uid), hotkey: e.minerHotkey, status: top, statuses: st, consensusScore: score === null ? null : score / 1e6, winner: e.uid === winner };
  });
  return {
    runId,
    weightsByValidator,
    certifiedBy: certified.map((x) => x.ch.hotkey),
    notCertified: recs.filter((x) => !x.rec?.certificateHash).map((x) => x.ch.hotkey),
    sameCertificate: hashes.size <= 1,
    certificateHash: certified[0]?.rec.certificateHash ?? null,
    winner,
    winnerMiner: winner === null ? null : minerName(winner),
    countedStakeShare: ref?.decision?.countedStakeShare ?? null,
    countedHotkeys: (reports?.reports ?? []).filter((r: { reportHash: string }) => counted.has(r.reportHash)).map((r: { hotkey: string }) => r.hotkey),
    weights: ref?.decision?.weights ?? [],
    miners,
  };
}

/** `conclave audit` as an outside auditor would run it (a separate process, the API and the chain only). */
export async function runAudit(api: string, chainUrl: string, runId: number, configPath: string, commitWindow: number): Promise<NonNullable<DevnetSummary['audit']>> {
  const proc = spawn(process.execPath, [CLI, 'audit', '--run', String(runId), '--source', api, '--chain', chainUrl, '--netuid', '1', '--commit-window', String(commitWindow), '--rules-from', configPath, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  const code = await Promise.race([new Promise<number>((r) => proc.once('exit', (c) => r(c ?? 1))), sleep(60_000).then(() => { proc.kill('SIGKILL'); return 124; })]);
  try {
    const j = JSON.parse(out);
    return { ok: code === 0 && j.ok === true, failed: j.failed ?? [], source: api, runId, exitCode: code, checks: (j.checks ?? []).length };
  } catch {
    return { ok: false, failed: [`audit printed no JSON (exit ${code}): ${err.slice(-300)}`], source: api, runId, exitCode: code, checks: 0 };
  }
}

/** The human table. */
export function formatSummary(s: DevnetSummary): string {
  const lines: string[] = [];
  for (const r of s.runs) {
    lines.push('', `run ${r.runId}: certified by ${r.certifiedBy.length} validator(s)${r.notCertified.length ? `, not by ${r.notCertified.length}` : ''}; same certificate: ${r.sameCertificate ? 'yes' : 'NO'}; counted stake ${r.countedStakeShare === null ? '-' : (r.countedStakeShare * 100).toFixed(1) + '%'}`);
    lines.push(`  ${'uid'.padEnd(4)} ${'miner'.padEnd(14)} ${'consensus MFU'.padEnd(14)} ${'status'.padEnd(17)} winner`);
    for (const m of r.miners) {
      lines.push(`  ${String(m.uid).padEnd(4)} ${m.miner.padEnd(14)} ${(m.consensusScore === null ? '-' : m.consensusScore.toFixed(6)).padEnd(14)} ${m.status.padEnd(17)} ${m.winner ? '  <== winner' : ''}`);
    }
    lines.push(`  weights: ${r.weights.map((w) => `uid ${w.uid} = ${w.weight.toFixed(3)}`).join(', ') || '-'}`);
    lines.push(`  ${'validator'.padEnd(10)} ${'weights'.padEnd(8)} ${'committed'.padEnd(16)} ${'revealed'.padEnd(16)} revealConfirmed`);
    const yn = (b: boolean | null) => (b === null ? '-' : b ? 'yes' : 'NO');
    for (const w of r.weightsByValidator) {
      lines.push(`  ${`v${w.index}`.padEnd(10)} ${(w.result ?? '-').padEnd(8)} ${(w.committed ? `yes (#${w.commitBlock})` : 'no').padEnd(16)} ${(w.revealed ? `yes (#${w.revealBlock})` : yn(w.revealed)).padEnd(16)} ${yn(w.revealConfirmed)}${w.revealConfirmed === false && w.reason ? `  (${w.reason})` : ''}`);
    }
  }
  lines.push('', `validators: ${s.validators.map((v) => `v${v.index} ${v.killed ? 'killed' : v.alive ? 'up' : 'down'}`).join(', ')}`);
  for (const a of [s.audit, s.auditP2p]) {
    if (a) lines.push(`audit (run ${a.runId}, source ${a.source}): ${a.ok ? `VERIFIED (${a.checks} checks)` : `FAILED: ${a.failed.join(', ')}`}`);
  }
  if (s.byzantine) {
    lines.push('', `adversary ${s.byzantine.adversary} (validator ${3}); honest outcome certified: ${s.byzantine.honestOutcome ? 'yes' : 'NO'}`);
    for (const at of s.byzantine.attempts) {
      lines.push(`  run ${at.runId ?? '?'}  ${at.refused ? 'refused' : 'NOT REFUSED'}  ${at.attack}: ${at.what}`);
      for (const e of at.evidence.slice(0, 8)) lines.push(`      ${e}`);
    }
  }
  for (const p of s.problems) lines.push(`problem: ${p}`);
  lines.push(`devnet ${s.ok ? 'OK' : 'FAILED'} in ${(s.elapsedMs / 1000).toFixed(0)} s`);
  return lines.join('\n') + '\n';
}


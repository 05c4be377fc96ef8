// The `--byzantine` devnet's director: validator 3 (the smallest stake) runs with dev.fault =
// "adversary" (selective proposals, node/devnet/adversary.ts); the director acts for it outside the
// node (binding hijack over hello, early-reveal fetch, copying by brute force) while the honest
// validators are sealed, watches both sides' logs, and judges: `ok` only if the honest validators
// certified the honest outcome and every attempt was refused, each with its evidence.
import { join } from 'node:path';
import { SubtensorClient } from '../chain/client.ts';
import { loadOrCreateNodeKey } from '../keys/node-key.ts';
import { parseHotkeyFile } from '../keys/wallet.ts';
import { decodeReveal } from '../../proto/reveal.ts';
import { fromHex } from '../../proto/codec.ts';
import { devValidatorSeed } from '../devchain/genesis.ts';
import { devHotkeyFile } from './setup.ts';
import { bindingHijack, bruteForceCommitments, earlyRevealFetch, exactGuessCheck, type Attempt } from './adversary.ts';
import type { ScoreEntry } from '../../proto/score-report.ts';

export const ADVERSARY_INDEX = 3;

export interface ByzantineSummary {
  adversary: string;
  attempts: Attempt[];
  /** the honest validators certified one certificate whose winner is the honest expectation */
  honestOutcome: boolean;
}

interface Validator {
  index: number;
  hotkey: string;
  api: string;
  multiaddr: string;
}

export class ByzantineDirector {
  readonly adversary: Validator;
  private readonly honest: Validator[];
  private readonly chainUrl: string;
  private readonly dir: string;
  private readonly log: (l: string) => void;
  /** the adversary's own evaluations, from its log (a modified node reads its own memory) */
  private readonly ownScores = new Map<number, { status: ScoreEntry['status']; score: number }>();
  private readonly attempts: Attempt[] = [];
  /** `${validator index}/${runId}` → the reasons it refused proposals of that run */
  private readonly refusedProposals = new Map<string, string[]>();
  /** `${validator index}/${attack number}` → relayed bindings it refused while that attack was the latest */
  private readonly refusedBindings = new Map<string, string[]>();
  /** runId → the adversary node's selective proposals in that run (and whose report each left out) */
  private readonly adversaryLines = new Map<number, { line: string; leftOut: string }[]>();
  private attacked = new Set<number>();
  private attackNo = 0;
  /** true while the director's attempts run: the devnet produces no block (the commit deadline waits) */
  holding = false;

  constructor(o: { validators: Validator[]; chainUrl: string; dir: string; log: (l: string) => void }) {
    this.adversary = o.validators[ADVERSARY_INDEX];
    this.honest = o.validators.filter((v) => v.index !== ADVERSARY_INDEX);
    this.chainUrl = o.chainUrl;
    this.dir = o.dir;
    this.log = o.log;
  }

  /** Every parsed log line of every validator. */
  onMessage(index: number, m: Record<string, any>): void {
    if (index === ADVERSARY_INDEX) {
      if (m.msg === 'evaluated' && Number.isInteger(m.uid)) this.ownScores.set(m.uid, { status: m.status, score: Number(m.score) || 0 });
      if (typeof m.msg === 'string' && m.msg.startsWith('adversary:') && Number.isInteger(m.runId)) {
        push(this.adversaryLines, m.runId, { line: `${m.msg} (view ${m.view}, left out ${m.leftOut})`, leftOut: String(m.leftOut) });
        this.log(`v${index} ATTEMPT ${m.msg}`);
      }
      return;
    }
    if (m.msg === 'consensus proposal refused') {
      push(this.refusedProposals, `${index}/${m.runId}`, String(m.reason));
      this.log(`v${index} refused a proposal of run ${m.runId}: ${String(m.reason).slice(0, 160)}`);
    }
    if (m.msg === 'relayed binding refused') push(this.refusedBindings, `${index}/${this.attackNo}`, `${m.hotkey}: ${m.reason}`);
  }

  /** The honest validators all committed run `runId` (sealed until the commit deadline): the director attacks now. */
  async onHonestCommitted(runId: number): Promise<void> {
    if (this.attacked.has(runId)) return;
    this.attacked.add(runId);
    this.attackNo++;
    const attack = this.attackNo;
    const first = this.attempts.length;
    this.holding = true;
    try {
      this.log(`devnet: the adversary attacks run ${runId} while the honest reports are sealed`);
      const client = await SubtensorClient.connect({ endpoint: this.chainUrl });
      try {
        const genesis = client.api.genesisHash.toHex();
        const roster = (await client.minerRoster(1, runId)).entries;
        const best = (await client.bestBlock()).number;
        const commitments = await client.scoreCommitments(1, runId, best);
        this.attempts.push(await earlyRevealFetch({ apis: this.honest.map((h) => ({ hotkey: h.hotkey, api: h.api, multiaddr: h.multiaddr })), runId, netuid: 1, codes: [...new Set(roster.map((e) => e.codeSha256))] }));
        const first = (await (await fetch(`${this.honest[0].api}/v1/runs/${runId}`)).json()) as { rosterHash: string; policyHash: string; hardwareClass: string };
        const now = Date.now();
        this.attempts.push(bruteForceCommitments({
          roster,
          ownEntries: this.ownScores,
          honest: this.honest.flatMap((h) => (commitments.get(h.hotkey) ? [{ hotkey: h.hotkey, commitment: commitments.get(h.hotkey)!.hash }] : [])),
          context: { netuid: 1, runId, rosterHash: first.rosterHash, policyHash: first.policyHash, hardwareClass: first.hardwareClass },
          issuedFrom: now - 20_000,
          issuedTo: now,
        }));
        const hk = parseHotkeyFile((await devHotkeyFile(devValidatorSeed(ADVERSARY_INDEX))).json);
        const nodeKey = await loadOrCreateNodeKey(join(this.dir, `v${ADVERSARY_INDEX}`, 'data'));
        const hijack = await bindingHijack({
          honest: this.honest.map((h) => ({ multiaddr: h.multiaddr, hotkey: h.hotkey })),
          adversary: { hotkey: hk, node: nodeKey.signer, libp2pPrivateKey: nodeKey.libp2pPrivateKey },
          genesisHash: genesis,
          netuid: 1,
        });
        this.attempts.push({ attack: 'binding-hijack', attackNo: attack, what: `peer exchange of bindings of the adversary's hotkey naming the node keys of ${hijack.victims.length} honest validator(s) (later issuedAt; countersignature missing or copied) and of its own binding for netuid 2`, refused: false, evidence: hijack.answers });
      } finally {
        await client.close();
      }
    } catch (err) {
      this.attempts.push({ attack: 'early-reveal-fetch', what: 'the director\'s attempts', refused: false, evidence: [`failed to run: ${(err as Error).message}`] });
    } finally {
      for (const a of this.attempts.slice(first)) a.runId = runId;
      this.holding = false;
    }
  }

  /** Judges the attempts once the runs are done. `runs`: per run, which honest validators hold which certificate, its winner and whose reports it counts. */
  async finish(runs: { runId: number; certifiedBy: string[]; sameCertificate: boolean; winnerMiner: string | null; countedHotkeys: string[] }[], chainUrl: string): Promise<{ summary: ByzantineSummary; problems: string[] }> {
    const problems: string[] = [];
    const honestHotkeys = new Set(this.honest.map((h) => h.hotkey));
    const honestRun = (r: (typeof runs)[number]) => r.sameCertificate && [...honestHotkeys].every((h) => r.certifiedBy.includes(h)) && r.winnerMiner === 'faster';
    const honestOutcome = runs.length > 0 && runs.every(honestRun);
    if (!honestOutcome) problems.push('the honest validators did not all certify the honest outcome (one certificate, the faster miner winning)');
    // selective counting, per run: the adversary proposed a decision leaving an honest report out; refused
    // when the certificate every honest validator holds counts that report (each refusal is evidence)
    const selective: Attempt[] = runs.map((r) => {
      const tries = this.adversaryLines.get(r.runId) ?? [];
      const refusals = this.honest.map((h) => `v${h.index}: ${(this.refusedProposals.get(`${h.index}/${r.runId}`) ?? ['no proposal refused (decided before it arrived?)'])[0]?.slice(0, 200)}`);
      const counted = tries.length > 0 && honestRun(r) && tries.every((t) => r.countedHotkeys.includes(t.leftOut));
      return {
        attack: 'selective-count',
        runId: r.runId,
        what: tries.length ? tries.map((t) => t.line).join('; ') : 'no selective proposal was made',
        refused: counted && this.honest.some((h) => (this.refusedProposals.get(`${h.index}/${r.runId}`) ?? []).some((x) => /leaves out \d+ valid report|justification lacks view changes|not signed by its proposer/.test(x))),
        evidence: [...refusals, `the certificate counts ${r.countedHotkeys.length} report(s)${tries.length ? `, the left-out one ${counted ? 'included' : 'NOT included'}` : ''}`],
      };
    });
    this.attempts.unshift(...selective);
    // binding hijack: every honest validator refused the relayed forgeries of that attack
    for (const hijack of this.attempts.filter((a) => a.attack === 'binding-hijack')) {
      const got = (h: Validator) => this.refusedBindings.get(`${h.index}/${hijack.attackNo}`) ?? [];
      hijack.refused = this.honest.every((h) => got(h).length > 0) && honestOutcome;
      for (const h of this.honest) hijack.evidence.push(`v${h.index} refused ${got(h).length} relayed binding(s): ${got(h).slice(0, 2).join(' | ').slice(0, 300)}`);
    }
    // copying: the exact reports, now revealed, do not open the commitments without their salts
    for (const copying of this.attempts.filter((a) => a.attack === 'copying' && a.runId !== undefined)) {
      try {
        const runId = copying.runId!;
        const client = await SubtensorClient.connect({ endpoint: chainUrl });
        try {
          // a validator's commitment is overwritten by its next run's: read the ones in effect at this
          // run's commit deadline (as the certify phase and the audit do), not at the best block
          const run = (await (await fetch(`${this.honest[0].api}/v1/runs/${runId}`)).json()) as { commitEnd?: number };
          const at = typeof run.commitEnd === 'number' ? run.commitEnd : (await client.bestBlock()).number;
          const commitments = await client.scoreCommitments(1, runId, at);
          if (commitments.size === 0) copying.evidence.push(`exact-guess check: no commitment for run ${runId} at block ${at}`);
          const reps = (await (await fetch(`${this.honest[0].api}/v1/runs/${runId}/reports`)).json()) as { reports: { hotkey: string; revealHex?: string }[] };
          const lines = exactGuessCheck(reps.reports.filter((r) => honestHotkeys.has(r.hotkey) && r.revealHex && commitments.get(r.hotkey)).map((r) => {
            const rev = decodeReveal(fromHex(r.revealHex!));
            return { hotkey: r.hotkey, report: rev.signed.report, salt: rev.salt, commitment: commitments.get(r.hotkey)!.hash };
          }));
          copying.evidence.push(...lines);
          if (lines.some((l) => /MATCHES|DOES NOT/.test(l))) copying.refused = false;
        } finally {
          await client.close();
        }
      } catch (err) {
        copying.evidence.push(`exact-guess check failed: ${(err as Error).message}`);
      }
    }
    for (const kind of ['selective-count', 'binding-hijack', 'early-reveal-fetch', 'copying'] as const) {
      const all = this.attempts.filter((x) => x.attack === kind);
      if (!all.length) problems.push(`the adversary's ${kind} attempt did not run`);
      for (const a of all) if (!a.refused) problems.push(`run ${a.runId ?? '?'}: the adversary's ${kind} attempt was not refused: ${a.evidence.slice(0, 3).join('; ')}`);
    }
    return { summary: { adversary: this.adversary.hotkey, attempts: this.attempts, honestOutcome }, problems };
  }
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const a = m.get(k);
  if (a) a.push(v);
  else m.set(k, [v]);
}

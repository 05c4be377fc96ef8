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
  private readonly refusedProposals = new Map<number, string[]>();
  private readonly refusedBindings = new Map<number, string[]>();
  private readonly adversaryLines: string[] = [];
  private attacked = new Set<number>();
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
      if (typeof m.msg === 'string' && m.msg.startsWith('adversary:')) {
        this.adversaryLines.push(`${m.msg} (run ${m.runId}, view ${m.view}, left out ${m.leftOut})`);
        this.log(`v${index} ATTEMPT ${m.msg}`);
      }
      return;
    }
    if (m.msg === 'consensus proposal refused') {
      (this.refusedProposals.get(index) ?? this.refusedProposals.set(index, []).get(index)!).push(String(m.reason));
      this.log(`v${index} refused a proposal: ${String(m.reason).slice(0, 160)}`);
    }
    if (m.msg === 'relayed binding refused') {
      (this.refusedBindings.get(index) ?? this.refusedBindings.set(index, []).get(index)!).push(`${m.hotkey}: ${m.reason}`);
    }
  }

  /** The honest validators all committed run `runId` (sealed until the commit deadline): the director attacks now. */
  async onHonestCommitted(runId: number): Promise<void> {
    if (this.attacked.has(runId)) return;
    this.attacked.add(runId);
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
        this.attempts.push({ attack: 'binding-hijack', what: `peer exchange of bindings of the adversary's hotkey naming the node keys of ${hijack.victims.length} honest validator(s) (later issuedAt; countersignature missing or copied) and of its own binding for netuid 2`, refused: false, evidence: hijack.answers });
      } finally {
        await client.close();
      }
    } catch (err) {
      this.attempts.push({ attack: 'early-reveal-fetch', what: 'the director\'s attempts', refused: false, evidence: [`failed to run: ${(err as Error).message}`] });
    } finally {
      this.holding = false;
    }
  }

  /** Judges the attempts once the runs are done. `certified`: per run, which honest validators hold which certificate and the winner. */
  async finish(runs: { runId: number; certifiedBy: string[]; sameCertificate: boolean; winnerMiner: string | null }[], chainUrl: string): Promise<{ summary: ByzantineSummary; problems: string[] }> {
    const problems: string[] = [];
    const honestHotkeys = new Set(this.honest.map((h) => h.hotkey));
    const honestOutcome = runs.length > 0 && runs.every((r) => r.sameCertificate && [...honestHotkeys].every((h) => r.certifiedBy.includes(h)) && r.winnerMiner === 'faster');
    if (!honestOutcome) problems.push('the honest validators did not all certify the honest outcome (one certificate, the faster miner winning)');
    // selective counting: the adversary tried, and every honest validator refused a proposal
    const refusedBy = this.honest.filter((h) => (this.refusedProposals.get(h.index) ?? []).some((r) => /leaves out \d+ valid report|justification lacks view changes|not signed by its proposer/.test(r)));
    this.attempts.unshift({
      attack: 'selective-count',
      what: this.adversaryLines.length ? this.adversaryLines.join('; ') : 'no selective proposal was made',
      refused: this.adversaryLines.length > 0 && refusedBy.length === this.honest.length,
      evidence: this.honest.map((h) => `v${h.index}: ${(this.refusedProposals.get(h.index) ?? ['no proposal refused'])[0]?.slice(0, 200)}`),
    });
    // binding hijack: every honest validator refused the relayed forgeries
    const hijack = this.attempts.find((a) => a.attack === 'binding-hijack');
    if (hijack) {
      hijack.refused = this.honest.every((h) => (this.refusedBindings.get(h.index) ?? []).length > 0) && honestOutcome;
      for (const h of this.honest) hijack.evidence.push(`v${h.index} refused ${(this.refusedBindings.get(h.index) ?? []).length} relayed binding(s): ${(this.refusedBindings.get(h.index) ?? []).slice(0, 2).join(' | ').slice(0, 300)}`);
    } else problems.push('the binding hijack did not run');
    // copying: the exact reports, now revealed, do not open the commitments without their salts
    const copying = this.attempts.find((a) => a.attack === 'copying');
    if (copying && runs.length) {
      try {
        const runId = runs[runs.length - 1].runId;
        const client = await SubtensorClient.connect({ endpoint: chainUrl });
        try {
          const commitments = await client.scoreCommitments(1, runId, (await client.bestBlock()).number);
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
      const a = this.attempts.find((x) => x.attack === kind);
      if (!a) problems.push(`the adversary's ${kind} attempt did not run`);
      else if (!a.refused) problems.push(`the adversary's ${kind} attempt was not refused: ${a.evidence.slice(0, 3).join('; ')}`);
    }
    return { summary: { adversary: this.adversary.hotkey, attempts: this.attempts, honestOutcome }, problems };
  }
}

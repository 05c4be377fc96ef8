// In-process seams for run-loop tests: a chain with block history (commitments and weights as of a
// block), a broadcast bus standing in for gossip (with sender node keys, as the real envelope gives),
// and an evaluator with fixed per-code MFU. Everything else is real: LevelDB, sr25519/ed25519,
// the PBFT reducer, the decision rules.
import { createHash } from 'node:crypto';
import type { Neuron } from '../../consensus/validator-set.ts';
import type { RosterEntry } from '../../proto/roster.ts';
import type { ChainPort, EvaluationOutcome, EvaluatorPort, MeshPort } from '../../node/validator/ports.ts';
import type { BindingRecord } from '../../proto/binding.ts';

export const h32 = (s: string) => createHash('sha256').update(s).digest('hex');
export const seed = (s: string) => new Uint8Array(createHash('sha256').update(s).digest());

export class MemChain {
  block = 1;
  tempo: number;
  netuid: number;
  neurons: Neuron[];
  roster: RosterEntry[];
  /** hotkey → [(block, runId, hash)] */
  commits = new Map<string, { block: number; runId: number; hash: string }[]>();
  weights = new Map<string, { block: number; uids: number[]; weights: number[] }[]>();
  private timer: NodeJS.Timeout | undefined;
  constructor(opts: { tempo: number; netuid: number; neurons: Neuron[]; roster: RosterEntry[] }) {
    this.tempo = opts.tempo;
    this.netuid = opts.netuid;
    this.neurons = opts.neurons;
    this.roster = opts.roster;
  }
  /** the target block time the chain reports (run() sets it to its pace) */
  msPerBlock = 12_000;
  run(msPerBlock: number): void {
    this.msPerBlock = msPerBlock;
    this.timer = setInterval(() => this.block++, msPerBlock);
  }
  stop(): void {
    clearInterval(this.timer);
  }
  portFor(hotkey: string): ChainPort {
    return {
      bestBlock: async () => this.block,
      genesisHash: async () => '0x' + h32('memchain-genesis'),
      tempo: async () => this.tempo,
      blockTimeMs: () => this.msPerBlock,
      blockHash: async (block) => '0x' + h32(`block:${block}`),
      // the legacy (modulo) schedule: runs start at (block + netuid + 1) % (tempo + 1) == 0
      epoch: async () => {
        const t = this.tempo + 1;
        const start = this.block - ((this.block + this.netuid + 1) % t);
        return { block: this.block, runStart: start >= 0 ? start : null, nextEpochAt: start + t, tempo: this.tempo, model: 'legacy' as const };
      },
      metagraph: async () => this.neurons.map((n) => ({ ...n })),
      minerRoster: async () => ({ entries: this.roster.map((e) => ({ ...e })), skipped: [] }),
      commitReportHash: async (runId, hash) => {
        const list = this.commits.get(hotkey) ?? [];
        list.push({ block: this.block, runId, hash });
        this.commits.set(hotkey, list);
        return { block: this.block };
      },
      reportCommitments: async (runId, atBlock) => {
        const out = new Map<string, { hash: string; block: number }>();
        for (const [hk, list] of this.commits) {
          const latest = list.filter((c) => c.block <= atBlock).at(-1);
          if (latest && latest.runId === runId) out.set(hk, { hash: latest.hash, block: latest.block });
        }
        return out;
      },
      setWeights: async (uids, weights) => {
        const list = this.weights.get(hotkey) ?? [];
        list.push({ block: this.block, uids, weights });
        this.weights.set(hotkey, list);
        return { block: this.block };
      },
      weightsOf: async (hk, at) => {
        const w = (this.weights.get(hk) ?? []).filter((x) => at === undefined || x.block <= at).at(-1);
        return w ? w.uids.map((u, i) => ({ uid: u, weight: w.weights[i] })) : [];
      },
      weightsOfMany: async (hks, at) => {
        const out = new Map<string, { uid: number; weight: number }[]>();
        for (const hk of hks) {
          const w = (this.weights.get(hk) ?? []).filter((x) => at === undefined || x.block <= at).at(-1);
          out.set(hk, w ? w.uids.map((u, i) => ({ uid: u, weight: w.weights[i] })) : []);
        }
        return out;
      },
      lastWeightsBlock: async (hk) => this.weights.get(hk)?.at(-1)?.block ?? null,
      subnetOwnerHotkey: async () => null,
      close: async () => undefined,
    };
  }
}

export class Bus {
  members = new Map<string, { nodeKey: string; hotkey: string; binding?: BindingRecord; reports: ((b: Uint8Array) => void)[]; consensus: ((b: Uint8Array, from: string) => void)[] }>();
  down = new Set<string>();
  /** `binding`: the member's binding record (attributes its votes in certified-run evidence). */
  portFor(hotkey: string, nodeKey: string, binding?: BindingRecord): MeshPort {
    const me = { nodeKey, hotkey, binding, reports: [] as ((b: Uint8Array) => void)[], consensus: [] as ((b: Uint8Array, from: string) => void)[] };
    this.members.set(nodeKey, me);
    const deliver = (fn: () => void) => setImmediate(fn);
    return {
      publishReport: async (bytes) => {
        if (this.down.has(nodeKey)) return;
        for (const m of this.members.values()) if (m !== me && !this.down.has(m.nodeKey)) m.reports.forEach((h) => deliver(() => h(bytes)));
      },
      onReport: (h) => me.reports.push(h),
      sendConsensus: async (to, bytes) => {
        if (this.down.has(nodeKey)) return;
        for (const m of this.members.values()) {
          if (m === me || this.down.has(m.nodeKey) || (to !== null && m.nodeKey !== to)) continue;
          m.consensus.forEach((h) => deliver(() => h(bytes, nodeKey)));
        }
      },
      onConsensus: (h) => me.consensus.push(h),
      boundNodeKeys: () => new Map([...this.members.values()].map((m) => [m.hotkey, m.nodeKey])),
      bindingRecords: () => new Map([...this.members.values()].filter((m) => m.binding).map((m) => [m.hotkey, m.binding!])),
      peerCount: () => this.members.size - 1,
      close: async () => {
        this.members.delete(nodeKey);
      },
    };
  }
}

export function fixedEvaluator(scoreByCode: Map<string, EvaluationOutcome>, calls: string[] = [], contexts: { runId: number; randomness: string }[] = []): EvaluatorPort {
  return {
    policyHash: async () => h32('policy-v1'),
    concurrency: () => 2,
    evaluate: async (entry, ctx) => {
      calls.push(entry.codeSha256);
      contexts.push({ runId: ctx.runId, randomness: ctx.randomness });
      await new Promise((r) => setTimeout(r, 5));
      return scoreByCode.get(entry.codeSha256) ?? { status: 'fetch-failed', score: 0, detail: { reason: 'unknown code' } };
    },
  };
}

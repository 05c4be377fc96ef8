// ConsensusPort over the pure PBFT reducer (consensus/pbft.ts): real clock in, mesh messages in,
// outputs out. The reducer state and pending timers are persisted (awaited) BEFORE any output
// message leaves, so a restart resumes from exactly the state that produced the messages peers
// saw — the node never votes twice in one view/phase.
import { decodeState, encodeState, initState, step, DEFAULT_TIMING, type Output, type PbftState, type Timing } from '../../consensus/pbft.ts';
import { nativeVerifier } from '../../consensus/equivocation.ts';
import { encodeCertificate, encodeEquivocationProof, encodeMessage, type Certificate, type Decision } from '../../proto/consensus.ts';
import { decodeSignedScoreReport } from '../../proto/score-report.ts';
import { sha256Hex, toHex } from '../../proto/codec.ts';
import type { Ed25519Signer } from '../../proto/signer.ts';
import type { ConsensusInput, ConsensusOutcome, ConsensusPort, ConsensusSession } from './ports.ts';
import type { DecisionRules } from './decision.ts';
import { decisionView } from './decision.ts';

interface Persisted {
  pbft: string;
  timers: Record<string, number>;
}

export class PbftConsensus implements ConsensusPort {
  private readonly signer: Ed25519Signer;
  private readonly hotkey: string;
  private readonly rules: DecisionRules;
  private readonly timing: Timing;
  private readonly onReject: (reason: string) => void;

  constructor(opts: { nodeSigner: Ed25519Signer; hotkey: string; rules: DecisionRules; timing?: Partial<Timing>; onReject?: (reason: string) => void }) {
    this.signer = opts.nodeSigner;
    this.hotkey = opts.hotkey;
    this.rules = opts.rules;
    this.timing = { ...DEFAULT_TIMING, ...opts.timing };
    this.onReject = opts.onReject ?? (() => undefined);
  }

  async start(input: ConsensusInput, io: { send(to: string | null, bytes: Uint8Array): Promise<void>; persist(state: unknown): Promise<void> }, resume: unknown, now: number): Promise<ConsensusSession> {
    const members = input.members.map((m) => ({ uid: m.uid, hotkey: m.hotkey, stake: m.stake, nodeKey: input.nodeKeys.get(m.hotkey) ?? '' }));
    const selfIndex = members.findIndex((m) => m.hotkey === this.hotkey);
    if (selfIndex < 0) throw new Error(`this hotkey ${this.hotkey} is not a member of run ${input.runId}'s validator set (permit and stake >= min_stake needed)`);
    members[selfIndex].nodeKey = toHex(this.signer.publicKey);
    const env = { signer: this.signer, verifier: nativeVerifier };
    const rules = this.rules;
    let state: PbftState;
    let timers: Record<string, number> = {};
    let decided: ConsensusOutcome | null = null;
    const equivocations: { hotkey: string; proofHex: string }[] = [];
    const byNodeKey = new Map(members.map((m, i) => [m.nodeKey, i]));

    const outcomeOf = (d: { decision: Decision; certificate: Certificate }) => {
      const certificateBytes = encodeCertificate(d.certificate);
      return { decision: decisionView(d.decision, input.roster, rules.threshold), certificateBytes, certificateHash: sha256Hex(certificateBytes), countedHashes: d.decision.reportHashes };
    };

    const apply = async (outputs: Output[]) => {
      for (const o of outputs) {
        if (o.type === 'set-timer') timers[o.timer] = o.at;
        else if (o.type === 'decided') {
          decided = outcomeOf(o);
        } else if (o.type === 'equivocation') equivocations.push({ hotkey: o.offender, proofHex: toHex(encodeEquivocationProof(o.proof)) });
        else if (o.type === 'rejected') this.onReject(o.reason);
      }
      // persist first, then speak
      await io.persist({ pbft: encodeState(state), timers } satisfies Persisted);
      for (const o of outputs) {
        if (o.type === 'send') await io.send(members[o.to].nodeKey || null, o.bytes);
        else if (o.type === 'broadcast') await io.send(null, o.bytes);
      }
    };

    const saved = resume as Persisted | undefined;
    if (saved && typeof saved.pbft === 'string') {
      state = decodeState(saved.pbft);
      timers = saved.timers ?? {};
      if (state.decided) {
        decided = outcomeOf(state.decided);
      }
    } else {
      let ownReport = null;
      if (input.ownReport) ownReport = decodeSignedScoreReport(input.ownReport);
      state = initState({
        context: { netuid: input.netuid, runId: input.runId, rosterHash: input.rosterHash, policyHash: input.policyHash, hardwareClass: input.hardwareClass },
        members,
        selfIndex,
        threshold: rules.threshold,
        policy: rules.winner,
        incumbentUid: input.incumbent,
        roster: input.roster.map((e) => ({ uid: e.uid, minerHotkey: e.minerHotkey, codeSha256: e.codeSha256, commitBlock: e.commitBlock })),
        commitments: Object.fromEntries([...input.commitments].map(([h, c]) => [h, c.hash])),
        timing: this.timing,
        ownReport,
      });
      const r = step(state, { type: 'start' }, now, env);
      state = r.state;
      await apply(r.outputs);
      // peers' reports this node already holds enter as report messages from their senders
      for (const bytes of input.counted) {
        const signed = decodeSignedScoreReport(bytes);
        const from = members.findIndex((m) => m.hotkey === signed.report.validatorHotkey);
        if (from < 0 || from === selfIndex) continue;
        const res = step(state, { type: 'message', from, bytes: encodeMessage({ type: 'report', signed }) }, now, env);
        state = res.state;
        await apply(res.outputs);
      }
    }

    return {
      async deliver(bytes, fromNodeKey, t) {
        const from = byNodeKey.get(fromNodeKey);
        if (from === undefined || from === selfIndex) return;
        const r = step(state, { type: 'message', from, bytes }, t, env);
        state = r.state;
        await apply(r.outputs);
      },
      async tick(t) {
        for (const [name, at] of Object.entries(timers)) {
          if (at > t) continue;
          delete timers[name];
          const r = step(state, { type: 'timeout', timer: name }, t, env);
          state = r.state;
          await apply(r.outputs);
        }
      },
      outcome: () => decided,
      equivocations: () => equivocations,
    };
  }
}

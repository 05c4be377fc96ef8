// ConsensusPort over the pure PBFT reducer (consensus/pbft.ts): real clock in, mesh messages in,
// outputs out. The reducer state and pending timers are persisted (awaited) BEFORE any output
// message leaves, so a restart resumes from exactly the state that produced the messages peers
// saw — the node never votes twice in one view/phase. The node's part of the protocol lives here:
// verifying a certified run a peer sends (chain data) and attaching its voters' bindings to the
// certificate this node decides.
import { decodeState, decodeStateParts, encodeJson, encodeStateCore, initState, step, DEFAULT_TIMING, type Input, type Output, type PbftState, type RunSetup, type StoredReport, type Timing } from '../../consensus/pbft.ts';
import { nativeVerifier } from '../../consensus/equivocation.ts';
import { encodeCertificate, encodeEquivocationProof, encodeMessage, type Certificate, type CertifiedRun, type Decision } from '../../proto/consensus.ts';
import { decodeReveal } from '../../proto/reveal.ts';
import { sha256Hex, toHex } from '../../proto/codec.ts';
import type { Ed25519Signer } from '../../proto/signer.ts';
import type { BindingRecord } from '../../proto/binding.ts';
import type { ConsensusInput, ConsensusIoPort, ConsensusOutcome, ConsensusPort, ConsensusSession } from './ports.ts';
import type { DecisionRules } from './decision.ts';
import { decisionView } from './decision.ts';
import type { ConsensusDelta, PersistedConsensus } from './consensus-state.ts';

/** Legacy persisted form (whole state as one JSON), still resumed. */
interface PersistedWhole {
  pbft: string;
  timers: Record<string, number>;
}

export class PbftConsensus implements ConsensusPort {
  private readonly signer: Ed25519Signer;
  private readonly hotkey: string;
  private readonly rules: DecisionRules;
  readonly timing: Timing;
  private readonly onReject: (reason: string, runId: number) => void;
  /** Dev fault hook (devnet --byzantine): may rewrite or drop this node's outputs. */
  private readonly tamper?: (outputs: Output[], state: PbftState, signer: Ed25519Signer) => Output[];

  constructor(opts: { nodeSigner: Ed25519Signer; hotkey: string; rules: DecisionRules; timing?: Partial<Timing>; onReject?: (reason: string, runId: number) => void; tamper?: (outputs: Output[], state: PbftState, signer: Ed25519Signer) => Output[] }) {
    this.signer = opts.nodeSigner;
    this.hotkey = opts.hotkey;
    this.rules = opts.rules;
    this.timing = { ...DEFAULT_TIMING, ...opts.timing };
    this.onReject = opts.onReject ?? (() => undefined);
    this.tamper = opts.tamper;
  }

  async start(input: ConsensusInput, io: ConsensusIoPort, resume: unknown, now: number): Promise<ConsensusSession> {
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
    const byNodeKey = new Map(members.filter((m) => m.nodeKey).map((m) => [m.nodeKey, members.indexOf(m)]));
    /** Takes the node keys of the reducer's setup (same member order) into the adapter's lookups. */
    const adoptKeys = (setupMembers: { hotkey: string; nodeKey: string }[]): void => {
      setupMembers.forEach((m, i) => {
        if (!m.nodeKey || members[i]?.hotkey !== m.hotkey) return;
        members[i].nodeKey = m.nodeKey;
        byNodeKey.set(m.nodeKey, i);
      });
    };
    const byHotkey = new Map(members.map((m, i) => [m.hotkey, i]));

    const evidenceOf = (certificate: Certificate): CertifiedRun => ({
      certificate,
      bindings: certificate.votes.map((v) => io.bindingOf(v.voter)).filter((b): b is BindingRecord => Boolean(b)),
    });
    const outcomeOf = (d: { decision: Decision; hash: string; certificate: Certificate }): ConsensusOutcome => {
      const certificateBytes = encodeCertificate(d.certificate);
      return {
        decision: decisionView(d.decision, input.roster, rules.threshold), certificateBytes, certificateHash: sha256Hex(certificateBytes),
        countedHashes: d.decision.reportHashes, certified: evidenceOf(d.certificate), decisionHash: d.hash,
      };
    };

    const run = async (inp: Input, t: number): Promise<void> => {
      const r = step(state, inp, t, env);
      state = r.state;
      await apply(this.tamper ? this.tamper(r.outputs, state, this.signer) : r.outputs, t);
    };

    const apply = async (outputs: Output[], t: number) => {
      const verify: CertifiedRun[] = [];
      for (const o of outputs) {
        if (o.type === 'set-timer') timers[o.timer] = o.at;
        else if (o.type === 'decided') decided = outcomeOf(o);
        else if (o.type === 'equivocation') equivocations.push({ hotkey: o.offender, proofHex: toHex(encodeEquivocationProof(o.proof)) });
        else if (o.type === 'rejected') this.onReject(o.reason, input.runId);
        else if (o.type === 'verify-prior') verify.push(o.evidence);
      }
      // Persist first, then speak. Only a step that speaks (or decides) must be durable before its
      // outputs leave: that is what keeps a restarted member from voting twice. A step that only
      // absorbed a message is persisted with the next one that speaks; if the process dies before,
      // the message is lost to this member, which peers' retransmissions and the fetch protocol
      // repair. Persisting every step wrote the whole state (all reports) once per incoming message:
      // at 64 members x 256 miners, megabytes per message.
      if (outputs.some((o) => o.type === 'send' || o.type === 'broadcast' || o.type === 'decided' || o.type === 'equivocation')) {
        await io.persist(delta());
      }
      for (const o of outputs) {
        if (o.type === 'send') await io.send(members[o.to].nodeKey || null, o.bytes);
        else if (o.type === 'broadcast') await io.send(null, o.bytes);
      }
      for (const evidence of verify) if (await io.verifyPrior(evidence)) await run({ type: 'verified-prior', evidence }, t);
    };

    // What the store already holds: the setup object and report entries last written (by identity:
    // the reducer replaces an entry, never edits it in place). Only what differs goes into a delta.
    let writtenSetup: RunSetup | null = null;
    const writtenReports = new Map<string, StoredReport>();
    const delta = (): ConsensusDelta => {
      const reports: Record<string, string> = {};
      for (const [hash, entry] of Object.entries(state.reports)) {
        if (writtenReports.get(hash) === entry) continue;
        reports[hash] = encodeJson(entry);
        writtenReports.set(hash, entry);
      }
      const setup = state.setup === writtenSetup ? undefined : encodeJson(state.setup);
      writtenSetup = state.setup;
      return { v: 2, delta: true, core: encodeStateCore(state), timers: { ...timers }, ...(setup !== undefined ? { setup } : {}), reports };
    };

    const saved = resume as PersistedConsensus | PersistedWhole | undefined;
    const resumed = saved && 'core' in saved && typeof saved.core === 'string' ? decodeStateParts(saved) : saved && 'pbft' in saved && typeof saved.pbft === 'string' ? decodeState(saved.pbft) : null;
    if (saved && resumed) {
      state = resumed;
      timers = saved.timers ?? {};
      if ('core' in saved) {
        writtenSetup = state.setup;
        for (const [hash, entry] of Object.entries(state.reports)) writtenReports.set(hash, entry);
      }
      // the persisted setup holds the node keys the session knew before the restart; the bindings
      // known right after it may still be incomplete
      adoptKeys(state.setup.members);
      if (state.decided) decided = outcomeOf(state.decided);
    } else {
      const ownReveal = input.ownReport ? decodeReveal(input.ownReport) : null;
      state = initState({
        context: { netuid: input.netuid, runId: input.runId, rosterHash: input.rosterHash, policyHash: input.policyHash, hardwareClass: input.hardwareClass },
        members,
        selfIndex,
        threshold: rules.threshold,
        policy: rules.winner,
        roster: input.roster.map((e) => ({ uid: e.uid, minerHotkey: e.minerHotkey, codeSha256: e.codeSha256, commitBlock: e.commitBlock })),
        seed: input.seed,
        commitments: Object.fromEntries([...input.commitments].map(([h, c]) => [h, c.hash])),
        timing: this.timing,
        ownReveal,
        ownRevealGossiped: Boolean(ownReveal && input.ownReportGossiped),
        prior: input.prior,
        chainIncumbent: input.chainIncumbent,
        maxMissedReveals: input.maxMissedReveals,
      });
      // the reveals this node held at the reveal deadline enter before 'start': they are on time
      for (const bytes of input.counted) {
        const reveal = decodeReveal(bytes);
        const from = byHotkey.get(reveal.signed.report.validatorHotkey);
        if (from === undefined || from === selfIndex) continue;
        await run({ type: 'message', from, bytes: encodeMessage({ type: 'reveal', reveal }) }, now);
      }
      await run({ type: 'start' }, now);
    }

    // A member whose binding was not known when the session opened (this node had just restarted or
    // joined, or the member's hello was still in flight) has no node key in the setup: its messages
    // cannot be attributed and its votes in a certificate cannot be checked. Fill such keys in from
    // the bindings known now (never change a key already set), so the session does not stay blind to
    // that member for the rest of the run.
    const learnNodeKeys = (): void => {
      if (!io.nodeKeys || state.setup.members.every((m) => m.nodeKey)) return;
      const known = io.nodeKeys();
      let changed = false;
      const updated = state.setup.members.map((m) => {
        const k = m.nodeKey ? undefined : known.get(m.hotkey);
        if (!k || byNodeKey.has(k)) return m;
        changed = true;
        return { ...m, nodeKey: k };
      });
      if (!changed) return;
      state = { ...state, setup: { ...state.setup, members: updated } };
      adoptKeys(updated);
    };

    return {
      async deliver(bytes, fromNodeKey, t) {
        learnNodeKeys(); // also for the votes a certificate or a justification carries
        const from = byNodeKey.get(fromNodeKey);
        if (from === undefined || from === selfIndex) return;
        await run({ type: 'message', from, bytes }, t);
      },
      async deliverReveal(revealBytes, t) {
        let reveal;
        try {
          reveal = decodeReveal(revealBytes);
        } catch {
          return;
        }
        const from = byHotkey.get(reveal.signed.report.validatorHotkey);
        if (from === undefined || from === selfIndex) return;
        await run({ type: 'message', from, bytes: encodeMessage({ type: 'reveal', reveal }) }, t);
      },
      async tick(t) {
        learnNodeKeys();
        for (const [name, at] of Object.entries(timers)) {
          if (at > t) continue;
          delete timers[name];
          await run({ type: 'timeout', timer: name }, t);
        }
      },
      outcome: () => decided,
      equivocations: () => equivocations,
    };
  }
}

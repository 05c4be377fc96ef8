// Why one file of ~400 lines: the event loop and the fault injection act on the same per-run state in
// one step (options, members and the checks are already in options.ts, members.ts, metrics.ts).
// Deterministic Byzantine simulator: every member runs the real consensus state machine
// (consensus/pbft.ts) with real sr25519 reports, salted commitments, ed25519 votes and real binding
// rules (consensus/bindings.ts), in one process, on virtual time. Randomness comes only from the
// seeded PRNG; the same options give the same result (except the CPU and wall-clock measurements).
//
// A run: every member commits sha256(salt || report), reveals during the reveal window (delivered
// before the consensus start: on time), then starts consensus. Runs chain: each member takes its
// incumbent from the last certificate it holds (the node's role of verifying a certified run a peer
// sends is played here with consensus/prior.ts, against the same validator set).
import { sha256Hex, toHex } from '../../proto/codec.ts';
import { decodeMessage, encodeMessage, signVote, type CertifiedRun, type Decision, type Vote } from '../../proto/consensus.ts';
import { rosterHash, type RosterEntry } from '../../proto/roster.ts';
import { scoreReportHash, signScoreReport, type ScoreEntry, type ScoreReport } from '../../proto/score-report.ts';
import { revealCommitment, type Reveal } from '../../proto/reveal.ts';
import { verifyBinding, type BindingRecord } from '../../proto/binding.ts';
import { cryptoReady, publicKeyToHotkey } from '../../proto/signer.ts';
import type { RunContext } from '../aggregate.ts';
import { BindingBook } from '../bindings.ts';
import { initState, step, type Output, type PbftState, type PriorRun, type RunSetup } from '../pbft.ts';
import { verifyCertifiedRun } from '../prior.ts';
import { proposerIndex } from '../validator-set.ts';
import { EquivocationAttack, equivocatorSide, forgedBindings, selectiveDropSet, type AttackWorld } from './attacks.ts';
import { checkRun, summarize } from './metrics.ts';
import { BIND_AT, GENESIS, NETUID, makeMembers, type SimMember } from './members.ts';
import { checkSimOptions, type Fault, type SimOptions, type SimResult } from './options.ts';
import { Prng } from './prng.ts';
import { EventQueue } from './queue.ts';
import { MemoVerifier } from './verifier.ts';

export { DEFAULT_SIM_OPTIONS, FAULTS, STAKE_DISTRIBUTIONS, checkSimOptions, type Fault, type Partition, type SimOptions, type SimResult, type StakeDistribution } from './options.ts';

interface Ev {
  at: number;
  seq: number;
  to: number;
  from: number;
  bytes: Uint8Array | null;
  timer: string | null;
}

const POLICY_HASH = sha256Hex('conclave-sim-policy');
const HARDWARE = 'sim-H100';

export async function simulate(opts: SimOptions): Promise<SimResult> {
  checkSimOptions(opts);
  await cryptoReady();
  const wall0 = performance.now();
  const rng = new Prng(opts.seed);
  const n = opts.validators;
  const members = makeMembers(opts, rng);
  const stakes = members.map((m) => m.stake);
  const totalStake = stakes.reduce((s, x) => s + x, 0n);
  const byzStake = members.filter((m) => m.fault).reduce((s, m) => s + m.stake, 0n);
  const bindingOf = new Map(members.map((m) => [m.nodeKey, m.binding]));
  const honest = members.filter((m) => !m.fault).map((m) => m.index);
  const has = (f: Fault) => members.some((m) => m.fault === f);
  const verifier = new MemoVerifier(n);
  const verifiers = members.map((m) => verifier.forMember(m.index));
  const isValidator = new Set(members.map((m) => m.sr.hotkey));
  // binding checks are pure and repeated by every member: verified once per record
  const bindingMemo = new Map<string, { ok: true } | { ok: false; reason: string }>();
  const memoBinding = (b: BindingRecord, now: number) => {
    const k = `${b.signature}|${b.nodeSignature}|${b.nodePublicKey}|${b.hotkey}|${b.netuid}|${b.issuedAt}`;
    let v = bindingMemo.get(k);
    if (!v) bindingMemo.set(k, (v = verifyBinding(b, now, { scope: { genesisHash: GENESIS, netuid: NETUID } })));
    return v;
  };
  // every member's admission table (consensus/bindings.ts), loaded with the genuine bindings
  const books = members.map(() => new BindingBook({ genesisHash: GENESIS, netuid: NETUID }));
  for (const book of books) for (const m of members) book.consider(m.binding, BIND_AT + 1000, { isValidator: (h) => isValidator.has(h), verify: memoBinding });

  const minerRng = rng.fork(4);
  const miners = Array.from({ length: opts.miners }, (_, i) => ({
    uid: 1000 + i,
    minerHotkey: publicKeyToHotkey(minerRng.bytes(32)),
    codeSha256: toHex(minerRng.bytes(32)),
    commitBlock: 10 + minerRng.int(1000),
  }));
  const uids = miners.map((m) => m.uid);

  const res: SimResult = {
    validators: n, byzantine: opts.byzantine, byzantinePowerShare: Number((byzStake * 1_000_000n) / totalStake) / 1_000_000, runs: opts.runs,
    decided: 0, safetyViolations: 0, livenessFailures: 0, winnerChangedByByzantine: 0, clearRacesFlippedRuns: [], closeRaces: 0, closeRacesFlipped: 0, closeRaceFlipShare: 0,
    bindingForgeriesOffered: 0, bindingForgeriesAccepted: 0, priorRunsVerified: 0, staleMembersCertified: 0, staleMembers: 0,
    messages: 0, messagesPerRun: 0, messagesByKind: {}, signatureVerifications: 0, verificationsPerMemberPerRun: 0, sr25519Verifications: 0, ed25519Verifications: 0,
    realVerifications: 0, simulatedLatencyMs: { p50: 0, p99: 0, max: 0 }, cpuMsPerMember: 0, cpuMsPerMemberMax: 0, verifyCostMs: { sr25519: 0, ed25519: 0 },
    maxView: 0, viewChangesRuns: 0, equivocationDetections: 0, rejectedMessages: 0, incompleteProposalsRefused: 0, scoreOutsideHonestRange: 0, holds: 0, wallMs: 0, violations: [],
  };
  const cpuUs = new Array<number>(n).fill(0);
  const latencies: number[] = [];
  /** Each member's certified runs, newest last (its own memory; the stale-incumbent fault drops the newest). */
  const priors: PriorRun[][] = members.map(() => []);
  let previousOutgoing: Uint8Array[][] = members.map(() => []);
  const queue = new EventQueue<Ev>();
  const vsMembers = members.map((m) => ({ hotkey: m.sr.hotkey, stake: m.stake }));

  for (let run = 0; run < opts.runs; run++) {
    const runRng = rng.fork(100 + run);
    const runId = 1000 + run * 361;
    const t0 = run * 100_000_000 + opts.revealWindowMs;
    const seed = toHex(runRng.bytes(32));
    const roster: RosterEntry[] = miners.map((m) => ({ ...m, url: `https://example.invalid/${m.uid}.zip` }));
    const context: RunContext = { netuid: NETUID, runId, rosterHash: rosterHash(roster), policyHash: POLICY_HASH, hardwareClass: HARDWARE };
    // Ground truth this run: most submissions score, some fail at runtime.
    const truth = miners.map((m) => ({ uid: m.uid, failed: runRng.chance(0.1), mfu: 200_000 + runRng.int(400_000) }));
    const ranked = truth.filter((t) => !t.failed).sort((a, b) => b.mfu - a.mfu);
    const honestBest = ranked[0]?.uid ?? miners[0].uid;
    const friend = (ranked[1] ?? ranked[0])?.uid ?? miners[0].uid;
    const makeReveal = (m: SimMember, skew: 'honest' | 'inflate' | 'abstain' | 'veto'): Reveal => {
      const entries: ScoreEntry[] = truth.map((t, i) => {
        const base = { uid: t.uid, minerHotkey: miners[i].minerHotkey, codeSha256: miners[i].codeSha256 };
        if (skew === 'abstain') return { ...base, score: 0, status: 'fetch-failed' };
        if (skew === 'veto' && t.uid === honestBest) return { ...base, score: 0, status: 'fetch-failed' };
        if (skew === 'inflate' && t.uid === friend) return { ...base, score: 990_000, status: 'scored' };
        if (skew === 'inflate' && t.uid === honestBest) return { ...base, score: 0, status: 'rejected-runtime' };
        if (t.failed) return { ...base, score: 0, status: 'rejected-runtime' };
        // Honest measurement noise: +-0.5 %.
        return { ...base, score: Math.round(t.mfu * (1 + (runRng.float() - 0.5) * 0.01)), status: 'scored' };
      });
      const report: ScoreReport = { version: 1, ...context, validatorHotkey: m.sr.hotkey, entries, issuedAt: 1_700_000_000_000 + run * 4_320_000 };
      const c0 = process.cpuUsage();
      const signed = signScoreReport(report, m.sr);
      const c1 = process.cpuUsage(c0);
      cpuUs[m.index] += c1.user + c1.system;
      return { salt: toHex(runRng.bytes(32)), signed };
    };
    const own: (Reveal | null)[] = [];
    const twin: (Reveal | null)[] = [];
    const commitments: Record<string, string> = {};
    for (const m of members) {
      let r: Reveal | null = null;
      let b: Reveal | null = null;
      if (m.fault === 'withhold') r = null;
      else if (m.fault === 'inflate') r = makeReveal(m, 'inflate');
      else if (m.fault === 'abstain') r = makeReveal(m, 'abstain');
      else if (m.fault === 'selective-count') r = makeReveal(m, 'veto');
      else if (m.fault === 'equivocate') {
        r = makeReveal(m, 'honest');
        b = makeReveal(m, 'inflate');
      } else r = makeReveal(m, 'honest');
      own.push(r);
      twin.push(b);
      if (r) commitments[m.sr.hotkey] = revealCommitment(r);
    }
    const honestReports = honest.flatMap((h) => (own[h] ? [{ report: own[h]!.signed.report, hash: scoreReportHash(own[h]!.signed.report), hotkey: members[h].sr.hotkey, power: members[h].stake }] : []));

    // binding-hijack: forged bindings offered to every honest member's admission table
    if (has('binding-hijack')) {
      for (const hj of members.filter((m) => m.fault === 'binding-hijack')) {
        for (const v of honest) {
          for (const forged of forgedBindings(hj, members[v], { genesisHash: GENESIS, netuid: NETUID }, BIND_AT + 2000 + run)) {
            for (const h of honest) {
              res.bindingForgeriesOffered++;
              if (books[h].consider(forged, BIND_AT + 3000 + run, { isValidator: (x) => isValidator.has(x), verify: memoBinding }).ok) res.bindingForgeriesAccepted++;
            }
          }
        }
      }
    }

    // stale-incumbent: one honest member (rotating) starts without the latest certificate it holds
    const staleVictim = opts.faults.includes('stale-incumbent') && opts.byzantine > 0 && run > 0 && honest.length ? honest[run % honest.length] : -1;
    const priorFor = (i: number): PriorRun | null => {
      const list = priors[i];
      if (i === staleVictim || members[i].fault === 'stale-incumbent') return list.length >= 2 ? list[list.length - 2] : null;
      return list[list.length - 1] ?? null;
    };
    if (staleVictim >= 0 && priors[staleVictim].length > 0) res.staleMembers++;

    const setups: RunSetup[] = members.map((m) => ({
      context,
      members: members.map((x) => ({ uid: x.uid, hotkey: x.sr.hotkey, stake: x.stake, nodeKey: books[m.index].nodeKeyOf(x.sr.hotkey) ?? '' })),
      selfIndex: m.index,
      threshold: opts.threshold,
      policy: opts.policy,
      roster: miners,
      seed,
      commitments,
      timing: opts.timing,
      ownReveal: own[m.index],
      prior: priorFor(m.index),
      chainIncumbent: null,
      maxMissedReveals: 0,
      bindings: Object.fromEntries(members.map((x) => [x.nodeKey, x.binding])),
    }));
    const states: PbftState[] = setups.map((s) => initState(s));
    const envs = members.map((m) => ({ signer: m.ed, verifier: verifiers[m.index] }));
    const decidedAt = new Array<number>(n).fill(-1);
    const decidedHash = new Array<string | null>(n).fill(null);
    let decidedDecision: Decision | null = null;
    const outgoing: Uint8Array[][] = members.map(() => []);
    let seq = 0;
    queue.clear();
    const partitionsActive = run % opts.partitionEvery === 0 ? opts.partitions : [];
    const healAt = t0 + partitionsActive.reduce((mx, p) => Math.max(mx, p.toMs), 0);
    const horizon = healAt + opts.livenessBoundMs;
    const groupOf = (i: number, groups: number) => Math.floor((i * groups) / n);
    const blocked = (from: number, to: number, at: number) =>
      partitionsActive.some((p) => at >= t0 + p.fromMs && at < t0 + p.toMs && groupOf(from, p.groups) !== groupOf(to, p.groups));

    const deliver = (from: number, to: number, bytes: Uint8Array, now: number, kind: string) => {
      res.messages++;
      res.messagesByKind[kind] = (res.messagesByKind[kind] ?? 0) + 1;
      if (members[from].fault === 'replay' && outgoing[from].length < 64) outgoing[from].push(bytes);
      const copies = runRng.chance(opts.duplicate) ? 2 : 1;
      for (let k = 0; k < copies; k++) {
        if (runRng.chance(opts.loss)) continue;
        const at = now + opts.minDelayMs + runRng.float() * (opts.maxDelayMs - opts.minDelayMs);
        if (blocked(from, to, now) || blocked(from, to, at)) continue;
        queue.push({ at, seq: seq++, to, from, bytes, timer: null });
      }
    };
    const world: AttackWorld = {
      netuid: NETUID, runId, context, roster: miners, threshold: opts.threshold, policy: opts.policy, members, totalStake, honest,
      reveals: own, committed: Object.keys(commitments), deliver,
    };
    const attacks = new Map<number, EquivocationAttack>();
    const dropSets = new Map<number, Set<string>>();
    for (const m of members) if (m.fault === 'selective-count') dropSets.set(m.index, selectiveDropSet(world, honestBest));
    const lateAt = t0 + opts.timing.proposeDelayMs + 50;
    /** Certified runs the node verified for a member, handed back to its reducer on the next event. */
    const pendingPriors = new Map<string, CertifiedRun>();

    const emit = (i: number, outputs: Output[], now: number) => {
      const fault = members[i].fault;
      for (const o of outputs) {
        if (o.type === 'set-timer') {
          queue.push({ at: Math.max(o.at, now), seq: seq++, to: i, from: i, bytes: null, timer: o.timer });
          continue;
        }
        if (o.type === 'decided') {
          if (!fault) {
            decidedAt[i] = now;
            decidedHash[i] = o.hash;
            decidedDecision ??= o.decision;
          }
          continue;
        }
        if (o.type === 'equivocation') {
          res.equivocationDetections++;
          continue;
        }
        if (o.type === 'rejected') {
          res.rejectedMessages++;
          if (/leaves out \d+ valid report/.test(o.reason)) res.incompleteProposalsRefused++;
          if (process.env.SIM_DEBUG) console.error(`run ${run} t=${(now - t0).toFixed(0)} member ${i}${fault ? '(byz)' : ''} rejected from ${o.from}: ${o.reason}`);
          continue;
        }
        if (o.type === 'verify-prior') {
          // the node's role: verify the certified run against the validator set at its run (the same set here)
          const check = verifyCertifiedRun(o.evidence, { netuid: NETUID, genesisHash: GENESIS, members: vsMembers, threshold: opts.threshold }, verifiers[i], (b) => memoBinding(b, b.issuedAt).ok);
          if (process.env.SIM_DEBUG) console.error(`run ${run} member ${i}${fault ? '(' + fault + ')' : ''} verifies certified run ${o.evidence.certificate.decision.runId} from ${o.from}: ${check.ok ? 'ok' : check.reason}`);
          if (check.ok) {
            res.priorRunsVerified++;
            queue.push({ at: now + 1, seq: seq++, to: i, from: i, bytes: null, timer: `__prior:${JSON.stringify(priorKey(o.evidence))}` });
            pendingPriors.set(priorKeyString(i, o.evidence), o.evidence);
          }
          continue;
        }
        // send / broadcast
        if (process.env.SIM_TRACE && Number(process.env.SIM_TRACE) === run && o.kind !== 'reveal') {
          const m = decodeMessage(o.bytes);
          const view = m.type === 'proposal' ? m.proposal.vote.view : m.type === 'vote' ? `${m.vote.view}/${m.vote.phase}` : m.type === 'certificate' ? `${m.cert.view}/${m.cert.phase}` : m.type === 'view-change' ? m.viewChange.newView : '';
          console.error(`t=${(now - t0).toFixed(0)} ${i}${fault ? '(' + fault + ')' : ''} ${o.type} ${o.kind} ${o.type === 'send' ? 'to ' + o.to : ''} view ${view} [member view ${states[i].view}]`);
        }
        if (fault === 'withhold') continue;
        if (fault === 'silent-proposer' && (o.kind === 'proposal' || o.kind === 'certificate')) continue;
        if (fault === 'late-reveal' && o.kind === 'reveal' && now < lateAt) continue;
        if (fault === 'equivocate' && o.type === 'broadcast' && o.kind === 'reveal') {
          const b = twin[i];
          const bBytes = b ? encodeMessage({ type: 'reveal', reveal: b }) : o.bytes;
          for (let to = 0; to < n; to++) if (to !== i) deliver(i, to, equivocatorSide(world, to) === 'x' ? o.bytes : bBytes, now, 'reveal');
          continue;
        }
        if (fault === 'equivocate' && o.type === 'broadcast' && o.kind === 'proposal') {
          const p = states[i].prior;
          const basis = p ? { previous: { ref: { runId: p.runId, decisionHash: p.decisionHash }, decision: p.decision }, chain: null } : { previous: null, chain: null };
          const att = EquivocationAttack.start(world, i, states[i], basis, o.bytes, now);
          if (att) {
            attacks.set(i, att);
            continue;
          }
        }
        if (attacks.get(i) && o.kind === 'certificate') continue; // the attacker hands out its own certificates
        let targets = o.type === 'send' ? [o.to] : members.map((m) => m.index).filter((j) => j !== i);
        if (fault === 'withhold-certificate' && o.kind === 'certificate' && decodeMessage(o.bytes).type === 'certificate') {
          const cert = (decodeMessage(o.bytes) as { type: 'certificate'; cert: { phase: string } }).cert;
          if (cert.phase === 'commit') targets = targets.filter((j) => members[j].fault || honest.indexOf(j) % 2 === 0);
        }
        for (const to of targets) deliver(i, to, o.bytes, now, o.kind);
        if (fault === 'conflict-vote' && o.type === 'send' && o.kind === 'vote') {
          const v = (decodeMessage(o.bytes) as { type: 'vote'; vote: Vote }).vote;
          const fake = signVote({ phase: v.phase, netuid: v.netuid, runId: v.runId, view: v.view, decisionHash: toHex(runRng.bytes(32)) }, members[i].ed);
          deliver(i, o.to, encodeMessage({ type: 'vote', vote: fake }), now, 'vote');
        }
        if (fault === 'garbage' && runRng.chance(0.3)) {
          const junk = runRng.chance(0.5) ? runRng.bytes(1 + runRng.int(200)) : Uint8Array.from(o.bytes);
          if (junk.length === o.bytes.length) junk[runRng.int(junk.length)] ^= 1 + runRng.int(255);
          if (targets.length) deliver(i, targets[runRng.int(targets.length)], junk, now, 'garbage');
        }
      }
    };

    // process.cpuUsage() per step would cost more than many steps; steps are timed with
    // performance.now() and the run's step time is scaled by the loop's measured CPU/wall ratio.
    const stepMs = new Array<number>(n).fill(0);
    const runStep = (i: number, input: Parameters<typeof step>[1], now: number) => {
      const w0 = performance.now();
      const { outputs } = step(states[i], input, now, envs[i]);
      stepMs[i] += performance.now() - w0;
      emit(i, outputs, now);
    };

    // The reveal window: each member publishes its reveal before consensus starts (late-revealers
    // hold theirs back and send it to half of the members right after the first proposal).
    for (const m of members) {
      const r = own[m.index];
      if (!r || m.fault === 'withhold') continue;
      const at = t0 - opts.revealWindowMs + runRng.int(200);
      if (m.fault === 'late-reveal') {
        const bytes = encodeMessage({ type: 'reveal', reveal: r });
        for (const to of honest.filter((_, k) => k % 2 === 0)) deliver(m.index, to, bytes, lateAt, 'reveal');
        continue;
      }
      const bytes = encodeMessage({ type: 'reveal', reveal: r });
      const bBytes = twin[m.index] ? encodeMessage({ type: 'reveal', reveal: twin[m.index]! }) : bytes;
      // an equivocator reveals its committed report to side x only, its twin to side y
      for (let to = 0; to < n; to++) if (to !== m.index) deliver(m.index, to, m.fault === 'equivocate' && equivocatorSide(world, to) === 'y' ? bBytes : bytes, at, 'reveal');
    }
    // Start every member with a small clock skew; replayers resend last run's traffic.
    for (const m of members) queue.push({ at: t0 + runRng.int(200), seq: seq++, to: m.index, from: m.index, bytes: null, timer: '__start' });
    for (const m of members) {
      if (m.fault !== 'replay') continue;
      for (const bytes of previousOutgoing[m.index]) deliver(m.index, runRng.int(n), bytes, t0 + 50, 'replay');
    }

    let events = 0;
    const maxEvents = 5_000_000;
    const loopCpu0 = process.cpuUsage();
    const loopWall0 = performance.now();
    for (;;) {
      const ev = queue.pop();
      if (!ev || ev.at > horizon || events++ > maxEvents) break;
      const now = ev.at;
      if (ev.timer === '__start') runStep(ev.to, { type: 'start' }, now);
      else if (ev.timer !== null && ev.timer.startsWith('__prior:')) {
        const evidence = pendingPriors.get(`${ev.to}|${ev.timer.slice(8)}`);
        if (evidence) runStep(ev.to, { type: 'verified-prior', evidence }, now);
      } else if (ev.timer !== null) runStep(ev.to, { type: 'timeout', timer: ev.timer }, now);
      else {
        const drop = dropSets.get(ev.to);
        let msg: ReturnType<typeof decodeMessage> | null = null;
        if (drop || attacks.get(ev.to)) {
          try {
            msg = decodeMessage(ev.bytes!);
          } catch {
            msg = null;
          }
        }
        // a selective-counting proposer ignores the reveals it wants left out
        if (drop && msg?.type === 'reveal' && drop.has(msg.reveal.signed.report.validatorHotkey)) continue;
        const att = attacks.get(ev.to);
        if (att && msg?.type === 'vote') att.tally(msg.vote, ev.to, now);
        runStep(ev.to, { type: 'message', from: ev.from, bytes: ev.bytes! }, now);
      }
      if (honest.every((h) => decidedAt[h] >= 0)) break;
    }

    const loopCpu = process.cpuUsage(loopCpu0);
    const loopWall = performance.now() - loopWall0;
    const cpuShare = loopWall > 0 ? Math.min(1, (loopCpu.user + loopCpu.system) / 1000 / loopWall) : 1;
    for (let i = 0; i < n; i++) cpuUs[i] += stepMs[i] * cpuShare * 1000;

    checkRun(res, {
      run, t0, honest, decidedAt, decidedHash, views: states.map((st) => st.view),
      staleVictim: staleVictim >= 0 && priors[staleVictim].length > 0 ? staleVictim : -1,
      decision: decidedDecision as Decision | null, honestReports, context, roster: miners, uids, opts,
    }, latencies);
    if (process.env.SIM_DEBUG) {
      const views = honest.map((h) => states[h].view);
      const maxV = Math.max(...views);
      const props = Array.from({ length: maxV + 1 }, (_, v) => members[proposerIndex(n, runId, v, seed)].fault ?? 'honest');
      console.error(`run ${run}: views ${Math.min(...views)}..${Math.max(...views)}, proposers ${props.join(',')}, messages so far ${res.messages}`);
    }
    // what each member holds for the next run: the certificate it decided, with its voters' bindings
    for (const m of members) {
      const dec = states[m.index].decided;
      if (!dec) continue;
      const evidence: CertifiedRun = { certificate: dec.certificate, bindings: dec.certificate.votes.map((v) => bindingOf.get(v.voter)!).filter(Boolean) };
      priors[m.index].push({ runId, decisionHash: dec.hash, decision: dec.decision, evidence });
      if (priors[m.index].length > 3) priors[m.index].shift();
    }
    previousOutgoing = outgoing;
  }

  summarize(res, { verifier, latencies, cpuUs, validators: n, runs: opts.runs });
  res.wallMs = Math.round(performance.now() - wall0);
  return res;
}

function priorKey(ev: CertifiedRun): [number, string] {
  return [ev.certificate.decision.runId, ev.certificate.votes[0]?.decisionHash ?? ''];
}

function priorKeyString(member: number, ev: CertifiedRun): string {
  return `${member}|${JSON.stringify(priorKey(ev))}`;
}

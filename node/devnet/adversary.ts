// `npm run devnet -- --byzantine`: one validator (dev.fault = "adversary") and the devnet acting for
// it try the attacks of issue #15 against the three honest validators; every attempt must be refused.
//
//   selective counting  in the adversary node (a consensus output hook): as a proposer it leaves an
//                       honest report out of its decision; otherwise it proposes that decision for
//                       its own later view, justified by its own view change only;
//   binding hijack      a hello to each honest validator whose peer exchange carries a binding of
//                       the adversary's hotkey naming an honest node key (the v1 takeover), one with
//                       the victim's countersignature copied, and the adversary's binding for another
//                       subnet (a replay);
//   early-reveal fetch  before the commit deadline: every honest API's reports, own report, run record
//                       and evaluation records of the run's submissions, and their run bundles;
//   copying             brute force of the honest commitments with the adversary's own scores as the
//                       guess (scores repeat: same code, same MFU) over a window of issuedAt values,
//                       as unsalted (v1) and salted commitments; after the reveal, the check that even
//                       the exact report would not have matched without its salt.
import { createLibp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { multiaddr } from '@multiformats/multiaddr';
import { BINDING_DOMAIN, decodeBinding, encodeBinding, encodeBindingBody, signBinding, type BindingRecord, type UnsignedBinding } from '../../proto/binding.ts';
import { sha256Hex, signingBytes, toHex } from '../../proto/codec.ts';
import { decisionHash, decodeMessage, encodeMessage, signVote, signViewChange, type Decision, type Proposal } from '../../proto/consensus.ts';
import { decodeHello, encodeHello, MAX_HELLO_BYTES } from '../../proto/gossip.ts';
import { reportCommitment } from '../../proto/reveal.ts';
import { encodeScoreReport, type ScoreEntry, type ScoreReport } from '../../proto/score-report.ts';
import type { Ed25519Signer, Sr25519Signer } from '../../proto/signer.ts';
import { computeDecision, countingPower, type IncumbentBasis } from '../../consensus/decision.ts';
import { proposerOrder } from '../../consensus/validator-set.ts';
import type { Output, PbftState } from '../../consensus/pbft.ts';
import { HELLO_PROTOCOL } from '../p2p/hello.ts';
import { requestResponse } from '../p2p/frames.ts';
import { fetchRunBundle } from '../p2p/run-bundle.ts';
import type { RosterEntry } from '../../proto/roster.ts';

export interface Attempt {
  attack: 'selective-count' | 'binding-hijack' | 'early-reveal-fetch' | 'copying';
  /** the run attacked (set by the director) */
  runId?: number;
  /** the director's attack number (binding refusals logged after it started are its evidence) */
  attackNo?: number;
  what: string;
  /** true when the attempt got nothing it wanted */
  refused: boolean;
  evidence: string[];
}

// ---------------------------------------------------------------- selective counting (in the node)

function basisOf(s: PbftState): IncumbentBasis {
  const p = s.prior;
  return p ? { previous: { ref: { runId: p.runId, decisionHash: p.decisionHash }, decision: p.decision }, chain: null } : { previous: null, chain: s.setup.chainIncumbent };
}

/** The decision from what the adversary holds, leaving out the counted report of the honest member with the most stake. */
function selectiveDecision(s: PbftState): { decision: Decision; left: string } | null {
  const st = s.setup;
  const basis = basisOf(s);
  const rules = { context: st.context, roster: st.roster, members: st.members, threshold: st.threshold, policy: st.policy, basis, committed: st.commitments ? Object.keys(st.commitments) : [], maxMissedReveals: st.maxMissedReveals };
  const { excluded } = countingPower(rules);
  const self = st.members[st.selfIndex].hotkey;
  const counted = Object.entries(s.reports).filter(([, r]) => r.countable && !excluded.includes(r.hotkey));
  const victim = counted.filter(([, r]) => r.hotkey !== self).sort((a, b) => Number((st.members.find((m) => m.hotkey === b[1].hotkey)?.stake ?? 0n) - (st.members.find((m) => m.hotkey === a[1].hotkey)?.stake ?? 0n)))[0];
  if (!victim) return null;
  const kept = counted.filter(([h]) => h !== victim[0]).map(([h, r]) => ({ report: r.reveal.signed.report, hash: h, power: st.members.find((m) => m.hotkey === r.hotkey)!.stake }));
  return { decision: computeDecision(rules, kept), left: victim[1].hotkey };
}

/**
 * The adversary node's consensus hook: its own proposals are replaced by a selective one; when it is
 * not the first proposer, it proposes the selective decision for its own later view, justified by its
 * own view change alone. Logs every attempt ('adversary: …').
 */
export function adversaryTamper(log: { warn(msg: string, f?: Record<string, unknown>): void }): (outputs: Output[], s: PbftState, signer: Ed25519Signer) => Output[] {
  const tried = new Set<string>();
  return (outputs, s, signer) => {
    const ctx = s.setup.context;
    const out = outputs.map((o) => {
      if (o.type !== 'broadcast' || o.kind !== 'proposal') return o;
      const p = (decodeMessage(o.bytes) as { type: 'proposal'; proposal: Proposal }).proposal;
      const sel = selectiveDecision(s);
      if (!sel || p.justification.some((vc) => vc.prepared)) return o;
      const vote = signVote({ phase: 'propose', netuid: ctx.netuid, runId: ctx.runId, view: p.vote.view, decisionHash: decisionHash(sel.decision) }, signer);
      log.warn('adversary: selective proposal as the proposer', { runId: ctx.runId, view: p.vote.view, leftOut: sel.left, counted: sel.decision.reportHashes.length });
      tried.add(`${ctx.runId}`);
      return { ...o, bytes: encodeMessage({ type: 'proposal', proposal: { vote, decision: sel.decision, justification: p.justification } }) };
    });
    if (s.started && !tried.has(`${ctx.runId}`) && Object.keys(s.reports).length > 1) {
      const order = proposerOrder(s.setup.members.length, ctx.runId, s.setup.seed);
      const mine = order.indexOf(s.setup.selfIndex);
      const sel = selectiveDecision(s);
      if (mine > 0 && sel) {
        tried.add(`${ctx.runId}`);
        const vc = signViewChange({ netuid: ctx.netuid, runId: ctx.runId, newView: mine, prepared: null }, signer);
        const vote = signVote({ phase: 'propose', netuid: ctx.netuid, runId: ctx.runId, view: mine, decisionHash: decisionHash(sel.decision) }, signer);
        log.warn('adversary: selective proposal for its own later view, self-justified', { runId: ctx.runId, view: mine, leftOut: sel.left });
        out.push({ type: 'broadcast', kind: 'proposal', bytes: encodeMessage({ type: 'proposal', proposal: { vote, decision: sel.decision, justification: [vc] } }) });
      }
    }
    return out;
  };
}

// ---------------------------------------------------------------- binding hijack (hello peer exchange)

/** A binding the adversary's hotkey signs (validly) naming `victim`'s node key; it cannot countersign it. */
export function forgedClaim(adversary: Sr25519Signer, victim: BindingRecord, nodeSignature: string, issuedAt: number): BindingRecord {
  const body: UnsignedBinding = {
    version: 2, genesisHash: victim.genesisHash, netuid: victim.netuid, hotkey: adversary.hotkey, nodePublicKey: victim.nodePublicKey, peerId: victim.peerId,
    multiaddrs: victim.multiaddrs, issuedAt, expiresAt: issuedAt + 3600_000,
  };
  return { ...body, signature: toHex(adversary.sign(signingBytes(BINDING_DOMAIN, encodeBindingBody(body)))), nodeSignature };
}

/**
 * Says hello to every honest validator as the adversary (its own node key and a fresh genuine binding,
 * so it is admitted), with a peer exchange list carrying the forgeries. Returns what each answered;
 * whether they refused the forgeries is in their logs ('relayed binding refused').
 */
export async function bindingHijack(o: {
  honest: { multiaddr: string; hotkey: string }[];
  adversary: { hotkey: Sr25519Signer; node: Ed25519Signer; libp2pPrivateKey: unknown };
  genesisHash: string;
  netuid: number;
}): Promise<{ victims: BindingRecord[]; answers: string[] }> {
  const node = await createLibp2p({ privateKey: o.adversary.libp2pPrivateKey as never, addresses: { listen: [] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] });
  const answers: string[] = [];
  const victims: BindingRecord[] = [];
  try {
    const now = Date.now();
    const own = signBinding({ genesisHash: o.genesisHash, netuid: o.netuid, node: o.adversary.node, multiaddrs: [], issuedAt: now, expiresAt: now + 3600_000 }, o.adversary.hotkey);
    const replay = signBinding({ genesisHash: o.genesisHash, netuid: (o.netuid + 1) & 0xffff, node: o.adversary.node, multiaddrs: [], issuedAt: now, expiresAt: now + 3600_000 }, o.adversary.hotkey);
    const hello = async (addr: string, known: Uint8Array[]) => {
      const stream = await node.dialProtocol(multiaddr(addr), HELLO_PROTOCOL, { signal: AbortSignal.timeout(10_000) });
      const frame = encodeHello({ version: 1, netuid: o.netuid, status: 'ok', reason: '', binding: encodeBinding(own), known });
      return decodeHello(await requestResponse(stream, frame, MAX_HELLO_BYTES, MAX_HELLO_BYTES, 10_000, `hello to ${addr}`));
    };
    // first round: learn each honest validator's binding (its hello answer carries it)
    for (const h of o.honest) {
      try {
        const res = await hello(h.multiaddr, []);
        if (res.binding.length) victims.push(decodeBinding(res.binding));
        answers.push(`${h.hotkey}: ${res.status}${res.reason ? ` (${res.reason})` : ''}`);
      } catch (err) {
        answers.push(`${h.hotkey}: hello failed: ${(err as Error).message}`);
      }
    }
    // second round: every honest validator gets the forgeries against every victim
    const forged: Uint8Array[] = [encodeBinding(replay)];
    for (const v of victims) {
      forged.push(encodeBinding(forgedClaim(o.adversary.hotkey, v, toHex(new Uint8Array(64)), now + 1000)));
      forged.push(encodeBinding(forgedClaim(o.adversary.hotkey, v, v.nodeSignature, v.issuedAt + 1)));
    }
    for (const h of o.honest) {
      try {
        const res = await hello(h.multiaddr, forged.slice(0, 60));
        answers.push(`${h.hotkey}: peer exchange of ${forged.length} forged/replayed binding(s) answered ${res.status}`);
      } catch (err) {
        answers.push(`${h.hotkey}: hello failed: ${(err as Error).message}`);
      }
    }
  } finally {
    await Promise.resolve(node.stop()).catch(() => undefined);
  }
  return { victims, answers };
}

// ---------------------------------------------------------------- early-reveal fetch

async function probe(url: string): Promise<{ status: number; body: any }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    let body: any = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    return { status: res.status, body };
  } catch (err) {
    return { status: 0, body: { error: (err as Error).message } };
  }
}

/** Before the commit deadline: everything an outsider (or a lazy validator) could ask for; nothing may tell a score. */
export async function earlyRevealFetch(o: { apis: { hotkey: string; api: string; multiaddr: string }[]; runId: number; netuid: number; codes: string[] }): Promise<Attempt> {
  const evidence: string[] = [];
  let leaked = 0;
  for (const v of o.apis) {
    const reps = await probe(`${v.api}/v1/runs/${o.runId}/reports`);
    const got = Array.isArray(reps.body?.reports) ? reps.body.reports.length : 0;
    if (got > 0) leaked++;
    evidence.push(`${v.hotkey} GET /v1/runs/${o.runId}/reports → ${reps.status}, ${got} report(s)${reps.body?.sealed ? ', sealed' : ''}`);
    const own = await probe(`${v.api}/v1/consensus/scores/${o.runId}`);
    if (own.status === 200) leaked++;
    evidence.push(`${v.hotkey} GET /v1/consensus/scores/${o.runId} → ${own.status}`);
    const rec = await probe(`${v.api}/v1/runs/${o.runId}`);
    if (rec.body?.myReportHash || rec.body?.decision) leaked++;
    evidence.push(`${v.hotkey} GET /v1/runs/${o.runId} → ${rec.status}, report hash ${rec.body?.myReportHash ? 'SERVED' : 'withheld'}`);
    for (const code of o.codes) {
      const ev = await probe(`${v.api}/v1/evaluations/${code}`);
      if (ev.status === 200) leaked++;
      evidence.push(`${v.hotkey} GET /v1/evaluations/${code.slice(0, 12)}… → ${ev.status}`);
    }
    try {
      const b = await fetchRunBundle(v.multiaddr, o.netuid, o.runId, { timeoutMs: 10_000 });
      if (b.reports.length > 0) leaked++;
      evidence.push(`${v.hotkey} run bundle ${o.runId} → ${b.reports.length} reveal(s)`);
    } catch (err) {
      evidence.push(`${v.hotkey} run bundle ${o.runId} → ${(err as { status?: string }).status ?? 'error'}`);
    }
  }
  return { attack: 'early-reveal-fetch', what: `fetch run ${o.runId}'s reports, own reports, report hashes, evaluations and run bundles from ${o.apis.length} honest validator(s) before the commit deadline`, refused: leaked === 0, evidence };
}

// ---------------------------------------------------------------- copying by brute force

/**
 * The lazy copier's brute force: its own scores as the guess of each honest validator's report, every
 * issuedAt in a window (ms), hashed as the v1 unsalted commitment and as a salted one with a guessed
 * (zero) salt, against the honest commitments on chain.
 */
export function bruteForceCommitments(o: {
  roster: RosterEntry[];
  ownEntries: Map<number, { status: ScoreEntry['status']; score: number }>;
  honest: { hotkey: string; commitment: string }[];
  context: { netuid: number; runId: number; rosterHash: string; policyHash: string; hardwareClass: string };
  issuedFrom: number;
  issuedTo: number;
}): Attempt {
  let tries = 0;
  let matched = 0;
  const zeroSalt = '00'.repeat(32);
  const t0 = Date.now();
  for (const h of o.honest) {
    const entries: ScoreEntry[] = o.roster.map((e) => {
      const mine = o.ownEntries.get(e.uid);
      return { uid: e.uid, minerHotkey: e.minerHotkey, codeSha256: e.codeSha256, status: mine?.status ?? 'not-evaluated', score: mine?.status === 'scored' ? mine.score : 0 };
    });
    for (let t = o.issuedFrom; t <= o.issuedTo; t++) {
      const report: ScoreReport = { version: 1, ...o.context, validatorHotkey: h.hotkey, entries, issuedAt: t };
      const bytes = encodeScoreReport(report);
      tries += 2;
      if (sha256Hex(bytes) === h.commitment || reportCommitment(zeroSalt, bytes) === h.commitment) matched++;
    }
  }
  return {
    attack: 'copying',
    what: `brute force of ${o.honest.length} honest commitment(s): the adversary's own scores as the guess, issuedAt over ${o.issuedTo - o.issuedFrom + 1} ms, unsalted and zero-salted`,
    refused: matched === 0,
    evidence: [`${tries} hashes in ${Date.now() - t0} ms, ${matched} match(es)`],
  };
}

/** After the reveal: even the exact report (content and issuedAt known) does not open the commitment without its salt. */
export function exactGuessCheck(reveals: { hotkey: string; report: ScoreReport; salt: string; commitment: string }[]): string[] {
  return reveals.map((r) => {
    const bytes = encodeScoreReport(r.report);
    const unsalted = sha256Hex(bytes) === r.commitment;
    const salted = reportCommitment(r.salt, bytes) === r.commitment;
    return `${r.hotkey}: exact report hashed without its salt ${unsalted ? 'MATCHES' : 'does not match'} the commitment; with its salt ${salted ? 'matches' : 'DOES NOT match'}`;
  });
}

// PBFT reducer, certificates: a prepare certificate locks the member and makes it commit; a commit
// certificate decides the run. A decided member answers laggards with the commit certificate.
import { decisionHash, signVote, type Certificate } from '../../proto/consensus.ts';
import { sameRun, type Ctx } from './context.ts';
import { checkCertificate } from './validate.ts';
import { collectVote } from './votes.ts';

export function onCertificate(c: Ctx, cert: Certificate, from: number): void {
  const s = c.s;
  if (!sameRun(c, cert.decision.netuid, cert.decision.runId)) return c.reject(from, `certificate for run ${cert.decision.runId} (stale or replayed)`);
  if (s.decided) return;
  const why = checkCertificate(c, cert);
  if (why) return c.reject(from, `certificate: ${why}`);
  const hash = decisionHash(cert.decision);
  if (cert.phase === 'commit') {
    s.decided = { decision: cert.decision, hash, certificate: cert };
    s.pending = null;
    c.out.push({ type: 'decided', decision: cert.decision, hash, certificate: cert });
    return;
  }
  if (!s.lock || cert.view > s.lock.view) s.lock = cert;
  if (cert.view === s.view && !s.sentCommit[cert.view]) {
    s.sentCommit[cert.view] = true;
    const ctx = c.setup.context;
    const vote = signVote({ phase: 'commit', netuid: ctx.netuid, runId: ctx.runId, view: cert.view, decisionHash: hash }, c.env.signer);
    const collector = c.proposerOf(cert.view);
    if (collector === c.self) collectVote(c, vote);
    else c.send(collector, { type: 'vote', vote });
  }
}

/** A decided member answers a laggard (once per view it reports) with the commit certificate. */
export function help(c: Ctx, to: number, theirView: number): void {
  const s = c.s;
  if (!s.decided || to === c.self || to < 0 || to >= c.setup.members.length) return;
  if ((s.helped[to] ?? -1) >= theirView) return;
  s.helped[to] = theirView;
  c.send(to, { type: 'certificate', cert: s.decided.certificate });
}

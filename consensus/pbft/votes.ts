// PBFT reducer, votes: the collector of a view tallies the prepare and commit votes for its own
// proposal and, with a quorum of voting power, issues and broadcasts the certificate.
import { decisionHash, type Certificate, type Vote } from '../../proto/consensus.ts';
import { verifyVoteSignature } from '../equivocation.ts';
import { onCertificate, help } from './certificate.ts';
import { sameRun, type Ctx } from './context.ts';
import { recordVote } from './equivocators.ts';
import { certKey } from './validate.ts';

export function onVote(c: Ctx, vote: Vote, from: number): void {
  const s = c.s;
  if (!sameRun(c, vote.netuid, vote.runId)) return c.reject(from, `vote for run ${vote.runId} (stale or replayed)`);
  if (s.decided) return help(c, from, vote.view);
  if (vote.phase === 'propose') return c.reject(from, 'bare propose vote without a proposal');
  // Only the collector of a view tallies, and only for a view it proposed in: votes for other
  // views are dropped before any work, so no signer can grow this member's state at will.
  const i = c.d.byNodeKey.get(vote.voter);
  if (i === undefined) return c.reject(from, 'vote from a node key not bound to a member');
  if (c.proposerOf(vote.view) !== c.self || !s.myProposals[vote.view]) return;
  if (!verifyVoteSignature(vote, c.env.verifier)) return c.reject(from, 'vote signature does not verify');
  collectVote(c, vote);
}

export function collectVote(c: Ctx, vote: Vote): void {
  const s = c.s;
  const repeated = s.votesSeen[`${vote.phase}:${vote.view}:${vote.voter}`]?.decisionHash === vote.decisionHash;
  if (!recordVote(c, vote)) return;
  const i = c.d.byNodeKey.get(vote.voter)!;
  if (s.equivocators[c.setup.members[i].hotkey]) return;
  const key = `${vote.phase}:${vote.view}`;
  if (s.certIssued[key]) {
    // A repeated vote means the voter lacks the certificate: send it the one already issued.
    const issued = s.issuedCerts[key];
    if (repeated && issued && i !== c.self) c.send(i, { type: 'certificate', cert: issued });
    return;
  }
  const decision = s.myProposals[vote.view];
  if (!decision || decisionHash(decision) !== vote.decisionHash) return;
  const tally = (s.tallies[key] ??= {});
  tally[vote.voter] = vote;
  const voters = Object.keys(tally).map((k) => c.d.byNodeKey.get(k)!);
  if (!c.quorum(voters)) return;
  s.certIssued[key] = true;
  const cert: Certificate = {
    phase: vote.phase as 'prepare' | 'commit',
    view: vote.view,
    decision,
    votes: Object.keys(tally).sort().map((k) => tally[k]),
  };
  s.issuedCerts[key] = cert;
  s.validCerts[certKey(cert.phase, cert.view, vote.decisionHash)] = true;
  c.broadcast({ type: 'certificate', cert });
  onCertificate(c, cert, c.self);
}

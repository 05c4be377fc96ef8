// PBFT-style finality for one run, as a deterministic reducer:
//
//   step(state, input, now, env) -> { state, outputs }
//
// No I/O, clocks or randomness: time (`now`, ms) and messages are inputs; outputs are messages to
// send, timers to set, decisions, equivocation proofs and certified runs for the node to verify.
// `step` may update `state` in place and returns it (treat the argument as consumed). The state is
// plain data: `encodeState` / `decodeState` persist and resume it mid-run. `env` holds what must not
// be persisted: the node's ed25519 signing key and the signature verifier.
//
// The node starts a run's consensus at its reveal deadline. Reveals delivered before 'start' are on
// time. Message pattern (collector): the proposer of view v also collects the votes of view v.
//   1. every member broadcasts its reveal (salt + signed report) and sends the first collector its
//      inventory (hashes of the valid reveals it holds);
//   2. the proposer proposes {decision, counted report hashes, the certified run its incumbent comes
//      from} (signed 'propose' vote); the counted set is every reveal that opens its author's on-chain
//      commitment;
//   3. members check the proposal — it leaves out no reveal they held on time (else they refuse and
//      answer with it), names the latest certified run they know (else they refuse and answer with
//      it, or fetch the one named and have the node verify it), counts only valid reports — recompute
//      the decision and send a prepare vote to the proposer only;
//   4. with prepares from > threshold of power the proposer broadcasts a prepare certificate;
//      members lock on it and send a commit vote to the proposer;
//   5. with commits from > threshold the proposer broadcasts the commit certificate: final.
// View change: on timeout (capped exponential backoff) a member broadcasts a signed view change
// carrying its lock (highest prepare certificate); a member also joins a view that members with more
// than the threshold's complement of power moved to. The next proposer, with view changes from
// > threshold, must re-propose the value of the highest lock among them (justification attached),
// else it may propose freely. The proposer order is a permutation drawn from the commit-deadline
// block hash. Members that already decided answer laggards with the commit certificate.
//
// This file is the entry point (the public API); the reducer's rules live in consensus/pbft/:
//   state.ts         setup, inputs, outputs, state; initState, encodeState / decodeState
//   context.ts       the per-step context (outputs, derived lookups: members by key, power, proposer order)
//   start.ts         'start' and the member's own reveal
//   timers.ts        timing, view timeouts (view change), retransmission, the run timeout
//   messages.ts      decode incoming bytes, dispatch by kind
//   reports.ts       reveals: store, relay, serve requests, inventories, answers to incomplete proposals
//   prior.ts         the certified run the incumbent comes from: request, verify (via the node), answer
//   proposal.ts      propose; check a proposal and prepare
//   votes.ts         the collector tallies votes and issues certificates
//   certificate.ts   lock / commit on a prepare certificate, decide on a commit certificate; help laggards
//   view-change.ts   collect view changes, enter the new view, join a view f+1 moved to
//   validate.ts      checks of proposals' content, justifications, view changes, certificates
//   equivocators.ts  vote equivocation detection, proofs, exclusion
import { Ctx } from './pbft/context.ts';
import { onBytes } from './pbft/messages.ts';
import { onOwnReveal, onStart } from './pbft/start.ts';
import { onVerifiedPrior } from './pbft/prior.ts';
import type { Env, Input, Output, PbftState } from './pbft/state.ts';
import { onTimeout } from './pbft/timers.ts';

export { decodeState, decodeStateParts, encodeJson, encodeState, encodeStateCore, initState, type Env, type StateParts, type StoredReport, type Input, type Output, type PbftState, type PeerInfo, type PriorRun, type RunSetup } from './pbft/state.ts';
export { DEFAULT_TIMING, maxViewTimeoutMs, retryInterval, runTimeoutMs, viewTimeout, type Timing } from './pbft/timers.ts';

export function step(state: PbftState, input: Input, now: number, env: Env): { state: PbftState; outputs: Output[] } {
  const c = new Ctx(state, now, env);
  // Messages are accepted before 'start' (the reveal window: they are on time); 'start' publishes
  // the member's own reveal and arms its timers.
  if (input.type === 'start') onStart(c);
  else if (input.type === 'own-reveal') onOwnReveal(c, input.reveal);
  else if (input.type === 'timeout') onTimeout(c, input.timer);
  else if (input.type === 'verified-prior') onVerifiedPrior(c, input.evidence);
  else onBytes(c, input.from, input.bytes);
  return { state, outputs: c.out };
}

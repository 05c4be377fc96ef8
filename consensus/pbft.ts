// PBFT-style finality for one run, as a deterministic reducer:
//
//   step(state, input, now, env) -> { state, outputs }
//
// No I/O, clocks or randomness: time (`now`, ms) and messages are inputs; outputs are messages to
// send, timers to set, decisions and equivocation proofs. `step` may update `state` in place and
// returns it (treat the argument as consumed). The state is plain data: `encodeState` /
// `decodeState` persist and resume it mid-run. `env` holds what must not be persisted: the node's
// ed25519 signing key and the signature verifier.
//
// Message pattern (collector): the proposer of view v also collects the votes of view v.
//   1. every member broadcasts its signed report;
//   2. the proposer proposes {decision, counted report hashes} (signed 'propose' vote);
//   3. members check every counted report and recompute the decision, then send a prepare vote
//      to the proposer only;
//   4. with prepares from > threshold of power the proposer broadcasts a prepare certificate;
//      members lock on it and send a commit vote to the proposer;
//   5. with commits from > threshold the proposer broadcasts the commit certificate: final.
// View change: on timeout (exponential backoff) a member broadcasts a signed view change carrying
// its lock (highest prepare certificate). The next proposer, with view changes from > threshold,
// must re-propose the value of the highest lock among them (justification attached), else it may
// propose freely. Members that already decided answer laggards with the commit certificate.
//
// This file is the entry point (the public API); the reducer's rules live in consensus/pbft/:
//   state.ts         setup, inputs, outputs, state; initState, encodeState / decodeState
//   context.ts       the per-step context (outputs, derived lookups: members by key, power, proposer)
//   start.ts         'start' and the member's own report
//   timers.ts        timing, view timeouts (view change), retransmission
//   messages.ts      decode incoming bytes, dispatch by kind
//   reports.ts       score reports: store, relay, serve requests
//   proposal.ts      propose; check a proposal and prepare
//   votes.ts         the collector tallies votes and issues certificates
//   certificate.ts   lock / commit on a prepare certificate, decide on a commit certificate; help laggards
//   view-change.ts   collect view changes, enter the new view
//   validate.ts      checks of proposals' content, justifications, view changes, certificates
//   equivocators.ts  vote equivocation detection, proofs, exclusion
import { Ctx } from './pbft/context.ts';
import { onBytes } from './pbft/messages.ts';
import { onOwnReport, onStart } from './pbft/start.ts';
import type { Env, Input, Output, PbftState } from './pbft/state.ts';
import { onTimeout } from './pbft/timers.ts';

export { decodeState, encodeState, initState, type Env, type Input, type Output, type PbftState, type PeerInfo, type RunSetup } from './pbft/state.ts';
export { DEFAULT_TIMING, retryInterval, viewTimeout, type Timing } from './pbft/timers.ts';

export function step(state: PbftState, input: Input, now: number, env: Env): { state: PbftState; outputs: Output[] } {
  const c = new Ctx(state, now, env);
  // Messages are accepted before 'start' (peers may finish evaluating first); 'start' only
  // publishes the member's own report and arms its timers.
  if (input.type === 'start') onStart(c);
  else if (input.type === 'own-report') onOwnReport(c, input.signed);
  else if (input.type === 'timeout') onTimeout(c, input.timer);
  else onBytes(c, input.from, input.bytes);
  return { state, outputs: c.out };
}

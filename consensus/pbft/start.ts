// PBFT reducer, start of a run: the node starts consensus at the reveal deadline, or earlier once it
// holds every committed reveal. What the member holds by then is "on time" (reveals delivered before
// 'start'). Every member published its reveal during the reveal window (gossip); at start it sends
// the first collector its inventory (the hashes of the reveals it holds), and its own reveal again
// only when gossip did not carry it — the collector asks for what it lacks, members fetch what a
// proposal counts and they lack: nobody re-broadcasts n reports to n members.
import type { Reveal } from '../../proto/reveal.ts';
import type { Ctx } from './context.ts';
import { tryPropose } from './proposal.ts';
import { ingestReveal, sendInventory } from './reports.ts';
import { retryInterval, viewTimeout } from './timers.ts';

export function onStart(c: Ctx): void {
  const s = c.s;
  if (s.started) return;
  const own = c.setup.ownReveal;
  if (own) ingestReveal(c, own, c.self, true);
  s.started = true;
  s.view = 0;
  if (own && !c.setup.ownRevealGossiped && c.proposerOf(0) !== c.self) c.send(c.proposerOf(0), { type: 'reveal', reveal: own });
  sendInventory(c, c.proposerOf(0));
  c.timer('view:0', c.now + viewTimeout(c.setup.timing, 0));
  c.timer('retry:0', c.now + retryInterval(c.setup.timing, 0));
  if (c.proposerOf(0) === c.self) c.timer('propose', c.now + c.setup.timing.proposeDelayMs);
  tryPropose(c);
}

export function onOwnReveal(c: Ctx, reveal: Reveal): void {
  if (c.setup.ownReveal) return;
  if (reveal.signed.report.validatorHotkey !== c.setup.members[c.self].hotkey) {
    return c.reject(c.self, `own reveal names ${reveal.signed.report.validatorHotkey}, but this member is ${c.setup.members[c.self].hotkey}`);
  }
  // a new setup object, not an edit: the node persists the setup only when it is replaced
  c.s.setup = { ...c.setup, ownReveal: reveal };
  ingestReveal(c, reveal, c.self, true);
  if (c.s.started) c.broadcast({ type: 'reveal', reveal }); // late: nobody has it yet
}

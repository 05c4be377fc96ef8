// PBFT reducer, start of a run: publish the member's own report (at start, or when it arrives
// later) and arm the first view's timers.
import type { SignedScoreReport } from '../../proto/score-report.ts';
import type { Ctx } from './context.ts';
import { tryPropose } from './proposal.ts';
import { ingestReport } from './reports.ts';
import { retryInterval, viewTimeout } from './timers.ts';

export function onStart(c: Ctx): void {
  const s = c.s;
  if (s.started) return;
  s.started = true;
  s.view = 0;
  const own = c.setup.ownReport;
  if (own) {
    ingestReport(c, own, c.self, true);
    c.broadcast({ type: 'report', signed: own });
  }
  c.timer('view:0', c.now + viewTimeout(c.setup.timing, 0));
  c.timer('retry:0', c.now + retryInterval(c.setup.timing, 0));
  if (c.proposerOf(0) === c.self) c.timer('propose', c.now + c.setup.timing.proposeDelayMs);
  tryPropose(c);
}

export function onOwnReport(c: Ctx, signed: SignedScoreReport): void {
  if (c.setup.ownReport) return;
  if (signed.report.validatorHotkey !== c.setup.members[c.self].hotkey) {
    return c.reject(c.self, `own report names ${signed.report.validatorHotkey}, but this member is ${c.setup.members[c.self].hotkey}`);
  }
  c.setup.ownReport = signed;
  ingestReport(c, signed, c.self, true);
  if (c.s.started) c.broadcast({ type: 'report', signed });
}

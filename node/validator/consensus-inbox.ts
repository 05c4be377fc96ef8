// The run loop's consensus message buffers: the inbox of messages not yet handed to a session, the
// replay buffer of recent ones (for a session that opens after they arrived), and the sessions of
// finished runs that linger a while to answer laggards (a restarted peer) with the certificate.
import type { ConsensusSession } from './ports.ts';

const MAX_BUFFERED_MESSAGES = 20_000;
const RECENT_MESSAGES = 4_000;
const RECENT_MS = 10 * 60_000;
const LINGER_MS = 10 * 60_000;

export class ConsensusInbox {
  private inbox: { bytes: Uint8Array; from: string }[] = [];
  /** Recent consensus messages, replayed into a session that opens after they arrived. */
  readonly recent: { bytes: Uint8Array; from: string; at: number }[] = [];
  /** Finished runs keep their session a while to answer laggards (a restarted peer) with the certificate. */
  private readonly lingering = new Map<number, { session: ConsensusSession; until: number }>();

  get size(): number {
    return this.inbox.length;
  }

  /** Buffers a message; false (dropped) when the inbox is full. */
  push(bytes: Uint8Array, from: string): boolean {
    if (this.inbox.length >= MAX_BUFFERED_MESSAGES) return false;
    this.inbox.push({ bytes, from });
    return true;
  }

  /** A finished run's session keeps answering for a while. */
  linger(runId: number, session: ConsensusSession, now: number): void {
    this.lingering.set(runId, { session, until: now + LINGER_MS });
  }

  /** New messages go to every open session of `live` and every lingering one (each ignores other runs) and into the replay buffer. */
  async pump(live: Iterable<ConsensusSession | undefined>, now: number): Promise<void> {
    const inbox = this.inbox;
    this.inbox = [];
    for (const [id, x] of this.lingering) if (x.until < now) this.lingering.delete(id);
    const sessions = [...live, ...[...this.lingering.values()].map((x) => x.session)].filter((x): x is ConsensusSession => Boolean(x));
    for (const m of inbox) {
      this.recent.push({ ...m, at: now });
      for (const s of sessions) await s.deliver(m.bytes, m.from, now);
    }
    while (this.recent.length > RECENT_MESSAGES || (this.recent.length && this.recent[0].at < now - RECENT_MS)) this.recent.shift();
    for (const x of this.lingering.values()) await x.session.tick(now);
  }
}

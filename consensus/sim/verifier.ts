// Counting, memoising signature verifier for the simulator.
//
// All members run in one process, so the same (message, signature, key) triple is verified by many
// members. The first check is real; repeats reuse its result. Every check is still COUNTED for the
// member that asked, and the CPU it would have cost is charged at the measured mean cost of real
// checks of that kind, so per-member CPU figures stay honest.
import { sha256Hex, toHex } from '../../proto/codec.ts';
import { verifyEd25519, verifySr25519 } from '../../proto/signer.ts';
import type { Verifier } from '../equivocation.ts';

export interface VerifyStats {
  sr25519: number;
  ed25519: number;
  realSr25519: number;
  realEd25519: number;
  realSrMs: number;
  realEdMs: number;
}

export class MemoVerifier {
  private memo = new Map<string, boolean>();
  stats: VerifyStats = { sr25519: 0, ed25519: 0, realSr25519: 0, realEd25519: 0, realSrMs: 0, realEdMs: 0 };
  /** Verifications per member (index = member). */
  perMember: number[];
  /** CPU ms charged per member for memo hits (at the measured mean real cost). */
  chargedMs: number[];
  current = -1;

  constructor(members: number) {
    this.perMember = new Array(members).fill(0);
    this.chargedMs = new Array(members).fill(0);
  }

  meanSrMs(): number {
    return this.stats.realSr25519 ? this.stats.realSrMs / this.stats.realSr25519 : 0.35;
  }

  meanEdMs(): number {
    return this.stats.realEd25519 ? this.stats.realEdMs / this.stats.realEd25519 : 0.08;
  }

  /** The Verifier a member's state machine uses; `member` is charged for its checks. */
  forMember(member: number): Verifier {
    return {
      sr25519: (msg, sig, hotkey) => this.check('sr', member, msg, sig, hotkey),
      ed25519: (msg, sig, pk) => this.check('ed', member, msg, sig, pk),
    };
  }

  private check(kind: 'sr' | 'ed', member: number, msg: Uint8Array, sig: Uint8Array, key: string | Uint8Array): boolean {
    this.perMember[member]++;
    if (kind === 'sr') this.stats.sr25519++;
    else this.stats.ed25519++;
    const k = `${kind}:${typeof key === 'string' ? key : toHex(key)}:${toHex(sig)}:${sha256Hex(msg)}`;
    const hit = this.memo.get(k);
    if (hit !== undefined) {
      this.chargedMs[member] += kind === 'sr' ? this.meanSrMs() : this.meanEdMs();
      return hit;
    }
    // CPU time, not wall time: the machine may be shared, and this mean is charged for memo hits.
    const t0 = process.cpuUsage();
    const ok = kind === 'sr' ? verifySr25519(msg, sig, key) : verifyEd25519(msg, sig, key as Uint8Array);
    const t1 = process.cpuUsage(t0);
    const dt = (t1.user + t1.system) / 1000;
    if (kind === 'sr') {
      this.stats.realSr25519++;
      this.stats.realSrMs += dt;
    } else {
      this.stats.realEd25519++;
      this.stats.realEdMs += dt;
    }
    if (this.memo.size > 500_000) this.memo.clear();
    this.memo.set(k, ok);
    return ok;
  }
}

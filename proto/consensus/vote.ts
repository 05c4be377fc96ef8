// Votes (proposals are votes of phase 'propose'): signing bytes, signature, bytes (layout: ../consensus.ts).
import { CodecError, Reader, Writer, expectUint, fromHex, signingBytes, toHex } from '../codec.ts';
import { PHASES, VOTE_DOMAIN, type Vote } from './types.ts';

// ---- votes ----

function voteBody(v: Omit<Vote, 'signature' | 'voter'>): Uint8Array {
  const phase = PHASES.indexOf(v.phase);
  if (phase < 0) throw new CodecError(`vote phase: unknown ${JSON.stringify(v.phase)}`);
  return new Writer()
    .u8(phase)
    .u16(expectUint(v.netuid, 'vote netuid', 0xffff))
    .u64(expectUint(v.runId, 'vote runId'))
    .u32(expectUint(v.view, 'vote view', 0xffffffff))
    .fixed(fromHex(v.decisionHash, 32, 'vote decisionHash'), 32)
    .finish();
}

export function voteSigningBytes(v: Omit<Vote, 'signature' | 'voter'>): Uint8Array {
  return signingBytes(VOTE_DOMAIN, voteBody(v));
}

export function signVote(v: Omit<Vote, 'signature' | 'voter'>, signer: { publicKey: Uint8Array; sign(m: Uint8Array): Uint8Array }): Vote {
  const body = { phase: v.phase, netuid: v.netuid, runId: v.runId, view: v.view, decisionHash: v.decisionHash };
  return { ...body, voter: toHex(signer.publicKey), signature: toHex(signer.sign(voteSigningBytes(body))) };
}

export function writeVote(w: Writer, v: Vote): void {
  const body = voteBody(v);
  w.fixed(body, body.length).fixed(fromHex(v.voter, 32, 'vote voter'), 32).fixed(fromHex(v.signature, 64, 'vote signature'), 64);
}

export function readVote(r: Reader): Vote {
  const p = r.u8();
  const phase = PHASES[p];
  if (phase === undefined) throw new CodecError(`vote: unknown phase ${p}`);
  return { phase, netuid: r.u16(), runId: r.u64(), view: r.u32(), decisionHash: toHex(r.fixed(32)), voter: toHex(r.fixed(32)), signature: toHex(r.fixed(64)) };
}

export function encodeVote(v: Vote): Uint8Array {
  const w = new Writer();
  writeVote(w, v);
  return w.finish();
}

export function decodeVote(bytes: Uint8Array): Vote {
  const r = new Reader(bytes, 'vote');
  const v = readVote(r);
  r.end();
  return v;
}

// Pure encodings the chain calls use: weights max-upscaled to u16 as subtensor stores them, and IP
// addresses as subtensor's axon u128 + ip_type.

/** Validates and max-upscales weights to u16; drops zeros. */
export function normaliseWeights(uids: number[], weights: number[]): { ok: true; uids: number[]; weights: number[] } | { ok: false; reason: string } {
  if (uids.length !== weights.length) return { ok: false, reason: `${uids.length} uids but ${weights.length} weights` };
  if (new Set(uids).size !== uids.length) return { ok: false, reason: 'a uid appears twice' };
  if (uids.some((u) => !Number.isInteger(u) || u < 0 || u > 65535)) return { ok: false, reason: 'uids must be integers in 0..65535' };
  if (weights.some((w) => !Number.isFinite(w) || w < 0)) return { ok: false, reason: 'weights must be finite and >= 0' };
  const max = Math.max(0, ...weights);
  if (max === 0) return { ok: false, reason: 'all weights are zero' };
  const pairs = uids.map((u, i) => [u, Math.round((weights[i] / max) * 65535)] as const).filter(([, w]) => w > 0).sort((a, b) => a[0] - b[0]);
  return { ok: true, uids: pairs.map((p) => p[0]), weights: pairs.map((p) => p[1]) };
}

export function ipToU128(ip: string): { value: bigint; type: 4 | 6 } | null {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4) {
    const parts = v4.slice(1).map(Number);
    if (parts.some((p) => p > 255)) return null;
    return { value: parts.reduce((a, p) => a * 256n + BigInt(p), 0n), type: 4 };
  }
  if (!ip.includes(':')) return null;
  const halves = ip.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const groups = [...head, ...Array(Math.max(0, fill)).fill('0'), ...tail];
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return null;
  return { value: groups.reduce((a, g) => a * 65536n + BigInt(parseInt(g, 16)), 0n), type: 6 };
}

export function ipFromU128(v: bigint, type: number): string | null {
  if (type === 4) {
    if (v > 0xffffffffn) return null;
    return [24n, 16n, 8n, 0n].map((s) => ((v >> s) & 255n).toString()).join('.');
  }
  if (type === 6) {
    const g: string[] = [];
    for (let i = 7; i >= 0; i--) g.push(((v >> BigInt(i * 16)) & 0xffffn).toString(16));
    return g.join(':');
  }
  return null;
}

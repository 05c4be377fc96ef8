// Which IP addresses a submission fetch may connect to. Pure: parse an address (including the
// legacy inet_aton IPv4 spellings: decimal, hex, octal, short forms) and name the blocked range it
// falls in, if any. Used by runtime/fetch.ts on every resolved address and on every redirect hop.
import { isIP } from 'node:net';

export type BlockedRange =
  | 'ipv4-this-network' | 'ipv4-loopback' | 'ipv4-private' | 'ipv4-cgnat' | 'ipv4-link-local'
  | 'ipv4-ietf-protocol' | 'ipv4-documentation' | 'ipv4-benchmarking' | 'ipv4-multicast'
  | 'ipv4-reserved' | 'ipv4-broadcast' | 'ipv6-unspecified' | 'ipv6-loopback' | 'ipv6-unique-local'
  | 'ipv6-link-local' | 'ipv6-site-local' | 'ipv6-multicast' | 'ipv6-documentation' | 'ipv6-discard'
  | 'ipv6-mapped-ipv4' | 'ipv6-compatible-ipv4' | 'ipv6-nat64-blocked-ipv4' | 'ipv6-6to4-blocked-ipv4'
  | 'ipv6-teredo' | 'unparseable';

/** [network, prefix length, name] — IPv4 as a 32-bit number. */
const V4_BLOCKS: Array<[number, number, BlockedRange]> = [
  [0x00000000, 8, 'ipv4-this-network'],
  [0x0a000000, 8, 'ipv4-private'],
  [0x64400000, 10, 'ipv4-cgnat'],
  [0x7f000000, 8, 'ipv4-loopback'],
  [0xa9fe0000, 16, 'ipv4-link-local'],
  [0xac100000, 12, 'ipv4-private'],
  [0xc0000000, 24, 'ipv4-ietf-protocol'],
  [0xc0000200, 24, 'ipv4-documentation'],
  [0xc0586300, 24, 'ipv4-reserved'], // 6to4 relay anycast (deprecated)
  [0xc0a80000, 16, 'ipv4-private'],
  [0xc6120000, 15, 'ipv4-benchmarking'],
  [0xc6336400, 24, 'ipv4-documentation'],
  [0xcb007100, 24, 'ipv4-documentation'],
  [0xe0000000, 4, 'ipv4-multicast'],
  [0xf0000000, 4, 'ipv4-reserved'], // includes 255.255.255.255, reported as broadcast below
];

/**
 * Parses an IPv4 address the way inet_aton does: 1 to 4 parts, each decimal, 0x-hex or 0-octal;
 * the last part fills the remaining bytes ("127.1" = 127.0.0.1, "2130706433" = 127.0.0.1).
 * Returns the 32-bit value or null when the text is not such an address.
 */
export function parseIPv4Loose(text: string): number | null {
  let s = text;
  if (s.endsWith('.')) s = s.slice(0, -1);
  const parts = s.split('.');
  if (parts.length < 1 || parts.length > 4) return null;
  const nums: number[] = [];
  for (const p of parts) {
    let n: number;
    if (/^0x[0-9a-f]*$/i.test(p)) n = p.length === 2 ? 0 : parseInt(p.slice(2), 16);
    else if (/^0[0-7]+$/.test(p)) n = parseInt(p.slice(1), 8);
    else if (/^(0|[1-9][0-9]*)$/.test(p)) n = parseInt(p, 10);
    else return null;
    if (!Number.isSafeInteger(n)) return null;
    nums.push(n);
  }
  const last = nums.pop()!;
  for (const n of nums) if (n > 255) return null;
  const lastMax = 2 ** (8 * (4 - nums.length)) - 1;
  if (last > lastMax) return null;
  let value = 0;
  nums.forEach((n, i) => { value += n * 2 ** (8 * (3 - i)); });
  return value + last;
}

export function ipv4ToString(v: number): string {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

/** Parses an IPv6 address (with optional embedded dotted IPv4 and zone id) to 8 16-bit groups. */
export function parseIPv6(text: string): number[] | null {
  let s = text;
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (isIP(s) !== 6) return null;
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    const v4 = parseIPv4Loose(s.slice(lastColon + 1));
    if (v4 === null) return null;
    tail = [v4 >>> 16, v4 & 0xffff];
    s = s.slice(0, lastColon + 1) + '0:0';
  }
  const [head, rest] = s.includes('::') ? s.split('::') : [s, undefined];
  const parseGroups = (g: string) => (g === '' ? [] : g.split(':').map((x) => parseInt(x, 16)));
  let groups: number[];
  if (rest === undefined) groups = parseGroups(head);
  else {
    const a = parseGroups(head);
    const b = parseGroups(rest);
    groups = [...a, ...new Array(8 - a.length - b.length).fill(0), ...b];
  }
  if (tail.length) groups.splice(6, 2, ...tail);
  if (groups.length !== 8 || groups.some((g) => !(g >= 0 && g <= 0xffff))) return null;
  return groups;
}

function v4Range(v: number): BlockedRange | null {
  if (v === 0xffffffff) return 'ipv4-broadcast';
  for (const [net, len, name] of V4_BLOCKS) {
    const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    if (((v & mask) >>> 0) === net) return name;
  }
  return null;
}

function v6Range(g: number[]): BlockedRange | null {
  const zeroPrefix = (n: number) => g.slice(0, n).every((x) => x === 0);
  const embedded = ((g[6] << 16) >>> 0) + g[7];
  if (g.every((x) => x === 0)) return 'ipv6-unspecified';
  if (zeroPrefix(7) && g[7] === 1) return 'ipv6-loopback';
  // ::ffff:a.b.c.d (mapped) and ::ffff:0:a.b.c.d (translated): never connect through these forms.
  if (zeroPrefix(5) && g[5] === 0xffff) return 'ipv6-mapped-ipv4';
  if (zeroPrefix(4) && g[4] === 0xffff && g[5] === 0) return 'ipv6-mapped-ipv4';
  if (zeroPrefix(6)) return 'ipv6-compatible-ipv4';
  // NAT64 well-known prefix 64:ff9b::/96 and local-use 64:ff9b:1::/48: blocked when the embedded v4 is.
  if (g[0] === 0x64 && g[1] === 0xff9b && ((g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0) || g[2] === 1)) {
    if (g[2] === 1 || v4Range(embedded) !== null) return 'ipv6-nat64-blocked-ipv4';
  }
  if (g[0] === 0x2002) {
    const v4 = ((g[1] << 16) >>> 0) + g[2];
    if (v4Range(v4) !== null) return 'ipv6-6to4-blocked-ipv4';
  }
  if (g[0] === 0x2001 && g[1] === 0) return 'ipv6-teredo';
  if (g[0] === 0x0100 && g[1] === 0 && g[2] === 0 && g[3] === 0) return 'ipv6-discard';
  if ((g[0] & 0xfe00) === 0xfc00) return 'ipv6-unique-local';
  if ((g[0] & 0xffc0) === 0xfe80) return 'ipv6-link-local';
  if ((g[0] & 0xffc0) === 0xfec0) return 'ipv6-site-local';
  if ((g[0] & 0xff00) === 0xff00) return 'ipv6-multicast';
  if (g[0] === 0x2001 && g[1] === 0x0db8) return 'ipv6-documentation';
  if (g[0] === 0x3fff && (g[1] & 0xf000) === 0) return 'ipv6-documentation';
  return null;
}

/** The blocked range an address lies in, or null when it is a public unicast address. */
export function blockedRange(address: string): BlockedRange | null {
  const kind = isIP(address.replace(/^\[|\]$/g, '').replace(/%.*$/, ''));
  if (kind === 4) return v4Range(parseIPv4Loose(address)!);
  if (kind === 6) {
    const g = parseIPv6(address);
    return g === null ? 'unparseable' : v6Range(g);
  }
  const loose = parseIPv4Loose(address);
  if (loose !== null) return v4Range(loose);
  return 'unparseable';
}

/** True when `address` is a loopback address (127.0.0.0/8 or ::1). */
export function isLoopback(address: string): boolean {
  const r = blockedRange(address);
  return r === 'ipv4-loopback' || r === 'ipv6-loopback';
}

/**
 * If a URL hostname is an IP literal in any spelling (dotted, decimal, hex, octal, short, bracketed
 * IPv6), returns the canonical address text; otherwise null (it is a DNS name).
 */
export function ipLiteralOf(hostname: string): string | null {
  const h = hostname.replace(/^\[|\]$/g, '');
  if (isIP(h) === 6) return h;
  if (isIP(h) === 4) return h;
  const v4 = parseIPv4Loose(h);
  return v4 === null ? null : ipv4ToString(v4);
}

// Error messages quote untrusted values (a field from a file, a peer's string). They are cut to a
// few dozen characters so that a 50 MB field never ends up in a log line or on a terminal whole.

/** The value as it would be quoted in an error: JSON-quoted and cut to `max` characters with the full length noted. */
export function clip(value: unknown, max = 40): string {
  if (typeof value === 'string') {
    if (value.length <= max) return JSON.stringify(value);
    return `${JSON.stringify(value.slice(0, max))}… (${value.length} chars)`;
  }
  if (value === null || typeof value !== 'object') {
    const s = typeof value === 'bigint' ? `${value}n` : String(value);
    return s.length <= max ? s : `${s.slice(0, max)}… (${s.length} chars)`;
  }
  return Array.isArray(value) ? `an array of ${value.length}` : 'an object';
}

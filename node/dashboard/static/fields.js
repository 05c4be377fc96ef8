// Tolerant readers of the node API's JSON for the dashboard's view-model: a field under any of
// its spellings, numbers that may come as strings, empty strings as absent. Pure; no DOM.
// @ts-check

/** @param {unknown} v */
export function isObj(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** First defined field among names. @param {any} o @param {string[]} names */
export function pick(o, ...names) {
  if (!isObj(o)) return undefined;
  for (const n of names) if (o[n] !== undefined && o[n] !== null) return o[n];
  return undefined;
}

/** @param {unknown} v @returns {number|null} */
export function num(v) {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return null;
}

/** @param {unknown} v @returns {string|null} */
export function str(v) {
  return typeof v === 'string' && v !== '' ? v : null;
}

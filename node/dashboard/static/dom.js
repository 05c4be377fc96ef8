// Dashboard page helpers: the API fetch and DOM building. API data is untrusted: it is only ever
// inserted as text (textContent / attributes), never as HTML.
// @ts-check

const FETCH_TIMEOUT_MS = 10_000;

export class ApiMissing extends Error {}

/** GET a JSON document from the API; 404 → ApiMissing so a section can say "not served". */
export async function api(path) {
  const res = await fetch(path, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), cache: 'no-store' });
  if (res.status === 404) throw new ApiMissing(`${path} is not served by this node (404)`);
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
  return res.json();
}

/** @param {string} tag @param {Record<string, any>} [attrs] @param {...(Node|string|null|undefined)} kids */
export function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids) if (kid !== null && kid !== undefined) el.append(kid);
  return el;
}

export function badge(text, kind) {
  return h('span', { class: `badge ${kind ?? ''}` }, text);
}

export function facts(dl, pairs) {
  dl.replaceChildren(...pairs.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

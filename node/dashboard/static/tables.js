// Dashboard tables rendered from API bodies (pure DOM building; the fetching is app.js's).
// @ts-check
import { h, badge } from './dom.js';
import { shortId, formatStake } from './model.js';

/** The per-validator record of commitment, reveal and abstention (GET /v1/runs/:runId/participation). */
export function renderParticipation(tbody, body) {
  const rows = Array.isArray(body?.participation) ? body.participation : [];
  if (body?.sealed) {
    tbody.replaceChildren(h('tr', {}, h('td', { colspan: '9', class: 'hint' }, 'sealed until the reveal window opens')));
    return;
  }
  if (rows.length === 0) {
    tbody.replaceChildren(h('tr', {}, h('td', { colspan: '9', class: 'hint' }, '—')));
    return;
  }
  const revealKind = { 'on-time': 'ok', late: 'warn', none: 'bad', mismatch: 'bad' };
  tbody.replaceChildren(
    ...rows.map((p) => {
      const abst = Object.entries(p.abstained ?? {}).map(([k, n]) => `${k} ×${n}`).join(', ') || '—';
      return h(
        'tr',
        { 'data-hotkey': String(p.hotkey ?? '') },
        h('td', { title: String(p.hotkey ?? '') }, shortId(p.hotkey ?? null, 6, 4)),
        h('td', { class: 'num' }, String(p.uid ?? '—')),
        h('td', { class: 'num' }, p.stake != null ? formatStake(p.stake) : '—'),
        h('td', {}, p.committedAt != null ? `block ${p.committedAt}` : badge('no', 'bad')),
        h('td', {}, p.committedAt == null && p.revealed === 'none' ? '—' : badge(String(p.revealed ?? '—'), revealKind[p.revealed] ?? 'bad')),
        h('td', {}, p.excluded ? badge('excluded', 'bad') : body.certified ? (p.counted ? badge('yes', 'ok') : badge('no', 'warn')) : '—'),
        h('td', { class: 'num' }, String(p.missedStreak ?? 0)),
        h('td', {}, abst),
        h('td', { class: 'num' }, String(p.voted ?? 0)),
      );
    }),
  );
}

/** Equivocation proofs (GET /v1/equivocations, normalised by model.js). */
export function renderEquivocations(tbody, list) {
  tbody.replaceChildren(
    ...list.map((e) =>
      h(
        'tr',
        { 'data-equivocation-id': e.id },
        h('td', {}, e.runId === null ? '—' : String(e.runId)),
        h('td', { title: e.validatorHotkey ?? '' }, shortId(e.validatorHotkey, 6, 4)),
        h('td', {}, e.kind),
        h('td', { title: e.hashes.join(' ≠ ') }, e.hashes.length === 2 ? `${shortId(e.hashes[0], 8, 0)} ≠ ${shortId(e.hashes[1], 8, 0)}` : e.detectedAt === null ? '—' : new Date(e.detectedAt).toISOString()),
        h('td', {}, h('a', { href: `/v1/equivocations/${encodeURIComponent(/** @type {string} */ (e.id))}`, download: `equivocation-${e.id}.json` }, 'download proof')),
      ),
    ),
  );
  if (list.length === 0) tbody.replaceChildren(h('tr', {}, h('td', { colspan: 5 }, 'no equivocation proofs recorded')));
}

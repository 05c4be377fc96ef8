// dashboardHandler on a real node:http server: what it answers, what it leaves to the API.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { dashboardHandler, DASHBOARD_ASSETS, DASHBOARD_CSP } from '../../node/dashboard/handler.ts';

describe('dashboard handler (real HTTP)', () => {
  let server: Server;
  let base: string;
  const passedOn: string[] = [];

  before(async () => {
    server = createServer((req, res) => {
      if (dashboardHandler(req, res)) return;
      passedOn.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"api":true}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('serves the page at / and /dashboard/ with a same-origin-only CSP', async () => {
    for (const p of ['/', '/dashboard', '/dashboard/']) {
      const r = await fetch(base + p);
      assert.equal(r.status, 200, p);
      assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.equal(r.headers.get('content-security-policy'), DASHBOARD_CSP);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      assert.match(await r.text(), /<script type="module" src="\/dashboard\/app.js">/);
    }
    assert.match(DASHBOARD_CSP, /default-src 'none'/);
    assert.match(DASHBOARD_CSP, /connect-src 'self'/);
  });

  it('serves every asset byte-for-byte with its type; ETag revalidation answers 304', async () => {
    const types: Record<string, RegExp> = { html: /text\/html/, js: /text\/javascript/, css: /text\/css/, svg: /image\/svg\+xml/ };
    for (const name of DASHBOARD_ASSETS) {
      const r = await fetch(`${base}/dashboard/${name}`);
      assert.equal(r.status, 200, name);
      assert.match(r.headers.get('content-type')!, types[name.split('.').pop()!]);
      const body = Buffer.from(await r.arrayBuffer());
      assert.ok(body.equals(readFileSync(new URL(`../../node/dashboard/static/${name}`, import.meta.url))), name);
      const again = await fetch(`${base}/dashboard/${name}`, { headers: { 'if-none-match': r.headers.get('etag')! } });
      assert.equal(again.status, 304);
    }
  });

  it('assets reference nothing outside the node (no CDN, no absolute URLs)', () => {
    for (const name of DASHBOARD_ASSETS) {
      const text = readFileSync(new URL(`../../node/dashboard/static/${name}`, import.meta.url), 'utf8');
      const urls = text.match(/\b(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}[^\s"'`)]*/gi) ?? [];
      assert.deepEqual(urls.filter((u) => u !== 'http://www.w3.org/2000/svg'), [], name);
    }
  });

  it('leaves API paths to the caller and refuses unknown or traversing dashboard paths', async () => {
    passedOn.length = 0;
    const api = await fetch(`${base}/v1/runs?limit=2`);
    assert.deepEqual(await api.json(), { api: true });
    await (await fetch(`${base}/healthz`)).arrayBuffer();
    assert.deepEqual(passedOn, ['GET /v1/runs?limit=2', 'GET /healthz']);
    for (const p of ['/dashboard/nope.js', '/dashboard/..%2F..%2Fpackage.json', '/dashboard/static/app.js', '/dashboard/model.d.ts']) {
      const r = await fetch(base + p);
      assert.equal(r.status, 404, p);
      assert.match(await r.text(), /no dashboard asset/);
    }
    assert.equal(passedOn.length, 2, 'dashboard paths must not fall through to the API');
  });

  it('is read-only: other methods get 405; HEAD gets headers only', async () => {
    const r = await fetch(`${base}/dashboard/app.js`, { method: 'POST', body: 'x' });
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'GET, HEAD');
    const h = await fetch(`${base}/`, { method: 'HEAD' });
    assert.equal(h.status, 200);
    assert.ok(Number(h.headers.get('content-length')) > 500);
    assert.equal((await h.arrayBuffer()).byteLength, 0);
  });
});

// Serves the read-only dashboard (one HTML page, five ES modules, one stylesheet) from
// node/dashboard/static/. The node's HTTP server calls `dashboardHandler(req, res)` before its
// API routes; it answers only GET/HEAD on `/`, `/dashboard` and `/dashboard/<asset>` and
// returns false for everything else, so it never shadows an API route.
//
// The page fetches /v1/* from the same origin, so the CSP can forbid every other origin:
// the dashboard works offline and cannot be made to load third-party code.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const STATIC_DIR = fileURLToPath(new URL('./static/', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** The whole asset list; anything else under /dashboard/ is a 404 (no directory walking). */
export const DASHBOARD_ASSETS = ['index.html', 'app.js', 'model.js', 'divergence.js', 'fields.js', 'charts.js', 'dom.js', 'tables.js', 'style.css', 'favicon.svg'] as const;

export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

let cache: Map<string, Asset> | null = null;

function loadAssets(): Map<string, Asset> {
  const out = new Map<string, Asset>();
  for (const name of DASHBOARD_ASSETS) {
    let body: Buffer;
    try {
      body = readFileSync(join(STATIC_DIR, name));
    } catch (err) {
      throw new Error(`dashboard asset ${name} is missing from ${STATIC_DIR} (${(err as Error).message}); reinstall the node or restore node/dashboard/static/`);
    }
    const ext = name.slice(name.lastIndexOf('.'));
    const etag = '"' + createHash('sha256').update(body).digest('hex').slice(0, 32) + '"';
    out.set(name, { body, type: CONTENT_TYPES[ext] ?? 'application/octet-stream', etag });
  }
  return out;
}

/** Assets are read once and kept in memory (about 50 KB in all, 17 KB gzipped). */
function assets(): Map<string, Asset> {
  if (cache === null) cache = loadAssets();
  return cache;
}

/** Map a request path to an asset name, or null when the path is not the dashboard's. */
export function dashboardAssetFor(pathname: string): string | null {
  if (pathname === '/' || pathname === '/dashboard' || pathname === '/dashboard/') return 'index.html';
  if (pathname === '/favicon.ico') return 'favicon.svg';
  if (!pathname.startsWith('/dashboard/')) return null;
  const name = pathname.slice('/dashboard/'.length);
  return (DASHBOARD_ASSETS as readonly string[]).includes(name) ? name : '';
}

/**
 * Handle a dashboard request. Returns true when it wrote the response (asset, 304, 404 under
 * /dashboard/, or 405 for a non-GET/HEAD method on a dashboard path), false when the path is
 * not the dashboard's and the caller should route it on (e.g. to /v1/*).
 */
export function dashboardHandler(req: IncomingMessage, res: ServerResponse): boolean {
  let pathname: string;
  try {
    pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
  } catch {
    return false;
  }
  const name = dashboardAssetFor(pathname);
  if (name === null) return false;

  const common = {
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-cache',
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { ...common, allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
    res.end('the dashboard is read-only: use GET\n');
    return true;
  }
  if (name === '') {
    res.writeHead(404, { ...common, 'content-type': 'text/plain; charset=utf-8' });
    res.end(`no dashboard asset at ${pathname}; the page is at /dashboard/\n`);
    return true;
  }
  const asset = assets().get(name)!;
  const headers = {
    ...common,
    'content-type': asset.type,
    'content-security-policy': DASHBOARD_CSP,
    etag: asset.etag,
  };
  if (req.headers['if-none-match'] === asset.etag) {
    res.writeHead(304, headers);
    res.end();
    return true;
  }
  res.writeHead(200, { ...headers, 'content-length': String(asset.body.length) });
  res.end(req.method === 'HEAD' ? undefined : asset.body);
  return true;
}

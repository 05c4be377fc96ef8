// SSRF-safe fetch against real loopback HTTP servers. The test allowance opens exactly one port of
// the "origin" server; every other loopback target (another live server, other spellings) is refused.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertProductionFetchOptions, fetchSubmission, FetchRefusal } from '../../runtime/fetch.ts';
import type { FetchOptions } from '../../runtime/fetch.ts';
import { blockedRange, parseIPv4Loose } from '../../runtime/ip-ranges.ts';

const here = dirname(fileURLToPath(import.meta.url));
const CODE = 'def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):\n    return None\n';
const SHA = createHash('sha256').update(CODE).digest('hex');

type Handler = (path: string) => { status?: number; headers?: Record<string, string>; body?: string | Buffer; hang?: boolean };

async function serve(handler: Handler): Promise<{ server: Server; port: number; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    const r = handler(req.url ?? '/');
    if (r.hang) return;
    res.writeHead(r.status ?? 200, r.headers ?? { 'content-type': 'text/plain' });
    res.end(r.body ?? '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, hits };
}

describe('intake: SSRF-safe fetch', function () {
  this.timeout(20_000);
  let origin: Awaited<ReturnType<typeof serve>>;
  let victim: Awaited<ReturnType<typeof serve>>;
  let opts: FetchOptions;

  before(async () => {
    victim = await serve(() => ({ body: CODE }));
    origin = await serve((path): ReturnType<Handler> => {
      if (path === '/code.py') return { body: CODE };
      if (path === '/big.py') return { body: Buffer.alloc(600 * 1024, 0x61), headers: { 'content-type': 'text/plain' } };
      if (path === '/chunked-big') return { body: Buffer.alloc(40 * 1024, 0x61) };
      if (path === '/html') return { body: '<!DOCTYPE html><html><body>hi</body></html>', headers: { 'content-type': 'text/plain' } };
      if (path === '/html-ct') return { body: 'hello', headers: { 'content-type': 'text/html; charset=utf-8' } };
      if (path === '/listing') return { body: JSON.stringify([{ name: 'train.py', type: 'file' }]), headers: { 'content-type': 'text/plain' } };
      if (path === '/listing-ct') return { body: '{}', headers: { 'content-type': 'application/json' } };
      if (path === '/slow') return { hang: true };
      if (path.startsWith('/hop/')) {
        const n = Number(path.slice(5));
        return n === 0 ? { body: CODE } : { status: 302, headers: { location: `/hop/${n - 1}` } };
      }
      if (path.startsWith('/redirect?to=')) return { status: 302, headers: { location: decodeURIComponent(path.slice(13)) } };
      return { status: 404 };
    });
    opts = { sha256: SHA, allowLoopbackForTests: { ports: [origin.port] }, totalTimeoutMs: 3000, connectTimeoutMs: 1000 };
  });
  after(() => { origin.server.close(); victim.server.close(); });

  async function refused(url: string, code: string, o: Partial<FetchOptions> = {}): Promise<FetchRefusal> {
    try {
      await fetchSubmission(url, { ...opts, ...o });
    } catch (err) {
      assert.ok(err instanceof FetchRefusal, `expected a FetchRefusal, got ${err}`);
      assert.equal(err.code, code, err.message);
      return err;
    }
    assert.fail(`${url} was fetched but should be refused (${code})`);
  }

  it('fetches an allowed URL and checks the sha256', async () => {
    const r = await fetchSubmission(`http://127.0.0.1:${origin.port}/code.py`, opts);
    assert.equal(new TextDecoder().decode(r.bytes), CODE);
    assert.equal(r.sha256, SHA);
    assert.deepEqual(r.hops.map((h) => h.address), ['127.0.0.1']);
  });

  it('refuses a wrong sha256', async () => {
    await refused(`http://127.0.0.1:${origin.port}/code.py`, 'hash-mismatch', { sha256: 'ab'.repeat(32) });
  });

  it('refuses loopback without the test allowance (the production default)', async () => {
    await refused(`http://127.0.0.1:${origin.port}/code.py`, 'blocked-address', { allowLoopbackForTests: undefined });
    assert.throws(() => assertProductionFetchOptions({ allowLoopbackForTests: { ports: [1] } }), /test-only/);
  });

  describe('SSRF targets are refused before any connection', () => {
    const forms = (port: () => number) => [
      ['dotted loopback', () => `http://127.0.0.1:${port()}/`],
      ['decimal IPv4', () => `http://2130706433:${port()}/`],
      ['hex IPv4', () => `http://0x7f000001:${port()}/`],
      ['dotted hex IPv4', () => `http://0x7f.0x0.0x0.0x1:${port()}/`],
      ['octal IPv4', () => `http://0177.0.0.01:${port()}/`],
      ['short IPv4', () => `http://127.1:${port()}/`],
      ['0.0.0.0', () => `http://0.0.0.0:${port()}/`],
      ['bare 0', () => `http://0:${port()}/`],
      ['IPv6 loopback', () => `http://[::1]:${port()}/`],
      ['IPv6 unspecified', () => `http://[::]:${port()}/`],
      ['IPv4-mapped IPv6', () => `http://[::ffff:127.0.0.1]:${port()}/`],
      ['IPv4-compatible IPv6', () => `http://[::127.0.0.1]:${port()}/`],
      ['NAT64 of loopback', () => `http://[64:ff9b::7f00:1]:${port()}/`],
      ['link-local metadata', () => `http://169.254.169.254:${port()}/`],
      ['private 10/8', () => `http://10.0.0.1:${port()}/`],
      ['CGNAT', () => `http://100.64.0.1:${port()}/`],
      ['IPv6 unique local', () => `http://[fd00::1]:${port()}/`],
      ['IPv6 link local', () => `http://[fe80::1]:${port()}/`],
      ['trailing dot', () => `http://127.0.0.1.:${port()}/`],
    ] as const;
    for (const [name, url] of forms(() => victim.port)) {
      it(`${name}`, async () => {
        await refused(url(), 'blocked-address');
        assert.equal(victim.hits.length, 0, 'the victim server must never be contacted');
      });
    }

    it('a name resolving to loopback (injected resolver)', async () => {
      const e = await refused(`http://evil.example:${victim.port}/`, 'blocked-address', { resolver: async () => [{ address: '127.0.0.1', family: 4 }] });
      assert.match(e.message, /ipv4-loopback/);
    });

    it('a name with one public and one private address (every address is checked)', async () => {
      await refused(`http://mixed.example:${victim.port}/`, 'blocked-address',
        { resolver: async () => [{ address: '93.184.216.34', family: 4 }, { address: '192.168.1.5', family: 4 }] });
    });

    it('a redirect to 127.0.0.1 (another port) and to a decimal form', async () => {
      await refused(`http://127.0.0.1:${origin.port}/redirect?to=${encodeURIComponent(`http://127.0.0.1:${victim.port}/`)}`, 'blocked-address');
      await refused(`http://127.0.0.1:${origin.port}/redirect?to=${encodeURIComponent(`http://2130706433:${victim.port}/`)}`, 'blocked-address');
      await refused(`http://127.0.0.1:${origin.port}/redirect?to=${encodeURIComponent(`http://[::ffff:7f00:1]:${victim.port}/`)}`, 'blocked-address');
      assert.equal(victim.hits.length, 0);
    });

    it('non-http schemes', async () => {
      await refused('file:///etc/passwd', 'scheme');
      await refused('ftp://example.com/x', 'scheme');
      await refused(`http://127.0.0.1:${origin.port}/redirect?to=${encodeURIComponent('file:///etc/passwd')}`, 'scheme');
    });
  });

  it('connects to the pinned address only (no second resolution: DNS rebinding)', async () => {
    let calls = 0;
    const r = await fetchSubmission(`http://rebind.example:${origin.port}/code.py`, {
      ...opts,
      resolver: async () => { calls++; return calls === 1 ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '10.0.0.1', family: 4 }]; },
    });
    assert.equal(calls, 1);
    assert.equal(r.hops[0].address, '127.0.0.1');
  });

  it('follows up to 3 redirects and refuses a 4th', async () => {
    const r = await fetchSubmission(`http://127.0.0.1:${origin.port}/hop/3`, opts);
    assert.equal(r.hops.length, 4);
    await refused(`http://127.0.0.1:${origin.port}/hop/4`, 'too-many-redirects');
  });

  it('caps the size while streaming and by Content-Length', async () => {
    await refused(`http://127.0.0.1:${origin.port}/big.py`, 'too-large');
    await refused(`http://127.0.0.1:${origin.port}/chunked-big`, 'too-large', { maxBytes: 16 * 1024 });
  });

  it('refuses HTML pages and JSON/directory listings', async () => {
    await refused(`http://127.0.0.1:${origin.port}/html`, 'html');
    await refused(`http://127.0.0.1:${origin.port}/html-ct`, 'html');
    await refused(`http://127.0.0.1:${origin.port}/listing`, 'listing');
    await refused(`http://127.0.0.1:${origin.port}/listing-ct`, 'listing');
  });

  it('times out a server that never answers', async () => {
    const t = Date.now();
    await refused(`http://127.0.0.1:${origin.port}/slow`, 'timeout', { totalTimeoutMs: 500 });
    assert.ok(Date.now() - t < 3000);
  });

  it('ip-ranges: legacy IPv4 parsing and public addresses', () => {
    assert.equal(parseIPv4Loose('0x7f.1'), 0x7f000001);
    assert.equal(parseIPv4Loose('017700000001'), 0x7f000001);
    assert.equal(parseIPv4Loose('256.1.1.1'), null);
    assert.equal(blockedRange('8.8.8.8'), null);
    assert.equal(blockedRange('2606:4700::1111'), null);
    assert.equal(blockedRange('64:ff9b::808:808'), null);
    assert.equal(blockedRange('255.255.255.255'), 'ipv4-broadcast');
    assert.equal(blockedRange('224.0.0.251'), 'ipv4-multicast');
  });

  it('conclave fetch refuses loopback with exit 1 and the reason', () => {
    const r = spawnSync(process.execPath, [join(here, '..', '..', 'node', 'cli.ts'), 'fetch', `http://127.0.0.1:${victim.port}/x`, '--sha256', SHA, '--json'],
      { encoding: 'utf8', timeout: 15_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(JSON.parse(r.stdout).code, 'blocked-address');
  });
});

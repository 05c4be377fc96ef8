// node/logging: one JSON object per stderr line, secrets never written, and what dependencies print
// (@polkadot/util's console logger, the debug/weald modules libp2p uses, Node's process warnings)
// routed into the same JSON lines.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { logger as polkadotLogger } from '@polkadot/util';
import { createLogger, formatLine } from '../../node/logging/logger.ts';
import { consoleEntry, debugSelected, libp2pLogger, routeForeignOutput } from '../../node/logging/capture.ts';

const require = createRequire(import.meta.url);

function collect(level: 'debug' | 'info' | 'warn' | 'error' = 'debug') {
  const lines: string[] = [];
  const log = createLogger({ level, out: (l) => lines.push(l), base: { node: 'test' } });
  return { log, lines, parsed: () => lines.map((l) => JSON.parse(l)) };
}

describe('node/logging: JSON lines', () => {
  it('writes {t, level, msg, ...fields} per line; filters by level; bigints, Errors and bytes are readable', () => {
    const { log, lines, parsed } = collect('info');
    log.debug('hidden');
    log.info('run phase', { runId: 7, stake: 10n ** 20n, error: new Error('boom'), key: new Uint8Array([1, 2]) });
    log.child({ runId: 9 }).warn('late');
    assert.equal(lines.length, 2);
    const [a, b] = parsed();
    assert.equal(a.level, 'info');
    assert.equal(a.msg, 'run phase');
    assert.equal(a.node, 'test');
    assert.equal(a.stake, '100000000000000000000');
    assert.deepEqual(a.error, { name: 'Error', message: 'boom' });
    assert.equal(a.key, '0x0102');
    assert.ok(!Number.isNaN(Date.parse(a.t)));
    assert.equal(b.runId, 9);
    assert.equal(b.level, 'warn');
  });

  it('never writes a secret-named field, however deep, and bounds a line', () => {
    const line = formatLine('info', 'x', { password: 'hunter2', cfg: { wallet: { passwordFile: '/p', privateKey: '0xabc', secretSeed: '0x01' } }, mnemonic: 'a b c', seed: 'zz' });
    assert.doesNotMatch(line, /hunter2|0xabc|0x01|a b c|"zz"/);
    assert.match(line, /"passwordFile":"\/p"/, 'a path to a password file is not a secret');
    const big = formatLine('info', 'y', { blob: 'x'.repeat(100_000) });
    assert.ok(big.length < 20_000);
    assert.equal(JSON.parse(big).truncated, true);
  });

  it('routes console.* and @polkadot/util logger lines (API-WS, RPC-CORE…) into JSON; polkadot errors become warnings', () => {
    const e = consoleEntry('error', ['2025-01-01 10:00:00', '        API-WS:', 'disconnected from ws://127.0.0.1:9944: 1006:: Abnormal Closure']);
    assert.deepEqual(e, { level: 'warn', msg: 'disconnected from ws://127.0.0.1:9944: 1006:: Abnormal Closure', fields: { source: 'polkadot', origin: 'API-WS' } });
    assert.deepEqual(consoleEntry('log', ['plain %d', 3]), { level: 'info', msg: 'plain 3', fields: { source: 'console' } });

    const { log, parsed } = collect();
    const restore = routeForeignOutput(log);
    try {
      polkadotLogger('api-ws').error('disconnected from', 'ws://x: 1006');
      polkadotLogger('api/init').warn('Not decorating unknown runtime apis');
      console.log('hello %s', 'world');
    } finally {
      restore();
    }
    const got = parsed();
    assert.deepEqual(got.map((x) => [x.level, x.source, x.origin ?? null, x.msg]), [
      ['warn', 'polkadot', 'API-WS', 'disconnected from ws://x: 1006'],
      ['warn', 'polkadot', 'API/INIT', 'Not decorating unknown runtime apis'],
      ['info', 'console', null, 'hello world'],
    ]);
  });

  it('routes the debug/weald modules (DEBUG=libp2p:*) and process warnings; restore puts everything back', async () => {
    const weald = (require('weald') as { default: any }).default;
    const { log, parsed } = collect();
    const originalWarn = process.listeners('warning').length;
    const restore = routeForeignOutput(log);
    try {
      const d = weald('libp2p:test-component');
      d.enabled = true;
      d('dialing %s', '/ip4/1.2.3.4/tcp/1');
      process.emitWarning('something odd', { code: 'CONCLAVE_TEST' });
      await new Promise((r) => setImmediate(r));
    } finally {
      restore();
    }
    const got = parsed();
    assert.ok(got.some((x) => x.level === 'debug' && x.source === 'libp2p' && x.ns === 'libp2p:test-component' && x.msg === 'dialing /ip4/1.2.3.4/tcp/1'), JSON.stringify(got));
    assert.ok(got.some((x) => x.level === 'warn' && x.source === 'process' && x.msg === 'something odd' && x.code === 'CONCLAVE_TEST'), JSON.stringify(got));
    assert.equal(process.listeners('warning').length, originalWarn);
  });

  it('libp2p ComponentLogger: components DEBUG selects log at debug through the node logger, others stay silent', () => {
    assert.equal(debugSelected('libp2p:tcp', 'libp2p:*'), true);
    assert.equal(debugSelected('libp2p:tcp', 'libp2p:*,-libp2p:tcp'), false);
    assert.equal(debugSelected('libp2p:tcp', undefined), false);
    const { log, parsed } = collect();
    const comp = libp2pLogger(log, (ns) => debugSelected(ns, 'libp2p:dialer*'));
    const dialer = comp.forComponent('libp2p:dialer');
    const tcp = comp.forComponent('libp2p:tcp');
    assert.equal(dialer.enabled, true);
    assert.equal(tcp.enabled, false);
    dialer('dial %s', 'peer');
    dialer.error('dial failed: %s', 'ECONNREFUSED');
    dialer.newScope('queue')('queued');
    tcp('not shown');
    dialer.trace('never');
    assert.deepEqual(parsed().map((x) => [x.level, x.ns, x.msg, x.libp2pError ?? false]), [
      ['debug', 'libp2p:dialer', 'dial peer', false],
      ['debug', 'libp2p:dialer', 'dial failed: ECONNREFUSED', true],
      ['debug', 'libp2p:dialer:queue', 'queued', false],
    ]);
    const quiet = collect('info');
    libp2pLogger(quiet.log, () => true).forComponent('libp2p:dialer')('x');
    assert.equal(quiet.lines.length, 0, 'nothing below the node\'s level');
  });
});

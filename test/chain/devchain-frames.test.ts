// The devchain's JSON-RPC server is fed by any process on the host: malformed, non-object, deeply
// nested or huge requests get a short JSON-RPC error and the server keeps serving; the devchain
// client (conclave devchain ...) survives a server that answers garbage.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { DevChain } from '../../node/devchain/devchain.ts';
import { devRpc } from '../../node/commands/devchain.ts';

function exchange(url: string, frames: string[]): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const out: unknown[] = [];
    const guard = setTimeout(() => { ws.terminate(); reject(new Error(`only ${out.length} answers`)); }, 20_000);
    ws.on('open', () => frames.forEach((f) => ws.send(f)));
    ws.on('message', (d) => {
      out.push(JSON.parse(d.toString()));
      if (out.length === frames.length) {
        clearTimeout(guard);
        ws.close();
        resolve(out);
      }
    });
    ws.on('error', reject);
  });
}

describe('chain: devchain JSON-RPC frames from hostile clients', function () {
  this.timeout(60_000);
  let dc: DevChain;
  before(async () => {
    await cryptoWaitReady();
    dc = new DevChain({ blockMs: 0 });
    await dc.start();
  });
  after(async () => {
    await dc.stop();
  });

  it('answers every malformed request with a short error and keeps serving', async () => {
    const hugeMethod = 'm'.repeat(5 * 1024 * 1024);
    const answers = await exchange(dc.url, [
      'null',
      '[1,2,3]',
      '"just a string"',
      'not json at all',
      '['.repeat(100_000) + ']'.repeat(100_000),
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: hugeMethod, params: [] }),
      JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'state_getStorage', params: ['0x00', '0x' + 'ab'.repeat(150_000)] }), // the block hash is echoed in UnknownBlock
      JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'system_chain', params: [] }),
    ]);
    const errs = answers.slice(0, 7) as { error?: { code: number; message: string; data?: string } }[];
    for (const [i, a] of errs.entries()) {
      assert.ok(a.error, `answer ${i} is an error: ${JSON.stringify(a).slice(0, 200)}`);
      assert.ok(JSON.stringify(a).length < 1200, `answer ${i} is short (${JSON.stringify(a).length} chars)`);
    }
    assert.equal(errs[0].error!.code, -32600);
    assert.equal(errs[3].error!.code, -32700);
    assert.match(errs[4].error!.data!, /nested deeper than 16 levels/);
    assert.match(errs[5].error!.message, /^Method not found: m+… \(5242898 chars\)$/);
    assert.equal(typeof (answers[7] as { result: unknown }).result, 'string', 'the server still serves');
  });

  it('the devchain client gives an error (no crash) when a server answers garbage or too much', async () => {
    const http = createServer();
    const wss = new WebSocketServer({ server: http });
    let mode = 'garbage';
    wss.on('connection', (ws) => ws.on('message', () => ws.send(mode === 'garbage' ? 'this is not json' : mode === 'null' ? 'null' : 'x'.repeat(9 * 1024 * 1024))));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    const url = `ws://127.0.0.1:${(http.address() as { port: number }).port}`;
    try {
      await assert.rejects(devRpc(url, 'system_chain', [], 5000), /the answer of .*(is not valid JSON|unexpected data after the top-level value)/);
      mode = 'null';
      await assert.rejects(devRpc(url, 'system_chain', [], 5000), /is not a JSON-RPC response object/);
      mode = 'huge';
      await assert.rejects(devRpc(url, 'system_chain', [], 5000), /Max payload size exceeded|cannot reach|closed|no answer/);
    } finally {
      for (const c of wss.clients) c.terminate();
      wss.close();
      http.close();
    }
  });
});

// The chain reader's WebSocket client (node/chain/lean/websocket.ts, websocket-frames.ts): framing
// against hand-built server frames split at every byte, the protocol errors a client must fail on, and
// the handshake and messages against raw TCP servers on loopback that play the server's side.
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import {
  OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT,
  ServerFrameDecoder, WebSocketProtocolError, encodeClientFrame, type ServerEvent,
} from '../../node/chain/lean/websocket-frames.ts';
import { WebSocketClient, WebSocketError, acceptFor, checkHandshake } from '../../node/chain/lean/websocket.ts';
import { JsonRpcSocket, RpcError } from '../../node/chain/lean/rpc.ts';

/** An unmasked server frame. */
function serverFrame(opcode: number, payload: Uint8Array, fin = true, rsv = 0): Buffer {
  const n = payload.length;
  const ext = n < 126 ? 0 : n < 0x10000 ? 2 : 8;
  const out = Buffer.alloc(2 + ext + n);
  out[0] = (fin ? 0x80 : 0) | rsv | opcode;
  if (ext === 0) out[1] = n;
  else if (ext === 2) (out[1] = 126), out.writeUInt16BE(n, 2);
  else (out[1] = 127), out.writeBigUInt64BE(BigInt(n), 2);
  out.set(payload, 2 + ext);
  return out;
}

/** Decodes one client frame (must be masked), as a server would. */
function readClientFrame(buf: Buffer): { fin: boolean; opcode: number; payload: Buffer; size: number } | null {
  if (buf.length < 2) return null;
  assert.equal(buf[1] & 0x80, 0x80, 'every client frame is masked');
  let n = buf[1] & 0x7f;
  let at = 2;
  if (n === 126) (n = buf.readUInt16BE(2)), (at = 4);
  else if (n === 127) (n = Number(buf.readBigUInt64BE(2))), (at = 10);
  if (buf.length < at + 4 + n) return null;
  const mask = buf.subarray(at, at + 4);
  const payload = Buffer.alloc(n);
  for (let i = 0; i < n; i++) payload[i] = buf[at + 4 + i] ^ mask[i & 3];
  return { fin: (buf[0] & 0x80) !== 0, opcode: buf[0] & 0x0f, payload, size: at + 4 + n };
}

function feed(dec: ServerFrameDecoder, bytes: Buffer, step: number): ServerEvent[] {
  const out: ServerEvent[] = [];
  for (let i = 0; i < bytes.length; i += step) out.push(...dec.push(bytes.subarray(i, i + step)));
  return out;
}

const text = (s: string) => Buffer.from(s, 'utf8');

describe('chain: the lean reader\'s WebSocket client', function () {
  this.timeout(30_000);

  describe('framing', () => {
    it('client frames are masked and carry 7-, 16- and 64-bit lengths', () => {
      for (const n of [0, 1, 125, 126, 65535, 65536, 70000]) {
        const payload = Buffer.alloc(n, 0x5a);
        const f = encodeClientFrame(OP_TEXT, payload, Buffer.from([1, 2, 3, 4]));
        const r = readClientFrame(f)!;
        assert.equal(r.size, f.length, `${n}: the whole frame`);
        assert.equal(r.opcode, OP_TEXT);
        assert.ok(r.fin);
        assert.ok(r.payload.equals(payload), `${n}: payload unmasks`);
      }
      assert.throws(() => encodeClientFrame(OP_TEXT, Buffer.alloc(1), Buffer.alloc(3)), RangeError);
    });

    it('reassembles fragmented messages with control frames between the fragments, at every split of the bytes', () => {
      const big = Buffer.alloc(70_000);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
      const stream = Buffer.concat([
        serverFrame(OP_TEXT, text('{"a":'), false),
        serverFrame(OP_PING, text('p1')),
        serverFrame(OP_CONTINUATION, text('1}')),
        serverFrame(OP_BINARY, big.subarray(0, 300), false),
        serverFrame(OP_CONTINUATION, big.subarray(300, 69_000), false),
        serverFrame(OP_PONG, Buffer.alloc(0)),
        serverFrame(OP_CONTINUATION, big.subarray(69_000)),
        serverFrame(OP_TEXT, Buffer.alloc(0)),
        serverFrame(OP_TEXT, text('héllo')),
        serverFrame(OP_CLOSE, Buffer.concat([Buffer.from([0x03, 0xe8]), text('bye')])),
      ]);
      for (const step of [1, 2, 3, 7, 125, 4096, stream.length]) {
        const ev = feed(new ServerFrameDecoder(1 << 20), stream, step);
        assert.deepEqual(ev.map((e) => e.kind), ['ping', 'message', 'pong', 'message', 'message', 'message', 'close'], `split every ${step}`);
        const m = ev.filter((e): e is Extract<ServerEvent, { kind: 'message' }> => e.kind === 'message');
        assert.equal(m[0].data.toString(), '{"a":1}');
        assert.equal(m[0].binary, false);
        assert.ok(m[1].data.equals(big), `split every ${step}: the 70,000-byte binary message`);
        assert.equal(m[1].binary, true);
        assert.equal(m[2].data.length, 0);
        assert.equal(m[3].data.toString('utf8'), 'héllo');
        assert.deepEqual(ev.at(-1), { kind: 'close', code: 1000, reason: 'bye' });
        assert.equal((ev[0] as { data: Buffer }).data.toString(), 'p1');
      }
    });

    it('fails on what the protocol forbids a server to send', () => {
      const cases: [string, Buffer[], RegExp][] = [
        ['masked frame', [Buffer.from([0x81, 0x81, 1, 2, 3, 4, 0x61])], /masked/],
        ['reserved bits', [serverFrame(OP_TEXT, text('x'), true, 0x40)], /reserved bits/],
        ['unknown data opcode', [serverFrame(0x3, text('x'))], /unknown data opcode/],
        ['unknown control opcode', [serverFrame(0xb, text('x'))], /unknown control opcode/],
        ['fragmented ping', [serverFrame(OP_PING, text('x'), false)], /fragmented control/],
        ['control frame over 125 bytes', [serverFrame(OP_PING, Buffer.alloc(126))], /control frame of 126/],
        ['continuation with nothing in progress', [serverFrame(OP_CONTINUATION, text('x'))], /no message in progress/],
        ['new message inside a fragmented one', [serverFrame(OP_TEXT, text('a'), false), serverFrame(OP_TEXT, text('b'))], /in progress/],
        ['close with a 1-byte body', [serverFrame(OP_CLOSE, Buffer.from([3]))], /1-byte body/],
        ['data after close', [serverFrame(OP_CLOSE, Buffer.alloc(0)), serverFrame(OP_TEXT, text('x'))], /after its close/],
        ['64-bit length past 2^53', [Buffer.from([0x82, 127, 0xff, 0, 0, 0, 0, 0, 0, 0])], /out of range/],
      ];
      for (const [name, frames, re] of cases) {
        assert.throws(() => feed(new ServerFrameDecoder(1 << 20), Buffer.concat(frames), 1), (e: unknown) => e instanceof WebSocketProtocolError && re.test((e as Error).message), name);
      }
    });

    it('refuses a message over the limit from its header, before the payload arrives, also summed over fragments', () => {
      const dec = new ServerFrameDecoder(1000);
      assert.throws(() => dec.push(serverFrame(OP_BINARY, Buffer.alloc(1001)).subarray(0, 4)), /more than 1000 bytes/);
      const dec2 = new ServerFrameDecoder(1000);
      dec2.push(serverFrame(OP_TEXT, Buffer.alloc(600), false));
      assert.throws(() => dec2.push(serverFrame(OP_CONTINUATION, Buffer.alloc(401)).subarray(0, 4)), /1001 announced/);
      const ok = new ServerFrameDecoder(1000);
      assert.equal(ok.push(serverFrame(OP_TEXT, Buffer.alloc(1000))).length, 1, 'exactly the limit is accepted');
    });

    it('checks the handshake response: status, upgrade headers, the accept hash, no extensions', () => {
      const key = 'dGhlIHNhbXBsZSBub25jZQ==';
      assert.equal(acceptFor(key), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=', 'the RFC 6455 §1.3 example');
      const good = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}`;
      assert.equal(checkHandshake(good, key), null);
      assert.equal(checkHandshake(good.replace('Connection: Upgrade', 'connection: keep-alive, Upgrade'), key), null);
      assert.match(checkHandshake(good.replace('101 Switching Protocols', '200 OK'), key)!, /HTTP status 200 OK instead of 101/);
      assert.match(checkHandshake(good.replace('Upgrade: websocket', 'Upgrade: h2c'), key)!, /Upgrade: websocket/);
      assert.match(checkHandshake(good.replace('Connection: Upgrade', 'Connection: close'), key)!, /Connection: Upgrade/);
      assert.match(checkHandshake(good, 'AAAAAAAAAAAAAAAAAAAAAA==')!, /Accept does not match/);
      assert.match(checkHandshake(`${good}\r\nSec-WebSocket-Extensions: permessage-deflate`, key)!, /extension/);
      assert.match(checkHandshake('SSH-2.0-OpenSSH', key)!, /not an HTTP\/1.1 response/);
    });
  });

  describe('over TCP', () => {
    let server: Server | undefined;
    afterEach(() => server?.close());

    /** A raw TCP server on loopback; `onRequest` gets the socket and the request head. */
    async function listen(onRequest: (s: Socket, head: string) => void): Promise<string> {
      server = createServer((s) => {
        let buf = Buffer.alloc(0);
        const onData = (c: Buffer) => {
          buf = Buffer.concat([buf, c]);
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          s.off('data', onData);
          onRequest(s, buf.subarray(0, end).toString('latin1'));
        };
        s.on('data', onData);
        s.on('error', () => {});
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      return `ws://127.0.0.1:${(server.address() as { port: number }).port}/rpc`;
    }
    const upgrade = (s: Socket, head: string) => {
      const key = /sec-websocket-key: (\S+)/i.exec(head)![1];
      s.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`);
    };

    it('handshakes, answers a JSON-RPC call sent in fragments with a ping between them, pongs, and closes cleanly', async () => {
      const fromClient: { opcode: number; payload: Buffer }[] = [];
      let request = '';
      let earlyServer: Socket | undefined;
      const url = await listen((s, head) => {
        request = head;
        let buf = Buffer.alloc(0);
        s.on('data', (c: Buffer) => {
          buf = Buffer.concat([buf, c]);
          for (let f = readClientFrame(buf); f; f = readClientFrame(buf)) {
            buf = buf.subarray(f.size);
            fromClient.push(f);
            if (f.opcode === OP_TEXT) {
              const { id } = JSON.parse(f.payload.toString());
              const answer = text(JSON.stringify({ jsonrpc: '2.0', id, result: 'x'.repeat(200_000) }));
              const frames = Buffer.concat([serverFrame(OP_TEXT, answer.subarray(0, 10), false), serverFrame(OP_PING, text('are you there')), serverFrame(OP_CONTINUATION, answer.subarray(10))]);
              for (let i = 0; i < frames.length; i += 999) s.write(frames.subarray(i, i + 999));
            }
            if (f.opcode === OP_CLOSE) s.end(serverFrame(OP_CLOSE, f.payload));
          }
        });
        // the handshake answer and a first frame in one write: the client must keep the bytes after the head
        const key = /sec-websocket-key: (\S+)/i.exec(head)![1];
        s.write(Buffer.concat([Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`), serverFrame(OP_PING, text('early'))]));
        earlyServer = s;
      });
      const rpc = await JsonRpcSocket.open(url, 5_000);
      assert.ok(earlyServer);
      assert.match(request, /^GET \/rpc HTTP\/1.1\r\n/);
      assert.match(request, /\r\nSec-WebSocket-Version: 13/);
      const result = await rpc.call<string>('state_getMetadata', []);
      assert.equal(result.length, 200_000);
      rpc.close();
      await new Promise((r) => setTimeout(r, 100));
      const kinds = fromClient.map((f) => f.opcode);
      assert.deepEqual(kinds.filter((k) => k === OP_PONG).length, 2, 'both pings answered');
      assert.deepEqual(fromClient.filter((f) => f.opcode === OP_PONG).map((f) => f.payload.toString()).sort(), ['are you there', 'early']);
      assert.equal(kinds.at(-1), OP_CLOSE);
      assert.equal(fromClient.at(-1)!.payload.readUInt16BE(0), 1000);
      await assert.rejects(rpc.call('system_health'), RpcError);
    });

    it('keeps a message sent with the handshake answer for the handler set after connect resolves, and a close that came first', async () => {
      const url = await listen((s, head) => {
        const key = /sec-websocket-key: (\S+)/i.exec(head)![1];
        s.write(Buffer.concat([Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`),
          serverFrame(OP_TEXT, text('first')), serverFrame(OP_BINARY, text('second')), serverFrame(OP_CLOSE, Buffer.from([0x03, 0xe9]))]));
      });
      const ws = await WebSocketClient.connect(url, { timeoutMs: 5_000, maxMessageBytes: 1024 });
      await new Promise((r) => setTimeout(r, 50));
      const got: string[] = [];
      ws.onmessage = (t) => got.push(t);
      let closed = '';
      ws.onclose = (why) => { closed = why; };
      assert.deepEqual(got, ['first', 'second']);
      assert.match(closed, /the server closed the connection \(1001\)/);
      assert.throws(() => ws.send('late'), WebSocketError);
    });

    it('fails the calls in flight, naming the cause, when the server breaks the protocol or goes away', async () => {
      let peer: Socket | undefined;
      const url = await listen((s, head) => {
        upgrade(s, head);
        peer = s;
      });
      const rpc = await JsonRpcSocket.open(url, 5_000);
      const pending = rpc.call('chain_getBlockHash', [0]);
      await new Promise((r) => setTimeout(r, 50));
      peer!.write(Buffer.from([0x81, 0x81, 1, 2, 3, 4, 0x61])); // a masked server frame
      await assert.rejects(pending, /protocol error from the server: .*masked/);
      await assert.rejects(rpc.call('x'), RpcError);

      const rpc2 = await JsonRpcSocket.open(url, 5_000);
      const pending2 = rpc2.call('chain_getBlockHash', [0]);
      await new Promise((r) => setTimeout(r, 50));
      peer!.destroy();
      await assert.rejects(pending2, /closed/);
    });

    it('refuses endpoints that are not WebSocket servers, by cause, within the timeout', async () => {
      const http = await listen((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
      await assert.rejects(JsonRpcSocket.open(http, 5_000), /HTTP status 200 OK instead of 101/);
      server!.close();
      const badAccept = await listen((s) => s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: nope\r\n\r\n'));
      await assert.rejects(JsonRpcSocket.open(badAccept, 5_000), /Accept does not match/);
      server!.close();
      const silent = await listen(() => {});
      const t0 = Date.now();
      await assert.rejects(JsonRpcSocket.open(silent, 300), /within 300 ms/);
      assert.ok(Date.now() - t0 < 3_000);
      server!.close();
      const endless = await listen((s) => s.write(`HTTP/1.1 101 Switching Protocols\r\n${'X-Pad: y\r\n'.repeat(3000)}`));
      await assert.rejects(JsonRpcSocket.open(endless, 5_000), /without ending its handshake/);
      server!.close();
      await assert.rejects(WebSocketClient.connect('http://127.0.0.1:1', { timeoutMs: 1000, maxMessageBytes: 10 }), (e: unknown) => e instanceof WebSocketError && /ws:\/\/ or wss:\/\//.test((e as Error).message));
      await assert.rejects(JsonRpcSocket.open('ws://127.0.0.1:1', 2_000), /unreachable: cannot connect/);
    });
  });
});

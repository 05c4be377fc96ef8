// The devnet hands its validators ports chosen up front: distinct, free, and outside the range the
// kernel gives outgoing connections (so none is taken before the validator binds it).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { freePorts } from '../../node/devnet/setup.ts';

describe('devnet port allocation', () => {
  it('returns distinct ports that can be bound, below the ephemeral range', async () => {
    const ports = await freePorts(8);
    assert.equal(ports.length, 8);
    assert.equal(new Set(ports).size, 8, `duplicates in ${ports.join(', ')}`);
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (low > 12_000) for (const p of ports) assert.ok(p >= 10_000 && p < low, `${p} is not below the ephemeral range (${low})`);
    for (const p of ports) {
      const srv = createServer();
      await new Promise<void>((res, rej) => { srv.once('error', rej); srv.listen(p, '127.0.0.1', () => res()); });
      await new Promise<void>((res) => srv.close(() => res()));
    }
  });
});

// Pure parts of the chain area: commitment formats, weight normalisation, IP encoding, versioned state,
// and the devchain's block header hash (blake2-256 of the SCALE header).
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { blake2AsHex } from '@polkadot/util-crypto';
import { parseMinerCommitment, formatScoreCommitment, parseScoreCommitment, commitmentText, rawCommitmentFields, MAX_RAW_FIELD, newestCommitments, joinMinerRoster, scoreCommitmentsOf } from '../../node/chain/commitments.ts';
import { normaliseWeights, ipToU128, ipFromU128 } from '../../node/chain/client.ts';
import { resolveEndpoint } from '../../node/chain/endpoints.ts';
import { VersionedState } from '../../node/devchain/state.ts';
import { DevChain } from '../../node/devchain/devchain.ts';

const SHA = 'a'.repeat(64);

describe('chain: commitment formats', () => {
  it('parses a miner commitment strictly', () => {
    assert.deepEqual(parseMinerCommitment(`${SHA}:https://host.example/a.zip`), { ok: true, sha256: SHA, url: 'https://host.example/a.zip' });
    for (const [text, reason] of [
      ['nohash', /no ":"/],
      [`${SHA.toUpperCase()}:https://x.example/a`, /64 lowercase hex/],
      [`${SHA.slice(1)}:https://x.example/a`, /64 lowercase hex/],
      [`${SHA}:`, /empty/],
      [`${SHA}:ftp://x.example/a`, /not http/],
      [`${SHA}:https://x.example/a b`, /whitespace/],
      [`${SHA}:not a url`, /whitespace|absolute/],
      [`${SHA}:relative/path`, /absolute URL/],
    ] as const) {
      const r = parseMinerCommitment(text);
      assert.equal(r.ok, false, text);
      assert.match(!r.ok ? r.reason : '', reason, text);
    }
  });

  it('score commitment round-trips and fits one Raw field for every safe runId', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (runId, h) => {
      const hex = Buffer.from(h).toString('hex');
      const text = formatScoreCommitment(runId, hex);
      assert.ok(Buffer.byteLength(text) <= MAX_RAW_FIELD);
      assert.deepEqual(parseScoreCommitment(text), { ok: true, runId, sha256: hex });
      assert.deepEqual(rawCommitmentFields(text).length, 1);
    }));
    assert.equal(parseScoreCommitment(`conclave/v2:01:${SHA}`).ok, false);
    assert.equal(parseScoreCommitment(`conclave/v3:1:${SHA}`).ok, false);
    // the unsalted v1 format is refused by name
    const v1 = parseScoreCommitment(`conclave/v1:1:${SHA}`);
    assert.equal(v1.ok, false);
    assert.match(!v1.ok ? v1.reason : '', /v1 .*unsalted.*refused/);
    assert.throws(() => formatScoreCommitment(-1, SHA), /runId/);
    assert.throws(() => rawCommitmentFields('x'.repeat(129)), /at most 128/);
  });

  it('decodes CommitmentInfo fields to text and refuses non-text fields', () => {
    assert.deepEqual(commitmentText([{ Raw2: '0x6869' }, { BigRaw: '0x21' }]), { ok: true, text: 'hi!' });
    assert.equal(commitmentText([{ Sha256: '0x' + '00'.repeat(32) }]).ok, false);
    assert.equal(commitmentText([]).ok, false);
    assert.equal(commitmentText([{ Raw1: '0xff' }]).ok, false);
    assert.equal(commitmentText([{ Raw1: '0xzz' }]).ok, false, 'not hex');
  });

  it('joins CommitmentOf and RevealedCommitments (the newer wins), then the roster and the score commitments of a run', () => {
    const hex = (t: string) => '0x' + Buffer.from(t).toString('hex');
    const code = 'a'.repeat(64);
    const score = formatScoreCommitment(7, 'b'.repeat(64));
    const { records, skipped } = newestCommitments(
      [
        { hotkey: 'M1', fields: [{ Raw12: hex(`${code}:http://h/1.zip`) }], block: 5 },
        { hotkey: 'V1', fields: [{ Raw90: hex('conclave/v2:6:' + 'c'.repeat(64)) }], block: 3 },
        { hotkey: 'V2', fields: [{ Raw90: hex(score) }], block: 9 },
        { hotkey: 'X', fields: [{ Sha256: '0x' + '00'.repeat(32) }], block: 4 },
      ],
      [
        { hotkey: 'V1', bytes: new TextEncoder().encode(score), block: 4 }, // newer than its CommitmentOf: wins
        { hotkey: 'V2', bytes: new TextEncoder().encode('conclave/v2:1:' + 'd'.repeat(64)), block: 8 }, // older: loses
        { hotkey: 'Y', bytes: Uint8Array.of(0xff), block: 2 },
      ],
    );
    const by = new Map(records.map((r) => [r.hotkey, r]));
    assert.deepEqual([by.get('V1')?.source, by.get('V1')?.block], ['RevealedCommitments', 4]);
    assert.deepEqual([by.get('V2')?.source, by.get('V2')?.text], ['CommitmentOf', score]);
    assert.deepEqual(skipped.map((s) => s.hotkey).sort(), ['X', 'Y']);
    assert.deepEqual([...scoreCommitmentsOf(records, 7).keys()].sort(), ['V1', 'V2']);
    const roster = joinMinerRoster([{ uid: 0, hotkey: 'V1' }, { uid: 3, hotkey: 'M1' }, { uid: 4, hotkey: 'X' }], records, skipped);
    assert.deepEqual(roster.entries.map((e) => [e.uid, e.codeSha256, e.url]), [[3, code, 'http://h/1.zip']], 'score commitments and unregistered hotkeys are not miners');
    assert.deepEqual(roster.skipped.map((s) => s.uid), [4]);
  });
});

describe('chain: weights, addresses, endpoints', () => {
  it('max-upscales weights to u16 and drops zeros', () => {
    assert.deepEqual(normaliseWeights([3, 1, 2], [0.5, 0, 1]), { ok: true, uids: [2, 3], weights: [65535, 32768] });
    assert.equal(normaliseWeights([1, 1], [1, 1]).ok, false);
    assert.equal(normaliseWeights([1], [Number.NaN]).ok, false);
    assert.equal(normaliseWeights([1], [0]).ok, false);
    assert.equal(normaliseWeights([1, 2], [1]).ok, false);
  });

  it('encodes IPv4/IPv6 as subtensor u128 and back', () => {
    assert.deepEqual(ipToU128('10.1.2.3'), { value: 0x0a010203n, type: 4 });
    assert.equal(ipFromU128(0x0a010203n, 4), '10.1.2.3');
    const v6 = ipToU128('2001:db8::1');
    assert.equal(v6?.type, 6);
    assert.equal(ipFromU128(v6!.value, 6), '2001:db8:0:0:0:0:0:1');
    assert.equal(ipToU128('300.1.1.1'), null);
    assert.equal(ipToU128('hello'), null);
  });

  it('resolves endpoint names and refuses non-ws URLs', () => {
    assert.equal(resolveEndpoint('finney'), 'wss://entrypoint-finney.opentensor.ai:443');
    assert.equal(resolveEndpoint('local'), 'ws://127.0.0.1:9944');
    assert.equal(resolveEndpoint('ws://127.0.0.1:1234'), 'ws://127.0.0.1:1234');
    assert.throws(() => resolveEndpoint('http://127.0.0.1:9933'), /ws:\/\/ or wss:\/\//);
    assert.throws(() => resolveEndpoint('mainnet'), /neither a name/);
  });
});

describe('chain: devchain internals', () => {
  it('versioned state answers reads at any past block and prefix scans in key order', () => {
    const s = new VersionedState();
    s.set('0xaa01', '0x01', 0);
    s.set('0xaa02', '0x02', 0);
    s.set('0xab00', '0x03', 0);
    s.set('0xaa01', '0x11', 3);
    s.set('0xaa02', null, 5);
    assert.equal(s.get('0xaa01', 2), '0x01');
    assert.equal(s.get('0xaa01', 3), '0x11');
    assert.deepEqual(s.keys('0xaa', 4), ['0xaa01', '0xaa02']);
    assert.deepEqual(s.keys('0xaa', 5), ['0xaa01']);
    assert.deepEqual(s.keys('0xaa', 4, 10, '0xaa01'), ['0xaa02']);
    assert.deepEqual(s.keys('0x', 0, 2), ['0xaa01', '0xaa02']);
    assert.throws(() => s.set('0xaa01', '0x00', 1), /after block 3/);
  });

  it('block hashes are blake2-256 of the SCALE header and chain by parent hash', async () => {
    const dc = new DevChain({ blockMs: 0 });
    await dc.start();
    try {
      const b1 = dc.produceBlock();
      const b2 = dc.produceBlock();
      assert.equal(b2.parentHash, b1.hash);
      assert.equal(b1.parentHash, dc.genesisHash);
      const header = dc.meta.registry.createType('Header', { parentHash: b2.parentHash, number: 2, stateRoot: b2.stateRoot, extrinsicsRoot: b2.extrinsicsRoot, digest: { logs: [] } });
      assert.equal(blake2AsHex(header.toU8a(), 256), b2.hash);
      assert.equal(new Set([dc.genesisHash, b1.hash, b2.hash]).size, 3);
    } finally {
      await dc.stop();
    }
  });
});

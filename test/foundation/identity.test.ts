import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as wasm from '@polkadot/wasm-crypto';
import { decodeAddress, encodeAddress, sr25519PairFromSeed, sr25519Sign, sr25519Verify } from '@polkadot/util-crypto';
import fc from 'fast-check';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { fromHex, toHex } from '../../proto/codec.ts';
import { cryptoReady, ed25519SignerFromSeed, hotkeyToPublicKey, publicKeyToHotkey, sr25519SignerFromSeed, verifyEd25519, verifySr25519 } from '../../proto/signer.ts';
import { decodeBinding, encodeBinding, signBinding, verifyBinding, type BindingRecord } from '../../proto/binding.ts';
import { decodeRoster, encodeRoster, rosterHash } from '../../proto/roster.ts';
import { createHotkey, hotkeyFilePath, loadHotkey, loadHotkeyFile, parseHotkeyFile } from '../../node/keys/wallet.ts';
import { loadNodeKey, loadOrCreateNodeKey, nodeKeyPath } from '../../node/keys/node-key.ts';

const golden = JSON.parse(readFileSync(new URL('../fixtures/foundation/golden-v1.json', import.meta.url), 'utf8'));
// Substrate's well-known development phrase; its sr25519 root account is public knowledge.
const DEV_PHRASE = 'bottom drive obey lake curtain smoke basket hold race lonely fit walk';
const DEV_ROOT_SS58 = '5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV';

describe('foundation: identities', () => {
  let tmp: string;
  before(async () => {
    await cryptoReady();
    tmp = mkdtempSync(join(tmpdir(), 'conclave-identity-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  describe('SS58 (native implementation)', () => {
    it('agrees with @polkadot/util-crypto for random keys and prefixes, and rejects typos', () => {
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.constantFrom(0, 2, 42, 63, 64, 1000), (pk, prefix) => {
          assert.equal(publicKeyToHotkey(pk), encodeAddress(pk, 42));
          const other = encodeAddress(pk, prefix);
          assert.deepEqual(hotkeyToPublicKey(other), decodeAddress(other));
        }),
        { numRuns: 300 },
      );
      assert.equal(publicKeyToHotkey(new Uint8Array(32)), encodeAddress(new Uint8Array(32), 42));
      const typo = DEV_ROOT_SS58.slice(0, 10) + (DEV_ROOT_SS58[10] === 'a' ? 'b' : 'a') + DEV_ROOT_SS58.slice(11);
      assert.throws(() => hotkeyToPublicKey(typo), /checksum mismatch|not a valid SS58/);
      assert.throws(() => hotkeyToPublicKey('0OIl'), /not base58/);
      assert.throws(() => hotkeyToPublicKey(''), /expected an SS58 address/);
    });
  });

  describe('sr25519 interoperability', () => {
    it('signatures cross-verify with @polkadot/util-crypto (pure-JS schnorrkel), both directions', () => {
      const seed = fromHex(golden.validatorSeedHex, 32);
      const ours = sr25519SignerFromSeed(seed);
      const theirs = sr25519PairFromSeed(seed);
      assert.deepEqual(ours.publicKey, theirs.publicKey);
      const msg = new TextEncoder().encode('conclave interop');
      assert.ok(sr25519Verify(msg, ours.sign(msg), ours.publicKey));
      assert.ok(verifySr25519(msg, sr25519Sign(msg, theirs), ours.hotkey));
      assert.equal(verifySr25519(new TextEncoder().encode('other'), sr25519Sign(msg, theirs), ours.hotkey), false);
    });
  });

  describe('wallet (Bittensor keyfile layout)', () => {
    it('creates <walletPath>/<wallet>/hotkeys/<hotkey> with mode 0600 and loads it back', async () => {
      const ref = { walletPath: join(tmp, 'wallets'), wallet: 'owner', hotkey: 'v1' };
      const created = await createHotkey(ref);
      assert.equal(created.path, join(tmp, 'wallets', 'owner', 'hotkeys', 'v1'));
      assert.equal(statSync(created.path).mode & 0o777, 0o600);
      assert.equal(created.mnemonic.split(' ').length, 12);
      const doc = JSON.parse(readFileSync(created.path, 'utf8'));
      assert.equal(doc.ss58Address, created.signer.hotkey);
      assert.match(doc.secretSeed, /^0x[0-9a-f]{64}$/);
      const loaded = await loadHotkey(ref);
      assert.equal(loaded.hotkey, created.signer.hotkey);
      const msg = new TextEncoder().encode('hello');
      assert.ok(verifySr25519(msg, loaded.sign(msg), created.signer.hotkey));
    });

    it('refuses to overwrite an existing hotkey', async () => {
      const ref = { walletPath: join(tmp, 'wallets'), wallet: 'owner', hotkey: 'dup' };
      await createHotkey(ref);
      const before = readFileSync(hotkeyFilePath(ref), 'utf8');
      await assert.rejects(createHotkey(ref), /already exists; refusing to overwrite/);
      assert.equal(readFileSync(hotkeyFilePath(ref), 'utf8'), before);
    });

    it('derives the same account as substrate/btcli from a mnemonic (dev phrase root)', async () => {
      const { signer } = await createHotkey({ walletPath: join(tmp, 'wallets'), wallet: 'dev', hotkey: 'root' }, { mnemonic: DEV_PHRASE });
      assert.equal(signer.hotkey, DEV_ROOT_SS58);
    });

    it('loads a keyfile that has only privateKey + publicKey (no secretSeed)', () => {
      const kp = wasm.sr25519KeypairFromSeed(fromHex(golden.validatorSeedHex, 32));
      const text = JSON.stringify({ privateKey: '0x' + toHex(kp.slice(0, 64)), publicKey: '0x' + toHex(kp.slice(64)), ss58Address: golden.validatorHotkey });
      assert.equal(parseHotkeyFile(text, 'k').hotkey, golden.validatorHotkey);
    });

    it('refuses encrypted, malformed and inconsistent keyfiles with a message that says what to do', async () => {
      assert.throws(() => parseHotkeyFile('$NACL\x00\x01binary', 'hk'), /encrypted \(NaCl/);
      assert.throws(() => parseHotkeyFile('{"encoded":"x","encoding":{}}', 'hk'), /polkadot-js JSON keystore.*btcli wallet regen-hotkey --json/);
      assert.throws(() => parseHotkeyFile('not json', 'hk'), /not a Bittensor hotkey keyfile/);
      assert.throws(() => parseHotkeyFile('{"publicKey":"0x' + '00'.repeat(32) + '"}', 'hk'), /has no secret/);
      const seed = '0x' + golden.validatorSeedHex;
      assert.throws(() => parseHotkeyFile(JSON.stringify({ secretSeed: seed, ss58Address: DEV_ROOT_SS58 }), 'hk'), /ss58Address .* does not match/);
      assert.throws(() => parseHotkeyFile(JSON.stringify({ secretSeed: seed, publicKey: '0x' + '11'.repeat(32) }), 'hk'), /publicKey does not match/);
      await assert.rejects(loadHotkeyFile(join(tmp, 'nope')), /no hotkey file at .*conclave keys new/);
      assert.throws(() => hotkeyFilePath({ wallet: '../etc', hotkey: 'x' }), /wallet name .* is invalid/);
    });
  });

  describe('node key (ed25519)', () => {
    it('is created once with mode 0600, reloads to the same key, and is the libp2p identity', async () => {
      const dir = join(tmp, 'data');
      const a = await loadOrCreateNodeKey(dir);
      assert.equal(a.created, true);
      assert.equal(statSync(nodeKeyPath(dir)).mode & 0o777, 0o600);
      const b = await loadOrCreateNodeKey(dir);
      assert.equal(b.created, false);
      assert.equal(b.publicKeyHex, a.publicKeyHex);
      assert.equal(b.peerId, a.peerId);
      assert.equal(peerIdFromPrivateKey(b.libp2pPrivateKey).toString(), a.peerId);
      assert.equal(toHex(b.libp2pPrivateKey.publicKey.raw), a.publicKeyHex);
      const msg = new Uint8Array([9, 9, 9]);
      assert.ok(verifyEd25519(msg, b.signer.sign(msg), a.publicKey));
      // libp2p's own verifier agrees with node crypto's signature.
      assert.ok(await b.libp2pPrivateKey.publicKey.verify(msg, b.signer.sign(msg)));
    });

    it('refuses a node key readable by others, or corrupt, with the fix in the message', async () => {
      const dir = join(tmp, 'data2');
      await loadOrCreateNodeKey(dir);
      chmodSync(nodeKeyPath(dir), 0o644);
      await assert.rejects(loadNodeKey(dir), /readable by other users .*chmod 600/);
      chmodSync(nodeKeyPath(dir), 0o600);
      writeFileSync(nodeKeyPath(dir), '{"version":1,"type":"ed25519","seed":"xyz"}');
      await assert.rejects(loadOrCreateNodeKey(dir), /not a valid node key .*move it away/);
    });

    it('ed25519 signatures fail under another key or a flipped bit', () => {
      const s = ed25519SignerFromSeed(new Uint8Array(32).fill(1));
      const o = ed25519SignerFromSeed(new Uint8Array(32).fill(2));
      const msg = new TextEncoder().encode('prepare');
      const sig = s.sign(msg);
      assert.ok(verifyEd25519(msg, sig, s.publicKey));
      assert.equal(verifyEd25519(msg, sig, o.publicKey), false);
      const bad = Uint8Array.from(sig);
      bad[10] ^= 4;
      assert.equal(verifyEd25519(msg, bad, s.publicKey), false);
      assert.equal(verifyEd25519(msg, sig.subarray(1), s.publicKey), false);
    });
  });

  describe('binding record', () => {
    const hot = () => sr25519SignerFromSeed(fromHex(golden.validatorSeedHex, 32));
    const node = () => ed25519SignerFromSeed(fromHex(golden.binding.nodeSeedHex, 32));
    const t0 = golden.binding.record.issuedAt as number;
    const scope = { genesisHash: golden.binding.record.genesisHash as string, netuid: 1 };
    const sign = (over: { node?: ReturnType<typeof node>; hot?: ReturnType<typeof hot>; expiresAt?: number; netuid?: number; multiaddrs?: string[] } = {}) =>
      signBinding({ genesisHash: scope.genesisHash, netuid: over.netuid ?? 1, node: over.node ?? node(), multiaddrs: over.multiaddrs ?? ['/ip4/127.0.0.1/tcp/1'], issuedAt: t0, expiresAt: over.expiresAt ?? t0 + 3600_000 }, over.hot ?? hot());

    it('golden: canonical bytes and fixed signatures (v2: chain scope, node-key countersignature)', () => {
      const rec = golden.binding.record as BindingRecord;
      assert.equal(toHex(encodeBinding(rec)), golden.binding.canonicalHex);
      assert.deepEqual(decodeBinding(fromHex(golden.binding.canonicalHex)), rec);
      assert.deepEqual(verifyBinding(rec, t0 + 1000, { scope }), { ok: true });
      assert.equal(rec.nodePublicKey, toHex(node().publicKey));
      // ed25519 is deterministic: the countersignature is reproducible
      assert.equal(sign({ multiaddrs: ['/ip4/127.0.0.1/tcp/30333'], expiresAt: rec.expiresAt }).nodeSignature, rec.nodeSignature);
    });

    it('refuses version-1 bindings (no scope, no countersignature) by name', () => {
      assert.throws(() => decodeBinding(fromHex(golden.bindingV1CanonicalHex)), /unknown version 1.*refused/);
    });

    it('verifies inside its window and rejects expired, future and lifetime-abusing records', () => {
      const rec = sign();
      assert.deepEqual(verifyBinding(rec, t0), { ok: true });
      assert.match((verifyBinding(rec, t0 + 3600_000) as { reason: string }).reason, /expired/);
      assert.match((verifyBinding(rec, t0 - 3600_000) as { reason: string }).reason, /issued in the future/);
      const long = sign({ expiresAt: t0 + 365 * 86_400_000 });
      assert.match((verifyBinding(long, t0) as { reason: string }).reason, /lifetime exceeds/);
    });

    it('is scoped to one chain and one subnet: a binding from elsewhere does not replay', () => {
      const rec = sign();
      assert.deepEqual(verifyBinding(rec, t0, { scope }), { ok: true });
      assert.match((verifyBinding(rec, t0, { scope: { ...scope, netuid: 2 } }) as { reason: string }).reason, /netuid 1, this mesh is netuid 2/);
      assert.match((verifyBinding(rec, t0, { scope: { genesisHash: 'cd'.repeat(32), netuid: 1 } }) as { reason: string }).reason, /another chain/);
      // changing the scope fields breaks both signatures
      assert.equal(verifyBinding({ ...rec, netuid: 2 }, t0).ok, false);
    });

    it('rejects mismatches: peer id vs node key, expected hotkey/peer, tampered fields, other signer, a node key that did not countersign', () => {
      const rec = sign();
      const otherNode = ed25519SignerFromSeed(new Uint8Array(32).fill(0x42));
      const swappedKey = { ...rec, nodePublicKey: toHex(otherNode.publicKey) };
      assert.match((verifyBinding(swappedKey, t0) as { reason: string }).reason, /does not match node public key/);
      assert.match((verifyBinding(rec, t0, { hotkey: DEV_ROOT_SS58 }) as { reason: string }).reason, /expected/);
      assert.match((verifyBinding(rec, t0, { peerId: 'x' }) as { reason: string }).reason, /expected x/);
      const moved = { ...rec, multiaddrs: ['/ip4/127.0.0.2/tcp/1'] };
      assert.equal(verifyBinding(moved, t0).ok, false);
      const other = sr25519SignerFromSeed(new Uint8Array(32).fill(0x55));
      const claimed = { ...sign({ hot: other, expiresAt: t0 + 1000 }), hotkey: hot().hotkey };
      assert.equal(verifyBinding(claimed, t0).ok, false);
      // the hijack: another hotkey signs a binding naming this node key; without the node key it cannot countersign
      const hijack = sign({ hot: other, node: otherNode });
      const forged = { ...hijack, nodePublicKey: rec.nodePublicKey, peerId: rec.peerId };
      assert.match((verifyBinding(forged, t0) as { reason: string }).reason, /did not countersign/);
    });
  });

  describe('roster', () => {
    it('golden hash; order-independent; duplicate uids refused; decode round-trips sorted', () => {
      const entries = golden.roster.entries;
      assert.equal(rosterHash(entries), golden.roster.rosterHash);
      assert.equal(rosterHash([...entries].reverse()), golden.roster.rosterHash);
      assert.equal(toHex(encodeRoster(entries)), golden.roster.canonicalHex);
      assert.deepEqual(decodeRoster(fromHex(golden.roster.canonicalHex)).map((e) => e.uid), [0, 3, 12]);
      assert.throws(() => rosterHash([entries[0], { ...entries[1], uid: entries[0].uid }]), /appears twice/);
      const changed = [{ ...entries[0], url: entries[0].url + '?' }, entries[1], entries[2]];
      assert.notEqual(rosterHash(changed), golden.roster.rosterHash);
    });
  });
});


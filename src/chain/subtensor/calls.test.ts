// Offline: every call SubtensorChain builds for the modern runtime decodes against finney's spec-219
// metadata (assets/subtensor) with the call index the metadata gives that pallet and call (read
// independently from the pallet list and the call enum's variants) and the intended arguments; a
// set_weights signed through polkadotSigner verifies. Plus the pure helpers against hand-worked values.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Metadata, TypeRegistry } from '@polkadot/types';
import type { Call } from '@polkadot/types/interfaces';
import { hexToU8a, u8aToHex, u8aToString } from '@polkadot/util';
import { blake2AsHex, cryptoWaitReady, signatureVerify } from '@polkadot/util-crypto';
import { Keyring } from '@polkadot/keyring';
import { anchorRemark, commitHash, commitmentFields, commitRemark, decoratedTx, parseRemark, registryFor, shapeOf, SubtensorCalls, weightsToU16 } from './calls.js';
import { polkadotSigner } from './chain.js';
import { FINNEY_219_METADATA } from './local.js';

await cryptoWaitReady();
const material = JSON.parse(readFileSync(FINNEY_219_METADATA, 'utf8')) as { metadata: `0x${string}`; genesisHash: string };
const registry = new TypeRegistry();
const metadata = new Metadata(registry, material.metadata);
registryFor(registry, metadata);
const shape = shapeOf(registry, metadata);
const NETUID = 3;
const calls = new SubtensorCalls(decoratedTx(registry, metadata), shape, NETUID);
const kr = new Keyring({ type: 'sr25519', ss58Format: 42 });
const hot = kr.addFromUri('//tessera/offline/hotkey');

/** [pallet index, call index] of `pallet.call` (snake_case) read from the metadata's pallet list and call variants. */
function indexOf(pallet: string, call: string): [number, number] {
  const p = metadata.asLatest.pallets.find((x) => x.name.toString() === pallet);
  assert.ok(p, `pallet ${pallet} in the metadata`);
  const variants = registry.lookup.getSiType(p.calls.unwrap().type).def.asVariant.variants;
  const v = variants.find((x) => x.name.toString() === call);
  assert.ok(v, `call ${pallet}.${call} in the metadata`);
  return [p.index.toNumber(), v.index.toNumber()];
}

/** Encodes, decodes the bytes back as a Call, checks index, names and the arguments (as JSON). */
function decodesAs(built: Call, pallet: string, call: string, args: Record<string, unknown>): Call {
  const back = registry.createType('Call', built.toU8a());
  const [pi, ci] = indexOf(pallet, call);
  assert.deepEqual([...back.callIndex], [pi, ci], `${pallet}.${call} call index`);
  assert.equal(back.toHex(), built.toHex());
  const got = Object.fromEntries(back.argsDef ? Object.keys(back.argsDef).map((k, i) => [k, back.args[i].toJSON()]) : []);
  assert.deepEqual(got, args, `${pallet}.${call} arguments`);
  return back;
}

test('the finney metadata is spec 219 and its shape is the modern one', () => {
  assert.equal(shape.specVersion, 219);
  assert.equal(shape.commitments, true);
  assert.equal(shape.commitmentFields, 1);
  assert.equal(shape.commitReveal, true);
  assert.equal(shape.stakeWithNetuid, false);
  assert.equal(shape.sudoRegister, false);
});

test('set_weights, commit_weights, reveal_weights decode with the intended index and arguments', () => {
  const w = weightsToU16([2, 1, 3], [2, 1, 3]);
  decodesAs(calls.setWeights(w.uids, w.values, 7n), 'SubtensorModule', 'set_weights', { netuid: NETUID, dests: [1, 2, 3], weights: [21845, 43690, 65535], version_key: 7 });
  const salt = [1, 2, 3, 4, 5, 6, 7, 8];
  const hash = commitHash(registry, hot.address, NETUID, w.uids, w.values, salt, 7n);
  decodesAs(calls.commitWeights(hash), 'SubtensorModule', 'commit_weights', { netuid: NETUID, commit_hash: hash });
  decodesAs(calls.revealWeights(w.uids, w.values, salt, 7n), 'SubtensorModule', 'reveal_weights', { netuid: NETUID, uids: [1, 2, 3], values: [21845, 43690, 65535], salt, version_key: 7 });
});

test('burned_register, add_stake, set_commitment, remark decode with the intended index and arguments', () => {
  decodesAs(calls.burnedRegister(hot.address), 'SubtensorModule', 'burned_register', { netuid: NETUID, hotkey: hot.address });
  decodesAs(calls.addStake(hot.address, 2_500_000_000n), 'SubtensorModule', 'add_stake', { hotkey: hot.address, amount_staked: 2_500_000_000 });
  const text = '{"v":1,"kind":"s3","endpoint":"https://s3.example.org","bucket":"b"}';
  const back = decodesAs(calls.setCommitment(text), 'Commitments', 'set_commitment', {
    netuid: NETUID, info: { fields: [{ [`raw${text.length}`]: u8aToHex(new TextEncoder().encode(text)) }] },
  });
  assert.equal(u8aToString((back.args[1] as unknown as { fields: Array<{ value: { toU8a(b: boolean): Uint8Array } }> }).fields[0].value.toU8a(true)), text);
  const remark = anchorRemark(NETUID, 12, 'ab'.repeat(32));
  decodesAs(calls.remark(remark), 'System', 'remark', { remark: u8aToHex(new TextEncoder().encode(remark)) });
});

test('a set_weights extrinsic signed through polkadotSigner carries a valid sr25519 signature (modern signed extensions)', async () => {
  const call = calls.setWeights([1], [65535], 0n);
  const version = { specVersion: 219, transactionVersion: 1 };
  const payload = registry.createType('SignerPayload', {
    address: hot.address, blockHash: material.genesisHash, blockNumber: 0, era: registry.createType('ExtrinsicEra', '0x00'), genesisHash: material.genesisHash,
    method: call.toHex(), nonce: 5, signedExtensions: registry.signedExtensions, tip: 0, runtimeVersion: version, version: 4, mode: 0, metadataHash: null,
  });
  const { signature } = await polkadotSigner({ address: hot.address, sign: async (m) => hot.sign(m) }).signRaw!(payload.toRaw());
  assert.equal(hexToU8a(signature)[0], 1, 'MultiSignature::Sr25519 tag');
  const ext = registry.createType('Extrinsic', call, { version: 4 });
  ext.addSignature(hot.address, signature, payload.toPayload());
  const decoded = registry.createType('Extrinsic', ext.toHex());
  assert.equal(decoded.method.method, 'setWeights');
  assert.equal(decoded.signer.toString(), hot.address);
  assert.equal(decoded.nonce.toNumber(), 5);
  let signed = registry.createType('ExtrinsicPayload', payload.toPayload(), { version: 4 }).toU8a({ method: true });
  if (signed.length > 256) signed = hexToU8a(blake2AsHex(signed, 256));
  assert.ok(signatureVerify(signed, decoded.signature.toU8a(), hot.address).isValid);
});

test('weightsToU16 scales the largest to 65535, drops zeros, sorts uids, refuses bad input', () => {
  assert.deepEqual(weightsToU16([5, 0, 9], [0.5, 1, 0]), { uids: [0, 5], values: [65535, 32768] });
  assert.throws(() => weightsToU16([1], [0]), /not all zero/);
  assert.throws(() => weightsToU16([1, 1], [1, 1]), /appears twice/);
  assert.throws(() => weightsToU16([70000], [1]), /not a u16/);
});

test('commitHash is blake2_256 of the SCALE tuple (hand-built bytes)', () => {
  // (AccountId32, u16, Vec<u16>, Vec<u16>, Vec<u16>, u64), little-endian, compact lengths (n << 2).
  const bytes = new Uint8Array([...hot.publicKey, 3, 0, 1 << 2, 1, 0, 1 << 2, 0xff, 0xff, 2 << 2, 9, 0, 8, 0, 7, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(commitHash(registry, hot.address, 3, [1], [65535], [9, 8], 7n), blake2AsHex(bytes, 256));
});

test('commitment fields: one Raw<len> up to 128 bytes; longer ones refused with the limit named', () => {
  assert.deepEqual(commitmentFields('abc', 1), [{ Raw3: '0x616263' }]);
  assert.equal(Object.keys(commitmentFields('x'.repeat(128), 1)[0])[0], 'Raw128');
  assert.throws(() => commitmentFields('x'.repeat(129), 1), /129 bytes exceeds .* \(1 field\(s\) of 128 bytes\)/);
});

test('remarks parse back; others are ignored', () => {
  assert.deepEqual(parseRemark(anchorRemark(3, 12, 'ab'.repeat(32))), { kind: 'anchor', netuid: 3, window: 12, digest: 'ab'.repeat(32) });
  assert.deepEqual(parseRemark(commitRemark(1, '{"a":1}')), { kind: 'commit', netuid: 1, data: '{"a":1}' });
  assert.equal(parseRemark('hello'), null);
  assert.equal(parseRemark('tessera/v1 anchor 3 12 XYZ'), null);
});

// Payload signing and verification: a good payload passes; unsigned, tampered, signed by another
// hotkey, found under another uid (a copy), made for another window or another run, not the bytes anchored on
// chain, or stating impossible inner steps are refused with their reason. verifyPayload never throws, whatever the bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { compress, encodePayload, type CodecConfig } from '../compress/index.js';
import { signer } from '../wallet/index.js';
import { sha256Hex, signPayload, verifyPayload, type PayloadExpect } from './index.js';

await cryptoWaitReady();
const keyring = new Keyring({ type: 'sr25519', ss58Format: 42 });
const alice = signer(keyring.addFromUri('//Alice')), bob = signer(keyring.addFromUri('//Bob'));
const cfg: CodecConfig = { tile: 4, vectorChunk: 8, topk: 2, beta: 0.9 };
const specs = [{ offset: 0, shape: [8, 8] as [number, number] }, { offset: 64, shape: [16] as [number] }];
const shapes = specs.map((s) => s.shape);
const RUN = 'a'.repeat(64), OTHER_RUN = 'b'.repeat(64);

function payload(window: number, uid: number, modelHash = RUN, steps = 4): Uint8Array {
  const delta = Float32Array.from({ length: 80 }, (_, i) => Math.sin(i * 1.7) * 0.01);
  const update = compress(delta, new Float32Array(80), specs, cfg, 'ts');
  return encodePayload({ update, modelHash, window, uid, indexMode: '12bit', shapes, cfg, steps });
}
const expect = (over: Partial<PayloadExpect> = {}): PayloadExpect => ({ shapes, cfg, modelHash: RUN, window: 7, uid: 3, ...over });

test('a payload signed by the uid hotkey verifies', async () => {
  const signed = await signPayload(payload(7, 3), alice);
  const r = await verifyPayload(signed, expect(), alice.address);
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.payload.window, 7);
  assert.equal(r.payload.uid, 3);
});

test('refusals carry their reason', async () => {
  const cases: [string, Promise<{ ok: boolean; reason?: string }>, string][] = [
    ['unsigned', verifyPayload(payload(7, 3), expect(), alice.address), 'unsigned'],
    ['signed by another hotkey', verifyPayload(await signPayload(payload(7, 3), bob), expect(), alice.address), 'bad_signature'],
    ['a copy of uid 4\'s upload under uid 3', verifyPayload(await signPayload(payload(7, 4), bob), expect(), alice.address), 'foreign'],
    ['made for window 6', verifyPayload(await signPayload(payload(6, 3), alice), expect(), alice.address), 'stale'],
    ['another run', verifyPayload(await signPayload(payload(7, 3, OTHER_RUN), alice), expect(), alice.address), 'model_mismatch'],
    ['other bytes than the digest anchored on chain', verifyPayload(await signPayload(payload(7, 3), alice), expect({ anchored: sha256Hex(payload(7, 3)) }), alice.address), 'not_anchored'],
    ['more inner steps than H', verifyPayload(await signPayload(payload(7, 3, RUN, 9), alice), expect({ maxSteps: 8 }), alice.address), 'bad_steps'],
    ['no inner steps stated', verifyPayload(await signPayload(payload(7, 3, RUN, 0), alice), expect({ maxSteps: 8 }), alice.address), 'bad_steps'],
    ['a malformed hotkey', verifyPayload(await signPayload(payload(7, 3), alice), expect(), 'not-an-address'), 'bad_signature'],
  ];
  for (const [what, p, reason] of cases) {
    const r = await p;
    assert.equal(r.ok, false, what);
    assert.equal(r.reason, reason, what);
  }
  const signed = await signPayload(payload(7, 3), alice);
  const anchored = await verifyPayload(signed, expect({ anchored: sha256Hex(signed), maxSteps: 4 }), alice.address);
  assert.ok(anchored.ok, 'the anchored bytes with steps = H verify');
  if (anchored.ok) assert.equal(anchored.payload.steps, 4);
});

test('a flipped bit anywhere is refused, never thrown', async () => {
  const signed = await signPayload(payload(7, 3), alice);
  for (let i = 0; i < signed.length; i += 3) {
    const bad = Uint8Array.from(signed);
    bad[i] ^= 0x10;
    const r = await verifyPayload(bad, expect(), alice.address);
    assert.equal(r.ok, false, `byte ${i}`);
  }
  const r = await verifyPayload(signed.subarray(0, 50), expect(), alice.address);
  assert.equal(r.ok, false);
  if (!r.ok) assert.equal(r.reason, 'truncated');
});

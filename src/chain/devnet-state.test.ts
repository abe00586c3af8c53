// The devnet state machine without a server: register → uid, stake, commit, weights (permit and
// rate limit), nonces, Yuma results stored under subtensor's names every tempo blocks, and anchors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { genesis, applyCall, produceBlock, metagraphOf, commitmentsOf, blockTimestampOf, blockHashOf, sealHash, anchorsOf, DEFAULT_PARAMS, ANCHORS_PER_UID, TIMESTAMP_HISTORY, type DevnetState } from './devnet/state.js';

/** Anchors without their in-block arrival index (checked in security.test.ts "finding 6"). */
const plain = (xs: Array<{ index?: number }>): object[] => xs.map(({ index: _i, ...a }) => a);
import { loadState, STATE_FILE } from './devnet/persist.js';
import { checkState } from './devnet/check-state.js';
import type { UnsignedCall, WriteMethod } from './devnet/call.js';
import { ChainError } from './types.js';

let nonce = 0;
const call = (hotkey: string, method: WriteMethod, params: Record<string, unknown> = {}): UnsignedCall =>
  ({ method, hotkey, nonce: ++nonce, params: { hotkey, ...params } });
const apply = (s: DevnetState, c: UnsignedCall): [DevnetState, unknown] => { const r = applyCall(s, c); return [r.state, r.result]; };
const code = (fn: () => unknown, want: string): void =>
  assert.throws(fn, (e: unknown) => e instanceof ChainError && e.code === want && e.hint !== undefined, `expected ChainError ${want}`);

test('register, stake, commit, setWeights, then an epoch stores Incentive/Dividends/Emission', () => {
  let s = genesis('0xchain', { ...DEFAULT_PARAMS, tempo: 3, maxAllowedValidators: 1 }, 1000);
  const before = JSON.stringify(s);
  let uid: unknown;
  [s, uid] = apply(s, call('val', 'register')); assert.equal(uid, 0);
  assert.equal(JSON.stringify(genesis('0xchain', { ...DEFAULT_PARAMS, tempo: 3, maxAllowedValidators: 1 }, 1000)), before);
  [s, uid] = apply(s, call('m1', 'register')); assert.equal(uid, 1);
  [s, uid] = apply(s, call('m2', 'register')); assert.equal(uid, 2);
  [s, uid] = apply(s, call('m1', 'register')); assert.equal(uid, 1, 'register is idempotent');
  [s] = apply(s, call('val', 'addStake', { amount: 10 }));
  [s] = apply(s, call('m1', 'commit', { data: '{"bucket":"m1"}' }));
  code(() => applyCall(s, call('m1', 'setWeights', { uids: [2], weights: [1] })), 'no_permit');
  code(() => applyCall(s, call('val', 'setWeights', { uids: [1, 1], weights: [1, 1] })), 'bad_request');
  code(() => applyCall(s, call('val', 'setWeights', { uids: [7], weights: [1] })), 'bad_request');
  code(() => applyCall(s, call('nobody', 'commit', { data: 'x' })), 'not_registered');
  // Weights set in the block that registers their miners would be outdated (run_epoch.rs masks w_ij when
  // last_update_i <= block_at_registration_j), so they go in the next block.
  s = produceBlock(s, 1500);
  [s] = apply(s, call('val', 'setWeights', { uids: [1, 2], weights: [1, 3] }));
  code(() => applyCall(s, call('val', 'setWeights', { uids: [1], weights: [1] })), 'rate_limited');
  assert.deepEqual(commitmentsOf(s), { 1: '{"bucket":"m1"}' });

  s = produceBlock(s, 3000);
  assert.equal(metagraphOf(s).lastEpoch, 0);
  s = produceBlock(s, 2500); // clock went back: timestamps stay non-decreasing
  assert.equal(s.height, 3);
  assert.equal(blockTimestampOf(s, 3), 3000);
  const m = metagraphOf(s);
  assert.equal(m.lastEpoch, 3);
  assert.deepEqual(m.hotkeys, ['val', 'm1', 'm2']);
  assert.deepEqual(m.validatorPermit, [true, false, false]);
  assert.deepEqual(m.Incentive, [0, 0.25, 0.75]);
  assert.deepEqual(m.Dividends, [1, 0, 0]);
  const e = 3 * 0.82; // tempo × emissionPerBlock, after the 18% owner cut
  assert.ok(Math.abs(m.Emission[0] - e / 2) < 1e-12 && Math.abs(m.Emission[2] - (e / 2) * 0.75) < 1e-12);
  assert.deepEqual(m.Weights[0], [[1, 1], [2, 3]]);
  assert.deepEqual(m.Bonds[0], [[1, 1], [2, 1]]);
  [s] = apply(s, call('val', 'setWeights', { uids: [1], weights: [1] })); // rate limit (1 block) has passed
});

test('nonces: reuse is rejected; an exact duplicate says so and carries the first result', () => {
  let s = genesis('0xchain', DEFAULT_PARAMS, 0);
  const c = call('a', 'register');
  [s] = apply(s, c);
  assert.throws(() => applyCall(s, c), (e: unknown) => e instanceof ChainError && e.code === 'nonce_used' && e.details?.duplicate === true && e.details?.result === 0);
  assert.throws(() => applyCall(s, { ...c, params: { hotkey: 'a', x: 1 } }), (e: unknown) => e instanceof ChainError && e.code === 'nonce_used' && e.details?.duplicate === false);
  code(() => applyCall(s, { ...call('a', 'register'), params: { hotkey: 'b' } }), 'wrong_hotkey');
  code(() => applyCall(s, call('a', 'addStake', { amount: -1 })), 'bad_request');
});

test('full subnet, unknown heights and bad parameters give errors that say what to do', () => {
  let s = genesis('0xchain', { ...DEFAULT_PARAMS, maxAllowedUids: 1 }, 0);
  [s] = apply(s, call('a', 'register'));
  s = { ...s, faucet: { cap: 100, exempt: ['a'] } }; // a full subnet answers 'full' only when no uid can be replaced
  code(() => applyCall(s, call('b', 'register')), 'full');
  code(() => blockTimestampOf(s, 5), 'not_found');
  code(() => genesis('0x', { ...DEFAULT_PARAMS, tempo: 0 }, 0), 'bad_request');
  code(() => genesis('0x', { ...DEFAULT_PARAMS, kappa: 1.5 }, 0), 'bad_request');
});

const D1 = 'a'.repeat(64), D2 = 'b'.repeat(64);
const digestOf = (i: number): string => i.toString(16).padStart(64, '0');

test('anchor: recorded with the including block (height + 1), same digest is a no-op, another is refused', () => {
  let s = genesis('0xchain', DEFAULT_PARAMS, 0);
  [s] = apply(s, call('v', 'register')); [s] = apply(s, call('m', 'register'));
  s = produceBlock(s, 10); s = produceBlock(s, 20);
  let block: unknown;
  [s, block] = apply(s, call('m', 'anchor', { window: 7, digest: D1 }));
  assert.equal(block, 3);
  s = produceBlock(s, 30);
  [s] = apply(s, call('v', 'anchor', { window: 7, digest: D2 }));
  assert.deepEqual(plain(anchorsOf(s, 7)), [{ uid: 0, digest: D2, block: 4 }, { uid: 1, digest: D1, block: 3 }], 'ascending uid');
  assert.deepEqual(plain(anchorsOf(s, 8)), []);
  s = produceBlock(s, 40);
  [s, block] = apply(s, call('m', 'anchor', { window: 7, digest: D1 })); // a retry with a new nonce
  assert.equal(block, 3, 'the existing anchor keeps its block');
  assert.deepEqual(plain(anchorsOf(s, 7))[1], { uid: 1, digest: D1, block: 3 });
  assert.throws(() => applyCall(s, call('m', 'anchor', { window: 7, digest: D2 })), (e: unknown) =>
    e instanceof ChainError && e.code === 'anchored' && /window 7/.test(e.message) && /block 3/.test(e.message) && /immutable/.test(e.hint ?? '') && e.details?.block === 3);
  [s] = apply(s, call('m', 'anchor', { window: 8, digest: D2 })); // another window is free
  assert.deepEqual(plain(anchorsOf(s, 8)), [{ uid: 1, digest: D2, block: 5 }]);
});

test('anchor: bad window or digest, and unregistered hotkeys, are refused with a hint', () => {
  let s = genesis('0xchain', DEFAULT_PARAMS, 0);
  [s] = apply(s, call('m', 'register'));
  for (const window of [-1, 1.5, '3', null, 2 ** 53]) code(() => applyCall(s, call('m', 'anchor', { window, digest: D1 })), 'bad_request');
  for (const digest of ['A'.repeat(64), 'a'.repeat(63), 'a'.repeat(65), 'g'.repeat(64), '0x' + 'a'.repeat(62), 7, undefined]) {
    code(() => applyCall(s, call('m', 'anchor', { window: 0, digest })), 'bad_request');
  }
  code(() => applyCall(s, call('nobody', 'anchor', { window: 0, digest: D1 })), 'not_registered');
  [s] = apply(s, call('m', 'anchor', { window: 0, digest: D1 }));
  assert.deepEqual(plain(anchorsOf(s, 0)), [{ uid: 0, digest: D1, block: 1 }]);
});

test(`anchor: at most ${ANCHORS_PER_UID} per uid (the oldest go), and none older than the timestamp history`, () => {
  let s = genesis('0xchain', DEFAULT_PARAMS, 0);
  [s] = apply(s, call('m', 'register')); [s] = apply(s, call('o', 'register'));
  [s] = apply(s, call('o', 'anchor', { window: 0, digest: D2 }));
  // Two windows share each block; within a block the lower window is the older.
  for (let w = 0; w < ANCHORS_PER_UID + 4; w++) {
    [s] = apply(s, call('m', 'anchor', { window: w, digest: digestOf(w) }));
    if (w % 2 === 1) s = produceBlock(s, w);
  }
  const kept = Array.from({ length: ANCHORS_PER_UID + 4 }, (_, w) => w).filter((w) => anchorsOf(s, w).some((a) => a.uid === 0));
  assert.deepEqual(kept, Array.from({ length: ANCHORS_PER_UID }, (_, i) => i + 4));
  assert.deepEqual(plain(anchorsOf(s, 0)), [{ uid: 1, digest: D2, block: 1 }], "another uid's anchors stay");
  assert.equal(Object.keys(s.anchors ?? {}).length, ANCHORS_PER_UID + 1, 'windows left without anchors are dropped');
  // All in one block, the new anchor (lowest window) stays and the lowest of the others goes.
  let t = genesis('0xchain', DEFAULT_PARAMS, 0);
  [t] = apply(t, call('m', 'register'));
  for (let w = 1; w <= ANCHORS_PER_UID; w++) [t] = apply(t, call('m', 'anchor', { window: w, digest: digestOf(w) }));
  [t] = apply(t, call('m', 'anchor', { window: 0, digest: digestOf(0) }));
  assert.deepEqual([anchorsOf(t, 0).length, anchorsOf(t, 1).length, anchorsOf(t, 2).length], [1, 0, 1]);

  const last = s.height + 1; // the block of the anchor below
  [s] = apply(s, call('o', 'anchor', { window: 999, digest: D1 }));
  const before = s;
  while (s.history.from <= 1) s = produceBlock(s, 0);
  assert.deepEqual(plain(anchorsOf(s, 0)), [], 'block 1 left the timestamp history');
  assert.equal(anchorsOf(before, 0).length, 1, 'produceBlock does not mutate its input');
  while (s.history.from <= last - 1) s = produceBlock(s, 0);
  assert.equal(s.height, last - 1 + TIMESTAMP_HISTORY);
  assert.deepEqual(plain(anchorsOf(s, 999)), [{ uid: 1, digest: D1, block: last }]);
  assert.equal(typeof blockTimestampOf(s, last), 'number', 'its timestamp is still kept');
  s = produceBlock(s, 0);
  assert.deepEqual(s.anchors, {});
});

test('a state saved before anchors existed loads, reads no anchors, and takes new ones', async () => {
  let s = genesis('0xchain', DEFAULT_PARAMS, 0);
  [s] = apply(s, call('m', 'register'));
  const old: Partial<DevnetState> = { ...s };
  delete old.anchors;
  const dir = mkdtempSync(join(tmpdir(), 'tessera-state-'));
  try {
    writeFileSync(join(dir, STATE_FILE), JSON.stringify(old));
    let loaded = (await loadState(dir))!;
    assert.equal(loaded.anchors, undefined);
    assert.deepEqual(plain(anchorsOf(loaded, 0)), []);
    loaded = produceBlock(loaded, 1);
    [loaded] = apply(loaded, call('m', 'anchor', { window: 0, digest: D1 }));
    assert.deepEqual(plain(anchorsOf(loaded, 0)), [{ uid: 0, digest: D1, block: 2 }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('block hashes: chained over height, timestamp and entropy; kept with the timestamps; replayable from the entropy', () => {
  let s = genesis('test-chain', DEFAULT_PARAMS, 0);
  s = produceBlock(s, 10, undefined, 'aa');
  const h1 = blockHashOf(s, 1);
  assert.match(h1, /^0x[0-9a-f]{64}$/);
  assert.equal(h1, sealHash(blockHashOf(s, 0), 1, 10, 'aa'));
  const other = produceBlock(genesis('test-chain', DEFAULT_PARAMS, 0), 10, undefined, 'ab');
  assert.notEqual(blockHashOf(other, 1), h1, 'other entropy, other hash');
  s = produceBlock(s, 20, undefined, 'bb');
  assert.equal(blockHashOf(s, 2), sealHash(h1, 2, 20, 'bb'));
  assert.throws(() => blockHashOf(s, 3), /does not exist/);
  // A state written before block hashes: the devnet keeps going; only the new blocks have hashes.
  const { hashes: _, ...old } = s.history;
  let t: DevnetState = { ...s, history: old };
  assert.throws(() => blockHashOf(t, 2), /no hash/);
  t = produceBlock(t, 30, undefined, 'cc');
  assert.match(blockHashOf(t, 3), /^0x[0-9a-f]{64}$/);
  assert.doesNotThrow(() => checkState(JSON.parse(JSON.stringify(t))));
});

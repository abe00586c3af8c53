// The devnet state machine without a server: register → uid, stake, commit, weights (permit and
// rate limit), nonces, and Yuma results stored under subtensor's names every tempo blocks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { genesis, applyCall, produceBlock, metagraphOf, commitmentsOf, blockTimestampOf, DEFAULT_PARAMS, type DevnetState } from './devnet/state.js';
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
  [s] = apply(s, call('val', 'setWeights', { uids: [1, 2], weights: [1, 3] }));
  code(() => applyCall(s, call('val', 'setWeights', { uids: [1], weights: [1] })), 'rate_limited');
  assert.deepEqual(commitmentsOf(s), { 1: '{"bucket":"m1"}' });

  s = produceBlock(s, 2000); s = produceBlock(s, 3000);
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
  code(() => applyCall(s, call('b', 'register')), 'full');
  code(() => blockTimestampOf(s, 5), 'not_found');
  code(() => genesis('0x', { ...DEFAULT_PARAMS, tempo: 0 }, 0), 'bad_request');
  code(() => genesis('0x', { ...DEFAULT_PARAMS, kappa: 1.5 }, 0), 'bad_request');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rebaseDelta } from './inner.js';

test('rebaseDelta: an update trained from a base, re-measured from θ, equals θ − θ_local', () => {
  const n = 1000, rnd = (i: number, k: number): number => Math.sin(i * 12.9898 + k * 78.233) * 0.5;
  const theta = Float32Array.from({ length: n }, (_, i) => rnd(i, 1));
  const base = Float32Array.from({ length: n }, (_, i) => theta[i]! + 0.01 * rnd(i, 2));
  const local = Float32Array.from({ length: n }, (_, i) => base[i]! - 0.02 * rnd(i, 3));
  const delta = Float32Array.from({ length: n }, (_, i) => base[i]! - local[i]!);
  rebaseDelta(delta, theta, base);
  for (let i = 0; i < n; i++) assert.ok(Math.abs(delta[i]! - (theta[i]! - local[i]!)) < 1e-6, `coordinate ${i}`);
  assert.throws(() => rebaseDelta(delta, theta, base.subarray(1)), RangeError);
});

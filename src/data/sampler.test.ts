// Sampler tests: offsets are a pure, in-range function of (seed, uid, window); batches shift by one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeRng } from '../util/rng.js';
import { makeBatch, sampleWindows } from './sampler.js';

test('sampleWindows is deterministic and in range', () => {
  const a = sampleWindows(42, 7, 3, 256, 10_000, 128);
  assert.deepEqual(a, sampleWindows(42, 7, 3, 256, 10_000, 128));
  assert.deepEqual(a, sampleWindows(42n, 7, 3, 256, 10_000, 128), 'number and bigint seeds agree');
  assert.equal(a.length, 256);
  for (const o of a) assert.ok(Number.isInteger(o) && o >= 0 && o + 128 + 1 <= 10_000);
  // A prefix of a longer request is the shorter request: counts can grow without reshuffling.
  assert.deepEqual(sampleWindows(42, 7, 3, 10, 10_000, 128), a.slice(0, 10));
});

test('sampleWindows differs across seed, uid and window', () => {
  const base = sampleWindows(1, 0, 0, 32, 1_000_000, 256);
  for (const other of [sampleWindows(2, 0, 0, 32, 1_000_000, 256), sampleWindows(1, 1, 0, 32, 1_000_000, 256), sampleWindows(1, 0, 1, 32, 1_000_000, 256)]) {
    assert.notDeepEqual(other, base);
  }
});

test('sampleWindows covers the whole range, including the last start', () => {
  const offs = sampleWindows(5, 1, 1, 2000, 20, 16); // starts 0..3
  assert.deepEqual([...new Set(offs)].sort(), [0, 1, 2, 3]);
  assert.throws(() => sampleWindows(5, 1, 1, 1, 16, 16), /fewer than one sequence needs \(17\)/);
  assert.throws(() => sampleWindows(5, -1, 1, 1, 100, 16), RangeError);
});

test('makeBatch builds shifted input/target rows', () => {
  const tokens = Uint16Array.from({ length: 50 }, (_, i) => i * 2);
  const b = makeBatch(tokens, [0, 10, 45], 4);
  assert.equal(b.batch, 3);
  assert.deepEqual(Array.from(b.inputs), [0, 2, 4, 6, 20, 22, 24, 26, 90, 92, 94, 96]);
  assert.deepEqual(Array.from(b.targets), [2, 4, 6, 8, 22, 24, 26, 28, 92, 94, 96, 98]);
  assert.throws(() => makeBatch(tokens, [46], 4), RangeError);
});

test('makeRng: deterministic streams, unbiased bounded ints, sane normals', () => {
  const r1 = makeRng('x'), r2 = makeRng('x'), r3 = makeRng('y');
  const s1 = Array.from({ length: 8 }, () => r1.nextU32());
  assert.deepEqual(s1, Array.from({ length: 8 }, () => r2.nextU32()));
  assert.notDeepEqual(s1, Array.from({ length: 8 }, () => r3.nextU32()));
  const r = makeRng(123);
  const hist = new Array(6).fill(0);
  for (let i = 0; i < 60_000; i++) hist[r.nextInt(6)]++;
  for (const h of hist) assert.ok(Math.abs(h - 10_000) < 500, `bucket ${h}`);
  const big = r.nextInt(2 ** 40);
  assert.ok(big >= 0 && big < 2 ** 40 && Number.isInteger(big));
  let sum = 0, sq = 0;
  for (let i = 0; i < 50_000; i++) { const z = r.normal(); sum += z; sq += z * z; }
  assert.ok(Math.abs(sum / 50_000) < 0.03 && Math.abs(sq / 50_000 - 1) < 0.05);
  for (let i = 0; i < 1000; i++) { const f = r.nextFloat(); assert.ok(f >= 0 && f < 1); }
});

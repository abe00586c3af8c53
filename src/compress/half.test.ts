// binary16 rounding of the bin-mean tables (payload v3): halfBits/halfValue against a float64
// oracle written from the IEEE 754 definition, at the edges (subnormals, ties, saturation) and on
// random float32 values over the whole exponent range.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HALF_MAX, halfBits, halfValue, roundHalf } from './half.js';
import { makeRng } from '../util/rng.js';

/** Nearest binary16 value of x by float64 arithmetic: quantum 2^(e − 10) for 2^e ≤ |x| (e ≥ −14), ties to an even multiple; saturated at 65504. */
function oracle(x: number): number {
  if (x === 0) return x;
  let e = -14;
  while (e < 15 && 2 ** (e + 1) <= Math.abs(x)) e++;
  const q = 2 ** (e - 10), v = Math.abs(x) / q, f = Math.floor(v), d = v - f;
  const r = (d > 0.5 || (d === 0.5 && f % 2 === 1) ? f + 1 : f) * q;
  return Math.sign(x) * Math.min(r, HALF_MAX) || (x < 0 ? -0 : 0);
}

test('half: known bit patterns, ties to even, subnormals, saturation, signed zero', () => {
  const cases: [number, number][] = [
    [1, 0x3c00], [-2, 0xc000], [0.1, 0x2e66], [65504, 0x7bff], [65519, 0x7bff], [65520, 0x7bff], [1e9, 0x7bff], [-Infinity, 0xfbff],
    [2 ** -14, 0x0400], [2 ** -24, 0x0001], [2 ** -25, 0x0000], [1.5 * 2 ** -25, 0x0001], [3 * 2 ** -25, 0x0002], // 3·2^-25 = 1.5 quanta: tie → even 2
    [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [-0, 0x8000], [NaN, 0x7e00],
  ];
  for (const [x, h] of cases) assert.equal(halfBits(x), h, `halfBits(${x})`);
  assert.ok(Object.is(roundHalf(-1e-30), -0));
  assert.equal(halfValue(0x7c00), Infinity); assert.ok(Number.isNaN(halfValue(0x7e01)));
  for (let h = 0; h < 0x10000; h++) {
    const v = halfValue(h);
    if (Number.isFinite(v)) assert.equal(halfBits(v), h === 0x8000 ? 0x8000 : h, `pattern 0x${h.toString(16)} round-trips`);
    assert.equal(Math.fround(v), Number.isNaN(v) ? Math.fround(NaN) : v); // every half is a float32
  }
});

test('half: random float32 values over the whole exponent range round like the float64 oracle', () => {
  const rng = makeRng('half'), f = new Float32Array(1), u = new Uint32Array(f.buffer);
  for (let i = 0; i < 50_000; i++) {
    u[0] = i % 4 === 0 ? 0x33000000 + rng.nextInt(0x14000000) : rng.nextU32() & 0xff7fffff; // a quarter near the subnormal/normal edge
    const x = f[0]!;
    if (!Number.isFinite(x)) continue;
    assert.ok(Object.is(roundHalf(x), oracle(x)), `x = ${x} (0x${u[0]!.toString(16)}): ${roundHalf(x)} vs ${oracle(x)}`);
  }
});

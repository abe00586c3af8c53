import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COVENANT, covenantLinks, formatRate, parseRate } from './links.js';

test('rates: tc syntax both ways', () => {
  assert.equal(parseRate('110mbit'), 110e6);
  assert.equal(parseRate('500kbit'), 5e5);
  assert.equal(parseRate('1.5gbit'), 1.5e9);
  assert.equal(parseRate('fast'), null);
  assert.equal(parseRate('10 mbit'), null);
  assert.equal(formatRate(400_600), '401kbit');
  assert.equal(formatRate(10), '8kbit');
});

test('covenant profile: the same communication-to-compute ratio as Covenant-72B', () => {
  // Covenant itself maps to its own rates.
  const self = covenantLinks(COVENANT.params, COVENANT.computeS);
  assert.equal(self.upBitsPerS, 110e6);
  assert.equal(self.downBitsPerS, 500e6);
  // The devnet's small model (2.49M parameters, ~11.4 s of training per window): ≈ 401 kbit up, 1.82 Mbit down.
  const small = covenantLinks(2_491_008, 11.4);
  assert.equal(small.up, '401kbit');
  assert.equal(small.down, '1821kbit');
  // The ratio: (bits per parameter × params / rate) / compute is the same at both scales.
  const bitsPerParam = 0.139, ratio = (p: number, rate: number, c: number): number => (bitsPerParam * p / rate) / c;
  assert.ok(Math.abs(ratio(2_491_008, small.upBitsPerS, 11.4) - ratio(72e9, 110e6, 1200)) < 1e-12);
  assert.throws(() => covenantLinks(0, 1), RangeError);
});

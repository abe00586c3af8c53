// Muon's Newton–Schulz step: the result's singular values are near 1 (the orthogonal factor), for wide
// and tall matrices; muonSpecs leaves the embedding, the head and the norm gains to AdamW.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newtonSchulz, muonSpecs } from './muon.js';
import { createLlama, getPreset } from '../model/index.js';
import { makeRng } from '../util/rng.js';

test('muon: Newton–Schulz output has singular values in [0.6, 1.2] (Gram matrix ≈ identity); hidden matrices only', () => {
  const rng = makeRng('ns');
  for (const [r, c] of [[16, 32], [96, 32]] as const) {
    const g = Float64Array.from({ length: r * c }, () => rng.normal());
    const o = newtonSchulz(g, r, c, 5), k = Math.min(r, c);
    // Gram of the short side: k×k, its eigenvalues are σ²; check diagonal ≈ σ² in range and off-diagonal small.
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) {
      let s = 0;
      for (let p = 0; p < Math.max(r, c); p++) s += r <= c ? o[i * c + p]! * o[j * c + p]! : o[p * c + i]! * o[p * c + j]!;
      if (i === j) assert.ok(s > 0.36 && s < 1.44, `${r}×${c}: diag ${s}`);
      else assert.ok(Math.abs(s) < 0.35, `${r}×${c}: off-diagonal ${s}`);
    }
  }
  const names = muonSpecs(createLlama(getPreset('micro')).layout.specs).map((s) => s.name);
  assert.equal(names.length, 14);
  assert.ok(names.every((n) => /attention\.w|feed_forward\.w/.test(n)), names.join(' '));
});

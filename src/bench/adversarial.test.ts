// The small pure pieces of the adversarial scenario and bench: Spearman's rank correlation, "from
// which window on does it hold", fingerprint agreement, and the devnet's --adversaries list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ScoreReceipt } from '../gauntlet/index.js';
import { ADVERSARIAL_BEHAVIORS, parseAdversaries } from '../devnet/index.js';
import { adversaryNames, ADVERSARIES, COMBINED, fingerprintsAgree, holdsFrom, MEDIAN_GROUP, parseAdversaryList, spearman } from './adversarial.js';

test('spearman, holdsFrom, fingerprintsAgree', () => {
  assert.equal(spearman([1, 2, 3], [10, 20, 30]), 1);
  assert.equal(spearman([1, 2, 3], [3, 2, 1]), -1);
  assert.equal(spearman([1, 2, 3], [1, 3, 2]), 0.5);
  assert.ok(Math.abs(spearman([1, 1, 2, 3], [5, 5, 6, 7]) - 1) < 1e-12, 'ties get average ranks');
  const rs = [1, 0, 0, 1, 0, 0].map((w, i) => ({ window: i, w })) as unknown as ScoreReceipt[];
  const zero = (r: ScoreReceipt): boolean => (r as unknown as { w: number }).w === 0;
  assert.equal(holdsFrom(rs, zero), 5);
  assert.equal(holdsFrom(rs.slice(0, 4), zero), 5, 'not at the end: length + 1');
  assert.equal(holdsFrom(rs.slice(1, 3), zero), 1);
  assert.deepEqual(fingerprintsAgree([new Map([[1, 'a'], [2, 'b']]), new Map([[1, 'a'], [2, 'c'], [3, 'd']])]), { agree: false, windows: 2, mismatches: [2] });
  assert.deepEqual(fingerprintsAgree([new Map([[1, 'a']]), new Map([[1, 'a']])]), { agree: true, windows: 1, mismatches: [] });
});

test('--adversaries: all, a list (deduplicated, in the order given), unknown names and honest refused', () => {
  assert.deepEqual(parseAdversaries('all'), [...ADVERSARIAL_BEHAVIORS]);
  assert.deepEqual([...ADVERSARIAL_BEHAVIORS], [...ADVERSARIES]);
  assert.deepEqual(parseAdversaries(' noise, copy,noise '), ['noise', 'copy']);
  assert.throws(() => parseAdversaries('copy,sneaky'), /unknown miner behavior 'sneaky'/);
  assert.throws(() => parseAdversaries('honest'), /honest is not an adversarial behaviour/);
  assert.throws(() => parseAdversaries(' , '), /at least one/);
});

test('bench --adversaries: repeat counts make groups of uids, named a-<behaviour>-2 …; the combined run holds every behaviour and the groups', () => {
  assert.deepEqual(parseAdversaryList('half*2, copy'), ['half', 'half', 'copy']);
  assert.deepEqual(parseAdversaryList('mediangroup*3'), ['mediangroup', 'mediangroup', 'mediangroup']);
  assert.throws(() => parseAdversaryList('half*0'), /not a behaviour/);
  assert.throws(() => parseAdversaryList('sneaky'), /not a behaviour/);
  assert.throws(() => parseAdversaryList('honest'), /not a behaviour/);
  assert.deepEqual(adversaryNames(['half', 'copy', 'half', 'half']), ['a-half', 'a-copy', 'a-half-2', 'a-half-3']);
  for (const b of ADVERSARIES) assert.ok(COMBINED.includes(b), b);
  assert.equal(COMBINED.filter((b) => b === 'mediangroup').length, MEDIAN_GROUP);
  assert.equal(COMBINED.filter((b) => b === 'half').length, 2, 'a sybil pair');
});

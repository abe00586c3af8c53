// The chaos suite's schedule (chaos.ts): ≥ 20 faults of every kind, a seeded order that repeats for a
// seed and differs between seeds, the leader killed last; fault lists parsed with a clear error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeRng } from '../util/rng.js';
import { CI_SCHEDULE, FAULT_KINDS, FULL_SCHEDULE, parseFaults, scheduleFaults } from './chaos.js';

test('chaos schedule: every kind, ≥ 20 faults, seeded order, leader killed last', () => {
  assert.ok(FULL_SCHEDULE.length >= 20);
  assert.deepEqual([...new Set(FULL_SCHEDULE)].sort(), [...FAULT_KINDS].sort());
  const a = scheduleFaults(FULL_SCHEDULE, makeRng('chaos-1')), b = scheduleFaults(FULL_SCHEDULE, makeRng('chaos-1')), c = scheduleFaults(FULL_SCHEDULE, makeRng('chaos-2'));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.equal(a.at(-1), 'leader-killed');
  assert.deepEqual([...a].sort(), [...FULL_SCHEDULE].sort());
  assert.deepEqual(parseFaults('ci'), CI_SCHEDULE);
  assert.deepEqual(parseFaults('ci', true), [...CI_SCHEDULE, 'link-cut']);
  assert.deepEqual(parseFaults('chain-down, link-cut'), ['chain-down', 'link-cut']);
  assert.throws(() => parseFaults('kill-everything'), /unknown fault kind 'kill-everything'/);
});

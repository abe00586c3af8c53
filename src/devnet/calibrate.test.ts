// The devnet's window sizing: training (H steps at the measured step time, slowed by every node
// sharing the cores) takes at most TRAIN_SHARE of the window, never fewer than the minimum blocks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TRAIN_SHARE, VALIDATOR_LOAD, windowFor } from './calibrate.js';

test('windowFor: H × step × contention fits in TRAIN_SHARE of the window, at least minBlocks', () => {
  const o = { innerSteps: 30, miners: 3, blockMs: 1000, minBlocks: 15 };
  const c = windowFor(175, o, 2);
  assert.equal(c.contention, (3 + VALIDATOR_LOAD) / 2);
  assert.ok(Math.abs(c.trainS - (30 * 175 * c.contention) / 1000) < 1e-9);
  assert.ok(c.trainS <= TRAIN_SHARE * c.windowS + 1e-9 && c.trainS > TRAIN_SHARE * (c.windowS - 1), `train ${c.trainS} s in a ${c.windowS} s window`);
  assert.equal(windowFor(10, o, 2).blocksPerWindow, 15, 'a fast machine still gets the minimum window');
  assert.equal(windowFor(175, { ...o, miners: 1 }, 16).contention, 1, 'more cores than nodes: no contention');
  assert.ok(windowFor(175, { ...o, miners: 6 }, 2).blocksPerWindow > c.blocksPerWindow, 'more miners on the same cores: a longer window');
});

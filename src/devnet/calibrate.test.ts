// The devnet's window sizing: training (H steps at the measured step time, slowed by every node
// sharing the cores) takes at most TRAIN_SHARE of the window, never fewer than the minimum blocks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FORWARD_OF_STEP, TRAIN_SHARE, VALIDATOR_LOAD, VALIDATOR_SHARE, windowFor } from './calibrate.js';
import { EVAL_BATCHES, VAL_BATCHES } from '../neurons/scoring.js';

test('windowFor: H × step × contention fits in TRAIN_SHARE of the window, at least minBlocks', () => {
  const o = { innerSteps: 30, miners: 3, blockMs: 1000, minBlocks: 15, validatorShare: null };
  const c = windowFor(175, o, 2);
  assert.equal(c.contention, (3 + VALIDATOR_LOAD) / 2);
  assert.ok(Math.abs(c.trainS - (30 * 175 * c.contention) / 1000) < 1e-9);
  assert.ok(c.trainS <= TRAIN_SHARE * c.windowS + 1e-9 && c.trainS > TRAIN_SHARE * (c.windowS - 1), `train ${c.trainS} s in a ${c.windowS} s window`);
  assert.equal(windowFor(10, o, 2).blocksPerWindow, 15, 'a fast machine still gets the minimum window');
  assert.equal(windowFor(175, { ...o, miners: 1 }, 16).contention, 1, 'more cores than nodes: no contention');
  assert.ok(windowFor(175, { ...o, miners: 6 }, 2).blocksPerWindow > c.blocksPerWindow, 'more miners on the same cores: a longer window');
});

test('windowFor: the validator\'s evaluation of every miner fits in VALIDATOR_SHARE of the window', () => {
  // npm start's network: 3 miners, H = 30, 214 ms a step on one thread, 2 cores, overlap (training share 0.9).
  const o = { innerSteps: 30, miners: 3, blockMs: 1000, minBlocks: 15, overlap: true };
  const c = windowFor(214, o, 2), passes = 3 * 4 * EVAL_BATCHES + VAL_BATCHES;
  assert.ok(Math.abs(c.validatorS - (passes * 214 * FORWARD_OF_STEP * 2) / 1000) < 1e-9);
  assert.ok(Math.abs(c.validatorS - 13.98) < 0.01, `estimate ${c.validatorS} s (measured 12–14 s idle at 15 s windows)`);
  assert.equal(c.blocksPerWindow, Math.ceil(c.validatorS / VALIDATOR_SHARE), 'the evaluation, not the training, sizes this window');
  assert.ok(c.validatorS <= VALIDATOR_SHARE * c.windowS + 1e-9);
  assert.equal(windowFor(214, { ...o, validatorShare: null }, 2).blocksPerWindow, 15, 'not counted: the miners\' window (the 15-block floor)');
  assert.ok(windowFor(214, { ...o, miners: 6 }, 2).validatorS > 2 * c.validatorS * 0.99, 'twice the miners, about twice the evaluation (and more contention)');
});

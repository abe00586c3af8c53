// The devnet's supervisor (orchestrator.ts): the backoff of restarts of a node that dies. The restart
// itself, of a real process killed from outside, is in test/network.test.ts "supervision: …".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { restartDelayMs, RESTART_LIMIT } from './orchestrator.js';

test('supervision backoff: 2 s, 4 s, 8 s, 16 s, then the node is given up on (5 deaths in 10 min)', () => {
  assert.deepEqual([1, 2, 3, 4].map(restartDelayMs), [2000, 4000, 8000, 16000]);
  assert.equal(restartDelayMs(RESTART_LIMIT), null);
  assert.equal(restartDelayMs(0), 2000);
});

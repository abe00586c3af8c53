// Behavior names: the default is honest, every listed behavior parses, anything else is refused
// before the node registers (the message lists what exists).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BEHAVIORS, parseBehavior } from './adversaries.js';

test('behavior names', () => {
  assert.equal(parseBehavior(undefined), 'honest');
  assert.equal(parseBehavior(''), 'honest');
  for (const b of BEHAVIORS) assert.equal(parseBehavior(b), b);
  assert.deepEqual([...BEHAVIORS].sort(), ['copy', 'half', 'honest', 'late', 'lazy', 'malformed', 'mediangroup', 'noise', 'onestep', 'poison', 'precompute', 'replay', 'scaled', 'signflip', 'stale', 'stitch', 'withhold']);
  assert.throws(() => parseBehavior('sneaky'), (e: Error & { hint?: string }) => /unknown miner behavior 'sneaky'/.test(e.message) && /copy, noise/.test(e.hint ?? ''));
});

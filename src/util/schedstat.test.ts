import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSchedstat } from './schedstat.js';

test('schedstat lines parse into cpu, wait and slices', () => {
  assert.deepEqual(parseSchedstat('421791 3634867 2\n'), { cpuNs: 421791, waitNs: 3634867, slices: 2 });
  assert.equal(parseSchedstat('421791 3634867'), null);
  assert.equal(parseSchedstat('a b c'), null);
});


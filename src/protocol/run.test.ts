// RunConfig timing: the upload deadline must end inside one window at the chain's block time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TesseraError } from '../util/errors.js';
import { checkRunTiming } from './run.js';

test('checkRunTiming: a deadline shorter than a window passes; one of a window or more is refused with what to do', () => {
  checkRunTiming({ blocksPerWindow: 15, deadlineS: 6 }, 1000); // the devnet default: 40% of a 15 s window
  checkRunTiming({ blocksPerWindow: 12, deadlineS: 2.999 }, 250);
  checkRunTiming({ blocksPerWindow: 1, deadlineS: 0 }, 10);
  for (const [blocksPerWindow, deadlineS, blockMs] of [[15, 15, 1000], [15, 20, 1000], [12, 3, 250], [4, 2, 500]] as const) {
    assert.throws(() => checkRunTiming({ blocksPerWindow, deadlineS }, blockMs), (e: unknown) => {
      assert.ok(e instanceof TesseraError, String(e));
      const windowS = (blocksPerWindow * blockMs) / 1000;
      assert.match(e.message, new RegExp(`deadlineS ${deadlineS} s is not shorter than a window \\(${blocksPerWindow} blocks × ${blockMs} ms = ${windowS} s\\)`));
      assert.match(e.message, /never train/);
      assert.match(e.hint ?? '', new RegExp(`--deadline-s\\) below ${windowS} s.*--blocks-per-window.*--block-ms`));
      return true;
    });
  }
  assert.throws(() => checkRunTiming({ blocksPerWindow: 15, deadlineS: 1 }, 0), RangeError);
});

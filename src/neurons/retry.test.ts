// Outage handling: transient storage and chain errors are retried with backoff while status.json
// says 'retry' (and names the error); other errors propagate; a stop request ends any wait.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChainError } from '../chain/index.js';
import { StorageError } from '../storage/index.js';
import { backoffMs, isOutage, orStop, retrying, sleep, Stopped } from './retry.js';
import { StatusBoard, Stopwatch } from './status.js';

const dir = mkdtempSync(join(tmpdir(), 'tessera-retry-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('outages are retried with capped backoff and show as phase retry', async () => {
  const status = new StatusBoard(dir, { name: 'n', role: 'miner', hotkey: 'h' });
  status.set('upload');
  const seen: string[] = [];
  let calls = 0;
  const ctx = { signal: new AbortController().signal, status, log: (s: string) => seen.push(s) };
  const v = await retrying(ctx, 'put x', async () => {
    calls++;
    if (calls === 1) throw new StorageError('transient', 'socket hang up');
    if (calls === 2) {
      const s = JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8')) as { phase: string; lastError: string };
      assert.equal(s.phase, 'upload', 'phase restored after the wait');
      throw new ChainError('unavailable', 'devnet unreachable');
    }
    return 42;
  });
  assert.equal(v, 42);
  assert.equal(calls, 3);
  assert.match(status.status.lastError ?? '', /devnet unreachable/);
  assert.ok(seen.some((l) => /recovered after 2 retries/.test(l)));
  await assert.rejects(retrying(ctx, 'bad', async () => { throw new StorageError('denied', 'no'); }), /no/);
  assert.deepEqual([0, 1, 2, 10, 50].map(backoffMs), [250, 500, 1000, 10_000, 10_000]);
  assert.ok(isOutage(new ChainError('timeout', 't')) && !isOutage(new ChainError('bad_signature', 'b')) && !isOutage(new Error('x')));
});

test('a stop request ends backoff waits and races', async () => {
  const status = new StatusBoard(dir, { name: 'n', role: 'miner', hotkey: 'h' });
  const ac = new AbortController();
  const ctx = { signal: ac.signal, status, log: () => {} };
  setTimeout(() => ac.abort(), 50);
  const t0 = performance.now();
  await assert.rejects(retrying(ctx, 'forever', async () => { throw new StorageError('transient', 'down'); }), Stopped);
  assert.ok(performance.now() - t0 < 2000);
  await assert.rejects(sleep(10, ac.signal), Stopped);
  await assert.rejects(orStop(new Promise(() => {}), ac.signal), Stopped);
});

test('the stopwatch splits a window into parts and idle', async () => {
  const sw = new Stopwatch();
  await sw.time('train', () => new Promise((r) => setTimeout(r, 30)));
  await new Promise((r) => setTimeout(r, 30));
  const e = sw.entry(3, 'f');
  assert.ok(e.train_s >= 0.025 && e.idle_s >= 0.025 && e.window_s >= e.train_s + e.idle_s - 1e-3);
  assert.equal(e.score_s, undefined);
});

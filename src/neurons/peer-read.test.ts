// Security finding 2 (issue "Hostile peers"): one miner whose committed bucket fails stopped every
// validator — hard errors failed the window forever, temporary ones made retrying() loop forever. A peer
// read now ends within its budget with a result, whatever the bucket does; only a node stop throws.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StorageError, type ReadOnlyStore } from '../storage/index.js';
import { mapPool, readPeer } from './peer-read.js';
import { fetchObject } from './model-state.js';
import { Stopped } from './retry.js';
import type { Node } from './node.js';

/** Just what peer reads use of a node. */
function fakeNode(signal = new AbortController().signal): Node & { lines: string[]; down: number } {
  const lines: string[] = [];
  const n = {
    signal, lines, down: 0,
    run: { blocksPerWindow: 10 },
    log: (l: string) => { lines.push(l); },
    status: { addBytes: (_u: number, d: number) => { n.down += d; }, set: () => {}, note: () => {}, phase: 'idle' },
  };
  return n as unknown as Node & { lines: string[]; down: number };
}

function store(getRange: ReadOnlyStore['getRange']): ReadOnlyStore & { calls: number } {
  const s = {
    calls: 0,
    getRange: (...a: Parameters<ReadOnlyStore['getRange']>) => { s.calls++; return getRange(...a); },
    get: () => Promise.reject(new Error('unused')), head: () => Promise.resolve(null), list: () => Promise.resolve([]), close: () => {},
  };
  return s;
}

test('finding 2: a bucket that never answers (blackhole, ignoring its abort signal) costs one budget, not the window', async () => {
  const node = fakeNode(), s = store(() => new Promise(() => {}));
  const t0 = Date.now(), r = await readPeer(node, s, 'k', { cap: 100, budgetMs: 300 });
  const ms = Date.now() - t0;
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.why, 'timeout');
  assert.ok(ms >= 290 && ms < 1000, `took ${ms} ms`);
});

test('finding 2: temporary errors are retried only inside the budget; hard errors end the read at once', async () => {
  const node = fakeNode();
  const flaky = store(() => Promise.reject(new StorageError('transient', 'HTTP 503')));
  const t0 = Date.now(), r = await readPeer(node, flaky, 'k', { cap: 100, budgetMs: 500 });
  assert.equal(!r.ok && r.why, 'timeout');
  assert.ok(Date.now() - t0 < 1200 && flaky.calls >= 2, `${flaky.calls} calls in ${Date.now() - t0} ms`);
  assert.match(!r.ok ? r.detail : '', /HTTP 503/);
  for (const [err, why] of [[new StorageError('denied', 'HTTP 403 AccessDenied'), 'denied'], [new StorageError('no-bucket', 'NoSuchBucket'), 'denied'],
    [new StorageError('failed', 'wrong keys'), 'unreachable'], [new Error('bad certificate'), 'unreachable']] as const) {
    const hard = store(() => Promise.reject(err));
    const x = await readPeer(node, hard, 'k', { cap: 100, budgetMs: 5_000 });
    assert.equal(!x.ok && x.why, why, err.message);
    assert.equal(hard.calls, 1, 'no retry of a hard error');
  }
  const refused = store(() => Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' })));
  assert.equal((await readPeer(node, refused, 'k', { cap: 100, budgetMs: 400 })).ok, false);
});

test('finding 2: results, never exceptions — absent, oversized and good objects; only a stop throws', async () => {
  const node = fakeNode();
  assert.deepEqual(await readPeer(node, store(() => Promise.resolve(null)), 'k', { cap: 10 }), { ok: false, why: 'absent', detail: 'k is not in the bucket' });
  const big = await readPeer(node, store((_k, a, b) => Promise.resolve(new Uint8Array(b - a))), 'k', { cap: 10 });
  assert.equal(!big.ok && big.why, 'too_large');
  const cut = await readPeer(node, store(() => Promise.reject(new StorageError('too-large', 'body over the cap'))), 'k', { cap: 10 });
  assert.equal(!cut.ok && cut.why, 'too_large');
  let asked = -1;
  const good = await readPeer(node, store((_k, a, b) => { asked = b - a; return Promise.resolve(new Uint8Array(7)); }), 'k', { cap: 10 });
  assert.ok(good.ok && good.bytes.length === 7);
  assert.equal(asked, 11, 'asks for at most cap + 1 bytes');
  assert.equal(node.down, 7);
  const ctl = new AbortController(), stopping = fakeNode(ctl.signal);
  const p = readPeer(stopping, store(() => new Promise(() => {})), 'k', { cap: 10, budgetMs: 10_000 });
  setTimeout(() => ctl.abort(), 50);
  await assert.rejects(p, Stopped);
});

test('finding 2: fetchObject on a peer bucket logs the failure and reads it as missing', async () => {
  const node = fakeNode();
  const bytes = await fetchObject(node, store(() => Promise.reject(new StorageError('denied', 'HTTP 403'))), 'tessera/x.json', 100, 1_000);
  assert.equal(bytes, null);
  assert.match(node.lines.join('\n'), /cannot read tessera\/x\.json: bucket denied/);
});

test('mapPool keeps item order and the concurrency bound', async () => {
  let inFlight = 0, peak = 0;
  const out = await mapPool([5, 1, 4, 2, 3, 0], 3, async (x) => {
    inFlight++; peak = Math.max(peak, inFlight);
    await new Promise((r) => setTimeout(r, x * 5));
    inFlight--;
    return x * 10;
  });
  assert.deepEqual(out, [50, 10, 40, 20, 30, 0]);
  assert.equal(peak, 3);
  assert.deepEqual(await mapPool([], 4, async (x: number) => x), []);
});

test('an outage on this side (its own bucket does not answer either) is waited out, never scored against the peer', async () => {
  const node = fakeNode(), t0 = Date.now(), down = (): boolean => Date.now() - t0 < 700;
  (node as unknown as { store: Pick<ReadOnlyStore, 'head'> }).store = {
    head: () => (down() ? Promise.reject(new StorageError('transient', 'connect ECONNREFUSED (own gateway)')) : Promise.resolve(null)),
  };
  const shared = store(() => (down() ? Promise.reject(new StorageError('transient', 'connect ECONNREFUSED')) : Promise.resolve(new Uint8Array(3))));
  const r = await readPeer(node, shared, 'k', { cap: 10, budgetMs: 200 });
  assert.ok(r.ok, `read after the outage: ${JSON.stringify(r)}`);
  assert.ok(Date.now() - t0 >= 700);
  assert.match(node.lines.join('\n'), /storage unreachable from this node/);
  // Own bucket fine, peer down: the peer's failure, within its budget.
  const dead = store(() => Promise.reject(new StorageError('transient', 'connect ECONNREFUSED')));
  const t1 = Date.now(), x = await readPeer(node, dead, 'k', { cap: 10, budgetMs: 200 });
  assert.equal(!x.ok && x.why, 'timeout');
  assert.ok(Date.now() - t1 < 1000);
});

test('a gateway restart during a read: a peer on this node\'s own storage service is read again once the service is back, not blamed', async () => {
  const refusedErr = (): Error => Object.assign(new Error('connect ECONNREFUSED 10.0.0.2:7480'), { code: 'ECONNREFUSED' });
  let downUntil = 0;
  const gateway = (endpoint: string): ReadOnlyStore & { calls: number; endpoint: string } => Object.assign(
    store(() => (Date.now() < downUntil ? Promise.reject(refusedErr()) : Promise.resolve(new Uint8Array(3)))), { endpoint });
  const node = fakeNode();
  // The node's own bucket is on the same gateway, and answers again by the time it is asked.
  (node as unknown as { store: unknown }).store = { endpoint: 'http://10.0.0.2:7480', head: () => Promise.resolve(null) };
  downUntil = Date.now() + 350;
  const r = await readPeer(node, gateway('http://10.0.0.2:7480'), 'k', { cap: 10, budgetMs: 200 });
  assert.equal(r.ok, true, JSON.stringify(r));
  // A peer on its own endpoint that refuses connections is its own failure: blamed after one budget.
  downUntil = Date.now() + 10_000;
  const elsewhere = gateway('http://10.0.0.9:9000');
  const t0 = Date.now(), x = await readPeer(node, elsewhere, 'k', { cap: 10, budgetMs: 200 });
  assert.equal(x.ok, false);
  assert.ok(Date.now() - t0 < 600, `blamed after ${Date.now() - t0} ms`);
});

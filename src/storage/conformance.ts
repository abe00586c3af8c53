// THE conformance suite for ObjectStore implementations (architecture habit 6): one set of node:test
// tests, run against every store kind on a real backend (a folder, a real Ceph RGW), never mocks.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseDescriptor, serializeDescriptor } from './descriptor.js';
import { compareKeys } from './keys.js';
import { openPeerStore, openStore } from './open.js';
import { DEVNET_PEER_POLICY } from './policy.js';
import { withRetry } from './retry.js';
import type { ObjectStore, ReadOnlyStore, StoreDescriptor, StoreTuning } from './types.js';
import { isTransient, StorageError, type StorageErrorCode } from './types.js';

export interface NodeDescriptors {
  /** Private: the node's own bucket, writable. */
  write: StoreDescriptor;
  /** Published: read-only access to the same bucket. */
  read: StoreDescriptor;
}

export interface StoreFixture {
  /** A new node whose bucket exists (empty). */
  newNode(name: string): Promise<NodeDescriptors>;
  /** Writable credentials for a bucket that does not exist (yet). */
  missingBucket(): Promise<StoreDescriptor>;
  /** The best attempt node `a` can make at writing node `b`'s bucket (S3: a's write keys, b's bucket). */
  crossWrite(a: NodeDescriptors, b: NodeDescriptors): StoreDescriptor;
  /** A descriptor whose server does not answer; omit for kinds without a network. */
  unreachable?(): StoreDescriptor;
  tuning?: StoreTuning;
  /** Keys written for the pagination test (default 1001: past S3's 1000-key page; >= 100). */
  paginationKeys?: number;
}

const MiB = 1 << 20;

/** Registers the suite under `describe(title)`; `skip` (a reason) makes every test a visible skip. */
export function storeConformance(title: string, fixture: StoreFixture, opts: { skip?: string } = {}): void {
  describe(title, { skip: opts.skip ?? false }, () => {
    let a: NodeDescriptors;
    let b: NodeDescriptors;
    let w: ObjectStore;
    let r: ReadOnlyStore;
    const opened: ReadOnlyStore[] = [];
    function open(d: StoreDescriptor, mode: 'write', tuning?: StoreTuning): ObjectStore;
    function open(d: StoreDescriptor, mode: 'read', tuning?: StoreTuning): ReadOnlyStore;
    function open(d: StoreDescriptor, mode: 'read' | 'write', tuning?: StoreTuning): ReadOnlyStore {
      const t = { ...fixture.tuning, ...tuning };
      const s = mode === 'write' ? openStore(d, 'write', t) : openStore(d, 'read', t);
      opened.push(s);
      return s;
    }

    before(async () => {
      a = await fixture.newNode('conf-a');
      b = await fixture.newNode('conf-b');
      w = open(a.write, 'write');
      r = open(parseDescriptor(serializeDescriptor(a.read)), 'read'); // as a peer gets it from the chain
    });
    after(() => opened.forEach((s) => s.close()));

    test('put, get and head round-trip bytes; keys may hold / and unicode; readers see them', async () => {
      const objects: [string, Uint8Array][] = [
        ['rt/a.bin', bytesOf(1000, 1)], ['rt/dir/sub/b.bin', bytesOf(70_000, 2)],
        ['rt/ü ☃ 😀.bin', bytesOf(10, 3)], ['rt/empty', new Uint8Array(0)],
      ];
      for (const [k, v] of objects) await w.put(k, v);
      for (const [k, v] of objects) {
        assertBytes(await w.get(k), v, k);
        assertBytes(await r.get(k), v, `${k} via the read descriptor`);
        const h = await r.head(k);
        assert.equal(h?.size, v.length, k);
        if (h?.etag !== undefined) assert.equal(typeof h.etag, 'string');
      }
    });

    test('missing keys read as null; deleting a missing key is fine', async () => {
      assert.equal(await w.get('nope/x'), null);
      assert.equal(await r.get('nope/x'), null);
      assert.equal(await w.getRange('nope/x', 0, 10), null);
      assert.equal(await w.head('nope/x'), null);
      await w.delete('nope/x');
      await w.put('fold/x', bytesOf(3, 4));
      assert.equal(await w.get('fold'), null, "'fold' is only a prefix of 'fold/x'");
      assert.equal(await w.head('fold'), null);
    });

    test('getRange returns [start, end) clipped to the object', async () => {
      const v = bytesOf(1000, 5);
      await w.put('range/obj', v);
      assertBytes(await w.getRange('range/obj', 0, 10), v.subarray(0, 10));
      assertBytes(await r.getRange('range/obj', 990, 1000), v.subarray(990));
      assertBytes(await w.getRange('range/obj', 500, 2000), v.subarray(500));
      assertBytes(await w.getRange('range/obj', 10, 10), new Uint8Array(0));
      assertBytes(await w.getRange('range/obj', 1000, 1010), new Uint8Array(0));
      assertBytes(await w.getRange('range/obj', 5000, 6000), new Uint8Array(0));
      await assert.rejects(w.getRange('range/obj', 5, 4), RangeError);
      await assert.rejects(w.getRange('range/obj', -1, 4), RangeError);
    });

    test('list returns every key under a string prefix, in UTF-8 byte order', async () => {
      const keys = ['ls/a/1', 'ls/a/10', 'ls/a/2', 'ls/ab', 'ls/b/x/y', 'ls/\u{1F600}', 'ls/\uFFFD'];
      for (const k of [...keys].reverse()) await w.put(k, bytesOf(1, 6));
      const sorted = [...keys].sort(compareKeys);
      assert.deepEqual(sorted.slice(-2), ['ls/\uFFFD', 'ls/\u{1F600}'], 'byte order differs from JS string order here');
      assert.deepEqual(await w.list('ls/'), sorted);
      assert.deepEqual(await r.list('ls/'), sorted);
      assert.deepEqual(await w.list('ls/a'), ['ls/a/1', 'ls/a/10', 'ls/a/2', 'ls/ab']);
      assert.deepEqual(await w.list('ls/a/'), ['ls/a/1', 'ls/a/10', 'ls/a/2']);
      assert.deepEqual(await w.list('ls/b/x/'), ['ls/b/x/y']);
      assert.deepEqual(await w.list('ls/zzz'), []);
      assert.ok((await w.list()).includes('ls/ab'), 'list() with no prefix lists the bucket');
    });

    test('list follows pagination (past 1000 keys, and with a small page size)', async () => {
      const n = fixture.paginationKeys ?? 1001;
      const keys = Array.from({ length: n }, (_, i) => `many/k${String(i).padStart(4, '0')}`);
      await pool(keys, 16, (k) => w.put(k, bytesOf(4, 7)));
      assert.deepEqual(await w.list('many/'), keys);
      assert.deepEqual(await open(a.read, 'read', { listPageSize: 7 }).list('many/k00'), keys.slice(0, 100));
      assert.deepEqual(await open(a.read, 'write', { listPageSize: 100 }).list('many/'), keys);
    });

    test('put overwrites; ifNoneMatch refuses an existing key and keeps its content', async () => {
      await w.put('imm/k', bytesOf(100, 8));
      const h1 = await w.head('imm/k');
      await w.put('imm/k', bytesOf(120, 9));
      assertBytes(await w.get('imm/k'), bytesOf(120, 9));
      const h2 = await w.head('imm/k');
      if (h1?.etag !== undefined && h2?.etag !== undefined) assert.notEqual(h1.etag, h2.etag, 'etag changes with content');
      await rejectsWith(w.put('imm/k', bytesOf(50, 10), { ifNoneMatch: true }), 'exists');
      assertBytes(await w.get('imm/k'), bytesOf(120, 9));
      await w.put('imm/new', bytesOf(50, 11), { ifNoneMatch: true });
      assertBytes(await w.get('imm/new'), bytesOf(50, 11));
    });

    test('concurrent ifNoneMatch writers: exactly one wins', async () => {
      for (let round = 0; round < 3; round++) {
        const key = `race/${round}`;
        const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) =>
          w.put(key, bytesOf(200_000 + i, 100 + i), { ifNoneMatch: true })));
        const won = results.flatMap((res, i) => (res.status === 'fulfilled' ? [i] : []));
        assert.equal(won.length, 1, `round ${round}: winners ${won}`);
        for (const res of results) {
          if (res.status === 'rejected') assert.equal((res.reason as StorageError).code, 'exists', String(res.reason));
        }
        assertBytes(await w.get(key), bytesOf(200_000 + won[0]!, 100 + won[0]!));
      }
    });

    test('readers see the old or the new object, never a part', async () => {
      const va = new Uint8Array(2 * MiB).fill(1);
      const vb = new Uint8Array(3 * MiB).fill(2);
      await w.put('atomic/k', va);
      let stop = false;
      const reader = (async () => {
        let reads = 0;
        while (!stop || reads === 0) {
          const got = await r.get('atomic/k');
          assert.ok(got !== null);
          const ok = (got.length === va.length && got.every((x) => x === 1)) || (got.length === vb.length && got.every((x) => x === 2));
          assert.ok(ok, `torn read: ${got.length} bytes`);
          reads++;
        }
        return reads;
      })();
      try {
        for (let i = 0; i < 6; i++) await w.put('atomic/k', i % 2 ? va : vb);
      } finally {
        stop = true;
      }
      assert.ok((await reader) > 0);
    });

    test('delete removes from get, head and list; the key can be written again', async () => {
      for (const k of ['del/x', 'del/y', 'del/deep/z']) await w.put(k, bytesOf(10, 12));
      await w.delete('del/x');
      await w.delete('del/deep/z');
      assert.equal(await w.get('del/x'), null);
      assert.equal(await r.head('del/x'), null);
      assert.deepEqual(await w.list('del/'), ['del/y']);
      await w.put('del/x', bytesOf(10, 13), { ifNoneMatch: true });
      await w.put('del/deep', bytesOf(10, 14)); // where a folder of keys was, an object now fits
      assert.deepEqual(await r.list('del/'), ['del/deep', 'del/x', 'del/y']);
    });

    test('putLarge stores objects over 10 MiB (multipart) and small ones', async (t) => {
      const big = bytesOf(12 * MiB + 12_345, 15);
      const t0 = performance.now();
      await w.putLarge('large/big', big);
      const ms = performance.now() - t0;
      assert.equal((await w.head('large/big'))?.size, big.length);
      assertBytes(await r.get('large/big'), big, 'large/big');
      const edge = 5 * MiB;
      assertBytes(await r.getRange('large/big', edge - 10, edge + 10), big.subarray(edge - 10, edge + 10));
      await w.putLarge('large/small', bytesOf(100, 16));
      assertBytes(await w.get('large/small'), bytesOf(100, 16));
      t.diagnostic(`putLarge 12 MiB: ${ms.toFixed(0)} ms`);
    });

    test('read options: get maxBytes, list maxKeys/maxBytes, an aborted signal; a devnet peer store reads', async () => {
      await w.put('cap/a', bytesOf(1000, 30));
      await w.put('cap/b', bytesOf(10, 31));
      await w.put('cap/c', bytesOf(10, 32));
      const peer = openPeerStore(serializeDescriptor(a.read), DEVNET_PEER_POLICY, { tuning: fixture.tuning ?? {} });
      opened.push(peer);
      for (const s of [r, peer]) {
        assertBytes(await s.get('cap/a', { maxBytes: 1000 }), bytesOf(1000, 30));
        await rejectsWith(s.get('cap/a', { maxBytes: 999 }), 'too-large');
        await rejectsWith(s.get('cap/a', { maxBytes: 0 }), 'too-large');
        assert.equal(await s.get('cap/missing', { maxBytes: 1 }), null);
        assertBytes(await s.getRange('cap/a', 10, 20, {}), bytesOf(1000, 30).subarray(10, 20));
        assert.deepEqual(await s.list('cap/', { maxKeys: 3 }), ['cap/a', 'cap/b', 'cap/c']);
        await rejectsWith(s.list('cap/', { maxKeys: 2 }), 'too-large');
        await rejectsWith(s.list('cap/', { maxBytes: 2 }), 'too-large');
        const gone = AbortSignal.abort();
        await rejectsWith(s.get('cap/a', { signal: gone }), 'aborted');
        await rejectsWith(s.getRange('cap/a', 0, 5, { signal: gone }), 'aborted');
        await rejectsWith(s.head('cap/a', { signal: gone }), 'aborted');
        await rejectsWith(s.list('cap/', { signal: gone }), 'aborted');
        assert.equal((await s.head('cap/b', { signal: new AbortController().signal }))?.size, 10);
      }
    });

    test('invalid keys are refused before any I/O', async () => {
      for (const k of ['', '/abs', 'a/../b', '..', 'a//b', 'a/', './a', 'a\\b', 'nul\0', '.tessera-tmp/x']) {
        await rejectsWith(w.put(k, bytesOf(1, 17)), 'invalid-key');
        await rejectsWith(w.get(k), 'invalid-key');
        await rejectsWith(w.delete(k), 'invalid-key');
      }
      await rejectsWith(w.list('../'), 'invalid-key');
    });

    test('a missing bucket is an error, not an empty result', async () => {
      const s = open(await fixture.missingBucket(), 'write');
      await rejectsWith(s.get('k'), 'no-bucket');
      await rejectsWith(s.head('k'), 'no-bucket');
      await rejectsWith(s.getRange('k', 0, 5), 'no-bucket');
      await rejectsWith(s.list(''), 'no-bucket');
      await rejectsWith(s.put('k', bytesOf(3, 18)), 'no-bucket');
      await rejectsWith(s.delete('k'), 'no-bucket');
      await s.ensureBucket();
      await s.ensureBucket(); // idempotent
      assert.deepEqual(await s.list(''), []);
    });

    test('the published read descriptor can read but not write or delete', async () => {
      await w.put('acl/x', bytesOf(30, 19));
      const ro = open(parseDescriptor(serializeDescriptor(a.read)), 'write'); // read credentials, tried for writing
      await rejectsWith(ro.put('acl/y', bytesOf(3, 20)), 'denied');
      await rejectsWith(ro.put('acl/x', bytesOf(3, 20)), 'denied');
      await rejectsWith(ro.put('acl/z', bytesOf(3, 20), { ifNoneMatch: true }), 'denied');
      await rejectsWith(ro.putLarge('acl/big', bytesOf(6 * MiB, 21)), 'denied');
      await rejectsWith(ro.delete('acl/x'), 'denied');
      assertBytes(await ro.get('acl/x'), bytesOf(30, 19));
      assertBytes(await w.get('acl/x'), bytesOf(30, 19));
      assert.equal(await w.head('acl/y'), null);
      assert.deepEqual(await w.list('acl/'), ['acl/x']);
      // a 'read' handle has no write methods at all, even when opened from a write descriptor
      for (const view of [r, open(a.write, 'read')]) {
        assert.equal((view as unknown as Record<string, unknown>).put, undefined);
        assert.equal((view as unknown as Record<string, unknown>).delete, undefined);
      }
    });

    test("node A's credentials cannot write or delete in node B's bucket", async () => {
      const bw = open(b.write, 'write');
      await bw.put('x/1', bytesOf(40, 22));
      const cross = open(fixture.crossWrite(a, b), 'write');
      await rejectsWith(cross.put('x/2', bytesOf(3, 23)), 'denied');
      await rejectsWith(cross.put('x/1', bytesOf(3, 23)), 'denied');
      await rejectsWith(cross.delete('x/1'), 'denied');
      assertBytes(await open(b.read, 'read').get('x/1'), bytesOf(40, 22));
      assert.deepEqual(await bw.list('x/'), ['x/1']);
      assert.deepEqual(await w.list('x/'), [], "b's objects did not land in a's bucket");
    });

    test('descriptors round-trip through their on-chain string', () => {
      for (const d of [a.write, a.read, b.read]) assert.deepEqual(parseDescriptor(serializeDescriptor(d)), d);
    });

    test('network failures are transient and retried', { skip: fixture.unreachable ? false : 'no network in this store kind' }, async () => {
      const s = open(fixture.unreachable!(), 'read');
      let calls = 0;
      await assert.rejects(withRetry(() => { calls++; return s.get('k'); }, { attempts: 3, baseMs: 1 }), (e) => {
        assert.ok(isTransient(e), String(e));
        return true;
      });
      assert.equal(calls, 3);
    });
  });
}

/** Deterministic bytes (xorshift32), so expected values can be rebuilt instead of stored. */
export function bytesOf(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 255;
  }
  return out;
}

function assertBytes(got: Uint8Array | null, want: Uint8Array, what = 'bytes'): void {
  assert.ok(got !== null, `${what}: got null`);
  assert.equal(got.length, want.length, `${what}: length`);
  assert.ok(Buffer.from(got.buffer, got.byteOffset, got.length).equals(Buffer.from(want.buffer, want.byteOffset, want.length)),
    `${what}: content differs`);
}

async function rejectsWith(p: Promise<unknown>, code: StorageErrorCode): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof StorageError, `expected a StorageError '${code}', got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.ok(e.hint, 'storage errors carry a hint');
    return true;
  });
}

async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    for (let i = next++; i < items.length; i = next++) await fn(items[i]!);
  }));
}

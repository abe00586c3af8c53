// Published datasets on real filesystem buckets: publish to two mirrors (and resume a killed publish
// without re-uploading what is there), fetch only the chunks a window's sequences touch, verify every
// chunk, fail over from a mirror whose shard bytes were altered (event logged, no altered token used),
// refuse when no mirror serves verified bytes, keep a bounded cache that a restart reuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keys } from '../protocol/keys.js';
import { fsNodeDescriptors, openStore, type ObjectStore } from '../storage/index.js';
import { defaultCorpus } from './corpus.js';
import { chunkCount, datasetHash, indexDataset } from './dataset-index.js';
import { loadDataset, prepareData } from './prepare.js';
import { publishDataset, type PublishTarget } from './publish.js';
import { fetchIndex, RemoteDataset, type DataMirror } from './remote.js';
import { sampleWindows } from './sampler.js';

const CHUNK = 256, SEQ = 32;

async function fixture(root: string): Promise<string> {
  const text = defaultCorpus().join('\n\n').slice(0, 150_000);
  const docs = join(root, 'corpus');
  rmSync(docs, { recursive: true, force: true });
  mkdirSync(docs);
  for (let i = 0; i < 10; i++) writeFileSync(join(docs, `p${i}.txt`), text.slice(i * 15_000, (i + 1) * 15_000));
  const out = join(root, 'data');
  await prepareData({ inputs: [docs], outDir: out, vocabSize: 300, valFraction: 0.1, shardTokens: 9000 });
  return out;
}

const target = (root: string, name: string, wrap?: (s: ObjectStore) => ObjectStore): PublishTarget & { read: DataMirror } => {
  const d = fsNodeDescriptors(join(root, 'mirrors', name));
  const store = openStore(d.write, 'write');
  return { name, descriptor: d.write, store: wrap ? wrap(store) : store, read: { name, store: openStore(d.read, 'read') } };
};

test('publish, resume, ranged verified fetch, mirror failover, bounded cache across restarts', { timeout: 60_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'tessera-remote-'));
  const logs: string[] = [];
  try {
    const dir = await fixture(root);
    const local = loadDataset(dir);
    const ix = indexDataset(dir, CHUNK);
    assert.ok(ix.index.train.shards.length >= 4, `train shards: ${ix.index.train.shards.length}`);
    assert.equal(ix.hash, datasetHash(ix.index));

    // A publish killed after 3 uploads, then resumed: nothing uploaded twice.
    let puts = 0;
    const killing = (s: ObjectStore): ObjectStore => ({
      ...s, get: s.get.bind(s), getRange: s.getRange.bind(s), head: s.head.bind(s), list: s.list.bind(s), close: s.close.bind(s), delete: s.delete.bind(s), ensureBucket: s.ensureBucket.bind(s),
      put: async (k, b, o) => { if (++puts > 3) throw new Error('killed'); return s.put(k, b, o); },
      putLarge: async (k, b) => { if (++puts > 3) throw new Error('killed'); return s.putLarge(k, b); },
    });
    const a0 = target(root, 'a', killing);
    await assert.rejects(publishDataset(dir, [a0], { chunkTokens: CHUNK }), /killed/);
    const a = target(root, 'a'), b = target(root, 'b');
    const r = await publishDataset(dir, [a, b], { chunkTokens: CHUNK });
    const objects = 2 + 2 * (ix.index.train.shards.length + ix.index.val.shards.length);
    assert.equal(r.hash, ix.hash);
    assert.deepEqual([r.mirrors[0]!.uploaded, r.mirrors[0]!.skipped], [objects - 3, 3], 'mirror a resumed after the kill');
    assert.equal(r.mirrors[1]!.uploaded, objects);
    const again = await publishDataset(dir, [a, b], { chunkTokens: CHUNK });
    assert.deepEqual(again.mirrors.map((m) => m.uploaded), [0, 0], 'a second publish uploads nothing');
    assert.deepEqual(await fetchIndex(ix.hash, [a.read]), ix.index);

    // Alter one shard on mirror a: a byte in its chunk 3.
    const victim = ix.index.train.shards[1]!;
    const path = join(root, 'mirrors', 'a', keys.dataset(ix.hash, victim.file));
    const bytes = readFileSync(path);
    const at = 32 + 3 * CHUNK * 2 + 10;
    bytes[at] ^= 0xff;
    writeFileSync(path, bytes);

    const cacheDir = join(root, 'cache');
    const open = (mirrors: DataMirror[], cacheBytes = 1 << 30): Promise<RemoteDataset> =>
      RemoteDataset.open({ index: ix.index, hash: ix.hash, mirrors, cacheDir, cacheBytes, log: (l) => logs.push(l) });
    const ds = await open([a.read, b.read]);
    const n = local.train.length;
    // One "window": 16 sequences, plus one placed on the altered chunk.
    const start1 = ix.index.train.shards[0]!.tokens;
    const offsets = [...sampleWindows(7, 1, 0, 16, n, SEQ), start1 + 3 * CHUNK + 2];
    assert.equal(ds.hasSequences(offsets, SEQ), false);
    await ds.ensureSequences(offsets, SEQ);
    assert.equal(ds.hasSequences(offsets, SEQ), true);
    for (const o of offsets) assert.deepEqual(ds.train.subarray(o, o + SEQ + 1), local.train.subarray(o, o + SEQ + 1), `tokens at ${o}`);
    assert.ok(ds.events.some((e) => e.includes('mirror a') && e.includes(`${victim.file} chunk 3`) && e.includes('does not match')), ds.events.join('\n'));
    assert.equal(ds.stats.badReads, 1);
    const chunks = ix.index.train.shards.reduce((k, s) => k + chunkCount(s.tokens, CHUNK), 0);
    assert.ok(ds.stats.fetchedChunks <= 2 * offsets.length && ds.stats.fetchedChunks < chunks / 2, `${ds.stats.fetchedChunks} of ${chunks} chunks`);
    const trainBytes = ix.index.train.shards.reduce((k, s) => k + s.bytes, 0);
    assert.ok(ds.stats.fetchedBytes < trainBytes / 2, `fetched ${ds.stats.fetchedBytes} of ${trainBytes} bytes`);

    // A restart: the same window comes from the disk cache, nothing from the mirrors.
    const again2 = await open([a.read, b.read]);
    await again2.ensureSequences(offsets, SEQ);
    assert.equal(again2.stats.fetchedBytes, 0);
    assert.equal(again2.stats.cacheHits, ds.stats.fetchedChunks);
    for (const o of offsets) assert.deepEqual(again2.train.subarray(o, o + SEQ + 1), local.train.subarray(o, o + SEQ + 1));

    // Only the altered mirror, a fresh cache: the chunk is refused, never used.
    const lone = await RemoteDataset.open({ index: ix.index, hash: ix.hash, mirrors: [a.read], cacheDir: join(root, 'cache2'), cacheBytes: 1 << 30 });
    const bad = [start1 + 3 * CHUNK + 2];
    await assert.rejects(lone.ensureSequences(bad, SEQ), /cannot fetch a verified copy of .* chunk 3/);
    assert.equal(lone.hasSequences(bad, SEQ), false);
    assert.ok(lone.train.subarray(bad[0]!, bad[0]! + SEQ).every((t) => t === 0), 'no byte of the altered chunk reached the token array');

    // A cache file altered on disk is detected and fetched again; the bound holds.
    const small = await RemoteDataset.open({ index: ix.index, hash: ix.hash, mirrors: [b.read], cacheDir: join(root, 'cache3'), cacheBytes: 4 * CHUNK * 2 });
    await small.ensureSequences(sampleWindows(7, 2, 0, 12, n, SEQ), SEQ);
    assert.ok(small.cache.stats.bytes <= 4 * CHUNK * 2 && small.cache.stats.evicted > 0, JSON.stringify(small.cache.stats));
  } catch (e) {
    process.stderr.write(logs.join('\n') + '\n');
    throw e;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a corrupted cache entry is dropped and refetched', { timeout: 30_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'tessera-remote-'));
  try {
    const dir = await fixture(root);
    const ix = indexDataset(dir, CHUNK);
    const m = target(root, 'm');
    await publishDataset(dir, [m], { chunkTokens: CHUNK });
    const cacheDir = join(root, 'cache');
    const o = { index: ix.index, hash: ix.hash, mirrors: [m.read], cacheDir, cacheBytes: 1 << 30 };
    const first = await RemoteDataset.open(o);
    await first.ensureSequences([5], SEQ);
    const file = join(cacheDir, ix.hash.slice(0, 16), 'chunks', `${ix.index.train.shards[0]!.file}.0`);
    const b = readFileSync(file); b[0] ^= 1; writeFileSync(file, b);
    const second = await RemoteDataset.open(o);
    await second.ensureSequences([5], SEQ);
    assert.equal(second.cache.stats.corrupt, 1);
    assert.equal(second.stats.fetchedChunks, 1);
    assert.deepEqual(second.train.subarray(5, 5 + SEQ + 1), loadDataset(dir).train.subarray(5, 5 + SEQ + 1));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

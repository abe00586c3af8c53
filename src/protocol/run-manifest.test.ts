// The run manifest and run pointer as untrusted bytes; the dataset index's chunk arithmetic against
// a direct computation; the run hash covering the data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { CODEC_DEFAULTS } from '../compress/index.js';
import { chunkRange, chunkTable, datasetHash, SHARD_HEADER_BYTES, type DatasetIndex } from '../data/index.js';
import { getPreset } from '../model/index.js';
import { encodeManifest, encodeRecord, keys, manifestSha256, parseManifest, parseRecord, runHash, type RunConfig } from './index.js';

const shard = (file: string, tokens: number) => ({ file, tokens, bytes: SHARD_HEADER_BYTES + 2 * tokens, sha256: 'a'.repeat(64), chunksSha256: 'b'.repeat(64) });
const index: DatasetIndex = {
  format: 'tessera-dataset', version: 1,
  tokenizer: { file: 'tokenizer.json', hash: 'c'.repeat(64), sha256: 'd'.repeat(64), bytes: 100, vocabSize: 300, eotId: 0 },
  dtype: 'uint16', chunkTokens: 100, sampler: 'tessera/sample/v1',
  train: { tokens: 350, shards: [shard('train_000.bin', 250), shard('train_001.bin', 100)] },
  val: { tokens: 50, shards: [shard('val_000.bin', 50)] },
  stats: { unigramEntropyNats: 5, valUnigramCrossEntropyNats: 5.1, bytesPerToken: 3 },
};
const run: RunConfig = {
  runId: 'r1', model: { ...getPreset('tiny'), vocabSize: 300 }, blocksPerWindow: 8, deadlineS: 1, innerSteps: 2, batch: 2, seq: 32, innerLr: 1e-3,
  warmup: 2, alpha: 1, codec: { ...CODEC_DEFAULTS }, indexMode: '12bit', checkpointEvery: 2, weightsEvery: 1, maxPeers: 4, seed: 1, dataHash: datasetHash(index),
};
const enc = (x: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(x));

test('run manifest: round trip, canonical bytes, and refusals', () => {
  const m = { format: 'tessera-run' as const, version: 1 as const, run, dataset: index, mirrors: ['{"v":1,"kind":"fs","path":"/x","readOnly":true}'] };
  const bytes = encodeManifest(m);
  assert.equal(manifestSha256(bytes), manifestSha256(encodeManifest({ mirrors: m.mirrors, dataset: index, run, version: 1, format: 'tessera-run' })), 'key order does not matter');
  const p = parseManifest(bytes);
  assert.ok(p.ok);
  assert.deepEqual(p.value, m);
  const other = { ...index, train: { ...index.train, shards: [{ ...index.train.shards[0]!, sha256: 'e'.repeat(64) }, index.train.shards[1]!] } };
  assert.match((parseManifest(enc({ ...m, dataset: other })) as { detail: string }).detail, /run\.dataHash .* is not the dataset's content hash/);
  assert.match((parseManifest(enc({ ...m, extra: 1 })) as { detail: string }).detail, /unknown field 'extra'/);
  assert.match((parseManifest(enc({ ...m, dataset: { ...index, train: { ...index.train, tokens: 351 } } })) as { detail: string }).detail, /split token count/);
  assert.match((parseManifest(enc({ ...m, dataset: { ...index, val: { tokens: 50, shards: [{ ...shard('../x', 50) }] } } })) as { detail: string }).detail, /file name/);
  assert.equal(parseManifest(new Uint8Array([0xff])).ok, false);
  // The run hash covers the data.
  assert.notEqual(runHash(run), runHash({ ...run, dataHash: datasetHash(other) }));
});

test('run pointer record and the start record with a manifest', () => {
  const ptr = encodeRecord({ kind: 'run', runId: 'r1', runHash: runHash(run), manifest: 'f'.repeat(64) });
  const r = parseRecord(ptr, 'run');
  assert.ok(r.ok && r.value.runId === 'r1');
  assert.equal(parseRecord(enc({ format: 'tessera', v: 1, kind: 'run', runId: '../r', runHash: runHash(run), manifest: 'f'.repeat(64) }), 'run').ok, false);
  const s = parseRecord(encodeRecord({ kind: 'start', window: 3, runHash: runHash(run), fingerprint: 'a'.repeat(64), manifest: 'f'.repeat(64) }), 'start');
  assert.ok(s.ok && s.value.manifest === 'f'.repeat(64));
  assert.equal(parseRecord(enc({ format: 'tessera', v: 1, kind: 'start', window: 3, runHash: runHash(run), fingerprint: 'a'.repeat(64), manifest: 'zz' }), 'start').ok, false);
  assert.equal(keys.dataset(datasetHash(index), 'train_000.bin'), `tessera/datasets/${datasetHash(index)}/train_000.bin`);
  assert.throws(() => keys.dataset('x', 'a'), /64 hex/);
  assert.throws(() => keys.dataset(datasetHash(index), '../a'), /not allowed/);
});

test('chunk ranges and tables match a direct computation', () => {
  const s = index.train.shards[0]!;
  assert.deepEqual(chunkRange(index, s, 0), [32, 232]);
  assert.deepEqual(chunkRange(index, s, 2), [32 + 400, 32 + 500]); // the short last chunk: tokens 200..249
  assert.throws(() => chunkRange(index, s, 3), RangeError);
  const file = new Uint8Array(SHARD_HEADER_BYTES + 2 * 250).map((_, i) => (i * 7) & 0xff);
  const t = chunkTable(file, 250, 2, 100);
  assert.equal(t.length, 3 * 32);
  for (let c = 0; c < 3; c++) {
    const [a, b] = chunkRange(index, s, c);
    assert.deepEqual(Buffer.from(t.subarray(c * 32, (c + 1) * 32)), createHash('sha256').update(file.subarray(a, b)).digest());
  }
});

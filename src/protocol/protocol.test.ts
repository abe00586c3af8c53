// The pure rules: window math, the key builder, run identity, records (round trip and refusal of
// malformed ones), peer ranking, deterministic assignments, and the checkpoint object.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fingerprint } from '../compress/index.js';
import { getPreset, initParams, paramLayout } from '../model/index.js';
import { CODEC_DEFAULTS } from '../compress/index.js';
import {
  canonicalJson, decodeCheckpoint, deadlineBlockOf, encodeCheckpoint, encodeRecord, fillSlots, firstBlockOf, isLate, keys, leaderOf,
  minerUids, parseRecord, probeIndices, rankPeers, runHash, scoringOffsets, trainingOffsets, uploadDeadlineMs, windowOf, type AggregateRecord, type RunConfig,
} from './index.js';
import { checkKey } from '../storage/index.js';

const run: RunConfig = {
  runId: 'test-run', model: { ...getPreset('tiny'), vocabSize: 300 }, blocksPerWindow: 8, deadlineS: 1.5, innerSteps: 2, batch: 2, seq: 16,
  innerLr: 1e-3, warmup: 2, alpha: 0.7, codec: { ...CODEC_DEFAULTS, tile: 16, topk: 8 }, indexMode: '12bit', checkpointEvery: 2,
  weightsEvery: 1, maxPeers: 4, seed: 42,
};

test('window math', () => {
  assert.equal(windowOf(0, 8), 0);
  assert.equal(windowOf(7, 8), 0);
  assert.equal(windowOf(8, 8), 1);
  assert.equal(firstBlockOf(3, 8), 24);
  assert.equal(deadlineBlockOf(3, 8), 32);
  assert.equal(uploadDeadlineMs(1_000_000, 1.5), 1_001_500);
  assert.equal(isLate(1_001_500, 1_001_500), false);
  assert.equal(isLate(1_001_501, 1_001_500), true);
  assert.throws(() => windowOf(-1, 8), RangeError);
  assert.throws(() => windowOf(3, 0), RangeError);
  assert.throws(() => uploadDeadlineMs(0, -1), RangeError);
});

test('keys: one builder, versioned, scoped by run, valid for every store', () => {
  const all = [
    keys.gradient('r1', 12, 3), keys.probe('r1', 12, 3), keys.peers('r1', 12), keys.aggregate('r1', 12), keys.checkpoint('r1', 12),
    keys.latestCheckpoint('r1'), keys.startWindow('r1'), keys.receipt('r1', 12),
  ];
  assert.equal(keys.gradient('r1', 12, 3), 'tessera/v2/r1/gradients/0000000012/3.tslc');
  assert.equal(new Set(all).size, all.length);
  for (const k of all) { assert.ok(k.startsWith('tessera/v2/r1/'), k); checkKey(k); }
  assert.ok(keys.gradient('r1', 12, 3).startsWith(keys.gradients('r1', 12)));
  assert.notEqual(keys.aggregate('r1', 12), keys.aggregate('r2', 12));
  assert.ok(keys.aggregate('r1', 9) < keys.aggregate('r1', 10), 'listing order = window order');
  assert.throws(() => keys.gradient('../x', 1, 1), /run id/);
  assert.throws(() => keys.gradient('r1', -1, 1), RangeError);
  assert.throws(() => keys.gradient('r1', 1, 1.5), RangeError);
});

test('run hash: canonical, and any change of the run config changes it', () => {
  assert.equal(canonicalJson({ b: 1, a: [1, { d: 2, c: undefined }] }), '{"a":[1,{"d":2}],"b":1}');
  const reordered = Object.fromEntries(Object.entries(run).reverse()) as unknown as RunConfig;
  assert.equal(runHash(run), runHash(reordered));
  assert.match(runHash(run), /^[0-9a-f]{64}$/);
  assert.notEqual(runHash(run), runHash({ ...run, alpha: 0.8 }));
  assert.notEqual(runHash(run), runHash({ ...run, model: { ...run.model, dim: 128 } }));
  assert.notEqual(runHash(run), runHash({ ...run, runId: 'other' }));
});

test('records round-trip; malformed ones are refused with a reason', () => {
  const h = 'c'.repeat(64);
  const rec: AggregateRecord = { kind: 'aggregate', window: 5, uids: [1, 4], payloadSha256: [h, h], fingerprintBefore: h, fingerprintAfter: h };
  const back = parseRecord(encodeRecord(rec), 'aggregate');
  assert.ok(back.ok);
  assert.deepEqual(back.value, rec);
  const enc = (o: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(o));
  const bad: [unknown, string][] = [
    [{ format: 'tessera', v: 1, ...rec, uids: [4, 1] }, 'bad_record'],
    [{ format: 'tessera', v: 1, ...rec, payloadSha256: [h] }, 'bad_record'],
    [{ format: 'tessera', v: 1, ...rec, extra: 1 }, 'bad_record'],
    [{ format: 'tessera', v: 2, ...rec }, 'bad_record'],
    [{ format: 'tessera', v: 1, ...rec, kind: 'peers' }, 'bad_record'],
  ];
  for (const [o, reason] of bad) assert.equal((parseRecord(enc(o), 'aggregate') as { reason: string }).reason, reason, JSON.stringify(o));
  assert.equal((parseRecord(new TextEncoder().encode('{nope'), 'aggregate') as { reason: string }).reason, 'not_json');
  assert.equal((parseRecord(new Uint8Array([0xff, 0xfe]), 'aggregate') as { reason: string }).reason, 'not_json');
  assert.throws(() => encodeRecord({ ...rec, uids: [2, 2] }), RangeError);
  const peers = parseRecord(encodeRecord({ kind: 'peers', window: 1, peers: [3, 1], reserves: [2] }), 'peers');
  assert.ok(peers.ok);
  assert.equal((parseRecord(encodeRecord({ kind: 'peers', window: 1, peers: [3], reserves: [2] }).map((b) => b), 'start') as { ok: boolean }).ok, false);
});

test('leader, miners and peer ranking', () => {
  const m = { uids: [0, 1, 2, 3, 4], stake: [0, 500, 0, 500, 0], validatorPermit: [false, true, false, true, false] };
  assert.equal(leaderOf(m), 1, 'highest stake, ties → lower uid');
  assert.equal(leaderOf({ ...m, stake: [0, 0, 0, 0, 0], validatorPermit: [false, false, false, false, false] }), null);
  assert.deepEqual(minerUids(m, { 0: 'x', 1: 'y', 4: 'z' }), [0, 4]);
  const scores = new Map([[5, 0.2], [7, 0.9], [2, 0.2], [9, -0.1]]);
  const r = rankPeers([9, 2, 5, 7, 11, 3], scores, 2);
  assert.deepEqual(r.order, [7, 2, 5, 3, 11, 9], 'score desc, unscored = 0, ties by uid');
  assert.deepEqual(r.peers, [2, 7]);
  assert.deepEqual(r.reserves, [5]);
  assert.deepEqual(fillSlots(r.order, new Set([2, 5, 3]), 2), [2, 5], 'a reserve fills the slot of a peer without a valid upload');
});

test('assignments are deterministic and differ by uid and window', () => {
  const a = trainingOffsets(run, 3, 10, 10_000);
  assert.equal(a.length, run.innerSteps);
  assert.ok(a.every((b) => b.length === run.batch && b.every((o) => o >= 0 && o + run.seq + 1 <= 10_000)));
  assert.deepEqual(trainingOffsets(run, 3, 10, 10_000), a);
  assert.notDeepEqual(trainingOffsets(run, 4, 10, 10_000), a);
  assert.notDeepEqual(trainingOffsets(run, 3, 11, 10_000), a);
  assert.deepEqual(scoringOffsets(1, 5, 4, 1000, 16), scoringOffsets(1, 5, 4, 1000, 16));
  const p = probeIndices(3, 1000, 50);
  assert.equal(p.length, 50);
  assert.equal(new Set(p).size, 50);
  assert.deepEqual(p, [...p].sort((x, y) => x - y));
  assert.deepEqual(probeIndices(3, 1000, 50), p);
  assert.notDeepEqual(probeIndices(4, 1000, 50), p);
  assert.equal(probeIndices(1, 10, 50).length, 10);
});

test('checkpoint object: round trip; other runs and damaged bytes refused', () => {
  const layout = paramLayout(run.model);
  const params = new Float32Array(layout.total);
  initParams(run.model, layout, params, 1);
  const h = runHash(run);
  const bytes = encodeCheckpoint(layout, params, 9, h);
  const d = decodeCheckpoint(bytes, layout, h);
  assert.ok(d.ok);
  assert.equal(d.meta.window, 9);
  assert.equal(fingerprint(d.params), fingerprint(params));
  assert.equal(decodeCheckpoint(bytes, layout, 'f'.repeat(64)).ok, false);
  const damaged = Uint8Array.from(bytes);
  damaged[damaged.length - 5] ^= 1;
  const dd = decodeCheckpoint(damaged, layout, h);
  assert.ok(!dd.ok && /fingerprint/.test(dd.reason));
  assert.equal(decodeCheckpoint(bytes.subarray(0, 100), layout, h).ok, false);
  assert.equal(decodeCheckpoint(bytes, paramLayout({ ...run.model, dim: 32, nHeads: 2, nKvHeads: 1 }), h).ok, false);
});

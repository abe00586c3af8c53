// Index sketches and copy detection: a copy (any values, same kept positions) has overlap 1, distinct
// updates overlap little, the later uploader is the offender (ties → higher uid), and re-sending an
// old update — one's own or another's — is a copy too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compress, type CodecConfig, type SparseUpdate } from '../compress/index.js';
import { makeRng } from '../util/rng.js';
import { detectCopies, indexSketch, sketchOverlap, tensorCopyShare, tensorSketches, updateNorm } from './index.js';

const cfg: CodecConfig = { tile: 8, vectorChunk: 64, topk: 8, beta: 0.9 };
const specs = [{ offset: 0, shape: [32, 32] as [number, number] }, { offset: 1024, shape: [128] as [number] }];
const shapes = specs.map((s) => s.shape);
const N = 1024 + 128;

function update(seed: string): SparseUpdate {
  const rng = makeRng(seed);
  return compress(Float32Array.from({ length: N }, () => rng.normal()), new Float32Array(N), specs, cfg, 'ts');
}

test('update norm as the aggregator defines it', () => {
  const u: SparseUpdate = { tensors: [{ idx: Uint16Array.of(0, 1, 2), codes: Uint8Array.of(0, 3, 3), table: Float32Array.of(2, 0, 0, -1) }] };
  assert.equal(updateNorm(u), Math.sqrt(4 + 1 + 1));
});

test('sketches: equal index sets ⇒ equal sketches whatever the values; overlap estimates', () => {
  const a = update('a'), b = update('b');
  const scaled: SparseUpdate = { tensors: a.tensors.map((t) => ({ idx: t.idx, codes: t.codes, table: t.table.map((x) => -50 * x) })) };
  const sa = indexSketch(a, shapes, cfg, 64);
  assert.equal(sa.length, 64);
  assert.ok(sa.every((h, i) => i === 0 || h > sa[i - 1]!), 'ascending and distinct');
  assert.deepEqual(indexSketch(scaled, shapes, cfg, 64), sa);
  assert.equal(sketchOverlap(sa, sa), 1);
  const o = sketchOverlap(sa, indexSketch(b, shapes, cfg, 64));
  assert.ok(o < 0.3, `independent random updates overlap ${o}`);
  // Small sets (fewer kept values than the sketch holds) are compared exactly: 3 of 4 shared → J = 3/5.
  assert.equal(sketchOverlap([1, 2, 3, 4], [2, 3, 4, 9], 64), (2 * 0.6) / 1.6);
});

test('copy detection within a window: the data, then the record, then the own-data history decide — never the arrival alone', () => {
  const s1 = indexSketch(update('x'), shapes, cfg, 64), s2 = indexSketch(update('y'), shapes, cfg, 64);
  // Nothing but arrival order: nobody is penalized (a replay of deterministic training can land first).
  const r = detectCopies(10, [{ uid: 3, seen: 2000, sketch: s1 }, { uid: 1, seen: 1000, sketch: s1 }, { uid: 2, seen: 1000, sketch: s2 }], [], 0.5, 64);
  assert.deepEqual([...r.offenders.keys()], []);
  assert.deepEqual(r.undecided, [[1, 3]]);
  assert.equal(r.maxOverlap.get(1), 1, 'both show their overlap');
  // The copy record: more copy penalties so far is the copier, whoever came first.
  const record = detectCopies(10, [{ uid: 2, seen: 4, sketch: s1, record: 3 }, { uid: 5, seen: 9, sketch: s1, record: 0 }], [], 0.5, 64);
  assert.deepEqual([...record.offenders].map(([u, f]) => [u, f.source, f.by]), [[2, 5, 'record']]);
  // The own-data history: the lower indicator average is the copier.
  const hist = detectCopies(10, [{ uid: 2, seen: 4, sketch: s1, ma: 0.4 }, { uid: 5, seen: 9, sketch: s1, ma: 0.1 }], [], 0.5, 64);
  assert.deepEqual([...hist.offenders].map(([u, f]) => [u, f.source, f.by]), [[5, 2, 'history']]);
  // The data outranks both.
  const data = detectCopies(10, [{ uid: 2, seen: 4, sketch: s1, record: 3, ma: 0 }, { uid: 5, seen: 9, sketch: s1, ma: 1 }], [], 0.5, 64, () => ({ uid: 2, by: 'origin' }));
  assert.deepEqual([...data.offenders].map(([u, f]) => [u, f.by]), [[5, 'origin']]);
});

test('re-sending an old update (own or another miner\'s) is a copy of that window', () => {
  const old = indexSketch(update('old'), shapes, cfg, 64), fresh = indexSketch(update('fresh'), shapes, cfg, 64);
  const r = detectCopies(12, [{ uid: 4, seen: 5, sketch: old }, { uid: 5, seen: 6, sketch: fresh }], [{ uid: 4, window: 10, sketch: old }, { uid: 5, window: 11, sketch: indexSketch(update('prev'), shapes, cfg, 64) }], 0.5, 64);
  assert.deepEqual(r.offenders.get(4), { source: 4, sourceWindow: 10, overlap: 1, by: 'time' });
  assert.equal(r.offenders.has(5), false);
  const stolen = detectCopies(12, [{ uid: 6, seen: 1, sketch: old }], [{ uid: 4, window: 11, sketch: old }], 0.5, 64);
  assert.deepEqual(stolen.offenders.get(6), { source: 4, sourceWindow: 11, overlap: 1, by: 'time' });
});

test('between two uploads of one window the origin (by their data) is the original, whatever the arrival', () => {
  const s1 = indexSketch(update('x'), shapes, cfg, 64);
  const sightings = [{ uid: 3, seen: 1, sketch: s1 }, { uid: 4, seen: 9, sketch: s1 }];
  const r = detectCopies(10, sightings, [], 0.5, 64, (a, b) => ([a, b].includes(4) ? { uid: 4, by: 'origin' } : null));
  assert.deepEqual([...r.offenders], [[3, { source: 4, sourceWindow: 10, overlap: 1, by: 'origin' }]], 'uid 3 came first but copies uid 4');
  const unknown = detectCopies(10, sightings, [], 0.5, 64, () => null);
  assert.deepEqual([...unknown.offenders.keys()], [], 'no origin measured, no record or history: nobody');
  // An old upload is older whatever the data says.
  const old = detectCopies(12, [{ uid: 4, seen: 1, sketch: s1 }], [{ uid: 3, window: 11, sketch: s1 }], 0.5, 64, () => ({ uid: 4, by: 'origin' }));
  assert.equal(old.offenders.get(4)!.by, 'time');
});

test('tensor sketches: an upload stitched from whole tensors of others shares those tensors; independent uploads share none', () => {
  const specs4 = [0, 1, 2, 3].map((i) => ({ offset: i * 1024, shape: [32, 32] as [number, number] }));
  const shapes4 = specs4.map((s) => s.shape), n4 = 4 * 1024;
  const up = (seed: string): SparseUpdate => { const rng = makeRng(seed); return compress(Float32Array.from({ length: n4 }, () => rng.normal()), new Float32Array(n4), specs4, cfg, 'ts'); };
  const a = up('a'), b = up('b'), c = up('c'), own = up('own');
  const stitched: SparseUpdate = { tensors: [a.tensors[0]!, b.tensors[1]!, c.tensors[2]!, own.tensors[3]!] };
  const sk = (u: SparseUpdate): ReturnType<typeof tensorSketches> => tensorSketches(u, shapes4, cfg, 16);
  assert.ok(sk(a).every((t) => t.kept > 0 && t.sketch.length === 16));
  assert.equal(tensorCopyShare(sk(stitched), sk(a), 0.5, 16), 0.25, 'one of four equal tensors taken whole from a');
  assert.equal(tensorCopyShare(sk(a), sk(b), 0.5, 16), 0, 'independent uploads');
  assert.ok(sketchOverlap(indexSketch(stitched, shapes4, cfg, 64), indexSketch(a, shapes4, cfg, 64), 64) < 0.5, 'the whole-upload overlap misses it');
  // detectCopies counts such a pair as a copy although its whole overlap is under the threshold.
  const s1 = indexSketch(stitched, shapes4, cfg, 64), s2 = indexSketch(a, shapes4, cfg, 64);
  const r = detectCopies(3, [{ uid: 1, seen: 1, sketch: s2 }, { uid: 2, seen: 2, sketch: s1 }], [], 0.5, 64, () => ({ uid: 1, by: 'origin' }), () => true);
  assert.deepEqual([...r.offenders.keys()], [2]);
  assert.equal(r.offenders.get(2)!.by, 'origin');
  assert.equal(detectCopies(3, [{ uid: 1, seen: 1, sketch: s2 }, { uid: 2, seen: 2, sketch: s1 }], [], 0.5, 64).offenders.size, 0);
});

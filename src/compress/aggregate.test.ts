// Aggregation tests: hand-computed cases (overlap, disjoint, clipping, even-count median), an independent
// dense oracle built on geometry.flatIndex, TS vs native bits, input-order and thread-count independence.
// Run with TESSERA_AGG_CHILD=1 this file prints fingerprints of a fixed native aggregation (thread test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { aggregate, aggregateByUid, applyAggregate, fingerprint, lowerMedian, medianOf, outerStep, type AggregateOptions } from './aggregate.js';
import { chunksOf, flatIndex, keptTotal, type TensorShape } from './geometry.js';
import type { CodecConfig, SparseTensor, SparseUpdate } from './types.js';
import { loadNativeAddon, nativeLoadError } from '../engine/native.js';
import { makeRng } from '../util/rng.js';

const native = loadNativeAddon() as unknown as { aggregateApply?: unknown } | null;
const hasNative = !!native && typeof native.aggregateApply === 'function';
const IMPLS: AggregateOptions['impl'][] = ['ts', 'native'];
const skipNative = (impl: AggregateOptions['impl']) => impl === 'native' && !hasNative ? `native addon missing: ${nativeLoadError}` : false;

// The project's seeded generator (util/rng), so failures reproduce.
function rng(seed: number): () => number {
  const r = makeRng(seed);
  return () => r.nextFloat();
}

type Spec = { offset: number; shape: TensorShape };
function layout(shapes: TensorShape[]): { specs: Spec[]; total: number } {
  let offset = 0;
  const specs = shapes.map((shape) => { const s = { offset, shape }; offset += shape.reduce((a, b) => a * b, 1); return s; });
  return { specs, total: offset };
}

/** A random update straight from geometry: sorted random k-subsets per chunk, random codes and tables. */
function randomUpdate(specs: Spec[], cfg: CodecConfig, r: () => number): SparseUpdate {
  return {
    tensors: specs.map((s) => {
      const chunks = chunksOf(s.shape, cfg), n = keptTotal(chunks);
      const idx = new Uint16Array(n), codes = new Uint8Array(n);
      let v = 0;
      for (const ch of chunks) {
        const pool = Array.from({ length: ch.size }, (_, i) => i);
        for (let j = 0; j < ch.k; j++) { const x = j + Math.floor(r() * (ch.size - j)); [pool[j], pool[x]] = [pool[x]!, pool[j]!]; }
        idx.set(pool.slice(0, ch.k).sort((a, b) => a - b), v);
        for (let j = 0; j < ch.k; j++) codes[v + j] = Math.floor(r() * 4);
        v += ch.k;
      }
      const sc = 0.01 + r();
      return { idx, codes, table: Float32Array.from([-1.5 * sc, -0.5 * sc, 0.5 * sc, 1.5 * sc].map((x) => x * (0.5 + r()))) };
    }),
  };
}

/** Independent lower median (torch.median): sort ascending, take position ⌊(n − 1)/2⌋. */
const torchMedian = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? 0;

/**
 * Independent oracle: dense per-peer, per-tensor decode through flatIndex; each tensor clipped to the
 * lower median of the peers' norms of that tensor; float32 sums in peer order, float32 mean.
 */
function oracle(peers: SparseUpdate[], specs: Spec[], cfg: CodecConfig, total: number): Float32Array {
  const dense = peers.map((u) => {
    const d = new Float32Array(total), has = new Uint8Array(total), owner = new Int32Array(total).fill(-1);
    const norms = u.tensors.map((st, t) => {
      let v = 0, s2 = 0;
      const n = [0, 0, 0, 0];
      for (const ch of chunksOf(specs[t]!.shape, cfg))
        for (let j = 0; j < ch.k; j++, v++) {
          const f = specs[t]!.offset + flatIndex(ch, st.idx[v]!);
          d[f] = st.table[st.codes[v]!]!; has[f] = 1; owner[f] = t; n[st.codes[v]!]! += 1;
        }
      for (let b = 0; b < 4; b++) if (n[b]) s2 += n[b]! * st.table[b]! * st.table[b]!; // ‖·‖² by definition: Σ_b n_tb·table_tb²
      return Math.sqrt(s2);
    });
    return { d, has, owner, norms };
  });
  const med = specs.map((_, t) => torchMedian(dense.map((x) => x.norms[t]!)));
  const sum = new Float32Array(total), cnt = new Uint32Array(total);
  for (const { d, has, owner, norms } of dense) {
    const sc = norms.map((n, t) => (n > 0 ? Math.min(1, med[t]! / n) : 0));
    for (let i = 0; i < total; i++) if (has[i]) { sum[i] += Math.fround(d[i]! * sc[owner[i]!]!); cnt[i] += 1; }
  }
  return sum.map((s, i) => (cnt[i] ? s / cnt[i]! : 0));
}

const sameBits = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

// Hand case: tile 2, vector chunk 4, k = 2 per chunk; a vector [8] at 0 and a matrix [2,4] at 8.
const HCFG: CodecConfig = { tile: 2, vectorChunk: 4, topk: 2, beta: 0.95 };
const H = layout([[8], [2, 4]]);
const st = (idx: number[], codes: number[], table: number[]): SparseTensor =>
  ({ idx: Uint16Array.from(idx), codes: Uint8Array.from(codes), table: Float32Array.from(table) });
// Chunks: V0 = flat 0..3, V1 = 4..7; tile M0 local 0,1,2,3 → flat 8,9,12,13; tile M1 → 10,11,14,15.
const A: SparseUpdate = { tensors: [st([0, 2, 1, 3], [2, 1, 0, 1], [-1, 1, 3, 0]), st([0, 1, 2, 3], [1, 0, 1, 1], [-1, 1, 3, 0])] }; // ‖A‖ = √(12 + 4) = 4
const B: SparseUpdate = { tensors: [st([0, 1, 0, 1], [1, 0, 0, 0], [0, 2, 0, 0]), st([0, 1, 0, 1], [0, 0, 0, 0], [0, 2, 0, 0])] };  // ‖B‖ = √(4 + 0) = 2
const C: SparseUpdate = { tensors: [st([0, 3, 2, 3], [1, 0, 2, 2], [-4, 4, 0, 0]), st([1, 2, 0, 3], [0, 1, 2, 2], [-4, 4, 0, 0])] }; // ‖C‖ = √(32 + 32) = 8
const f = Math.fround;
// Per tensor (Templar's clip): vector norms √12, 2, √32 → median √12, C scaled by s = √(12/32);
// matrix norms 2, 0, √32 → median 2, C scaled by u = 2/√32, B (norm 0) by 0.
const sV = Math.sqrt(12) / Math.sqrt(32), uM = 2 / Math.sqrt(32);
/** Float32 mean of float32 values summed in order, as the aggregator computes it. */
const mean32 = (...v: number[]) => { let s = 0; for (const x of v) s = f(s + f(x)); return f(s / v.length); };
//                                 0  1  2              3  4     5  6    7    8                              9  10 11              12 13 14   15
const HAND = [mean32(3, 2, 4 * sV), 0, 1, -f(4 * sV), 0, -0.5, 0, 0.5, 0.5, mean32(-1, 0, -4 * uM), 0, 0, f(4 * uM), 0, 1, 0.5];

const child = !!process.env.TESSERA_AGG_CHILD;
const BIG = layout([[200, 130], [70], [64, 64], [5000], [129, 65]]);
const BCFG: CodecConfig = { tile: 16, vectorChunk: 256, topk: 8, beta: 0.95 };
const bigPeers = (): SparseUpdate[] => { const r = rng(42); return Array.from({ length: 9 }, () => randomUpdate(BIG.specs, BCFG, r)); };

if (child) {
  const out = new Float32Array(BIG.total), params = new Float32Array(BIG.total).map((_, i) => Math.sin(i));
  applyAggregate(params, bigPeers(), BIG.specs, BCFG, 0.7, out, { impl: 'native' });
  console.log(JSON.stringify({ threads: (loadNativeAddon() as { numThreads: number }).numThreads, out: fingerprint(out), params: fingerprint(params) }));
} else {
  for (const impl of IMPLS) {
    test(`hand-computed: overlap, disjoint, clipping, zero values count (${impl})`, { skip: skipNative(impl) }, () => {
      const out = new Float32Array(H.total).fill(NaN);
      const s = aggregate([A, B, C], H.specs, HCFG, H.total, out, { impl });
      assert.deepEqual(Array.from(out), HAND);
      assert.deepEqual(s.norms, [4, 2, 8]);
      assert.deepEqual(s.tensorNorms, [[Math.sqrt(12), 2], [2, 0], [Math.sqrt(32), Math.sqrt(32)]]);
      assert.deepEqual(s.tensorMedians, [Math.sqrt(12), 2]);
      assert.deepEqual(s.scales, [[1, 1], [1, 0], [sV, uM]]);
      assert.equal(s.clipped, 2); // B's zero matrix counts as scaled to 0
      assert.equal(s.covered, 15); // flat 13: nobody
      assert.deepEqual(s.kept, [8, 8, 8]);
      assert.equal(s.impl, impl);
    });

    test(`hand-computed: two disjoint peers, even-count (lower) median (${impl})`, { skip: skipNative(impl) }, () => {
      const cfg: CodecConfig = { tile: 2, vectorChunk: 4, topk: 1, beta: 0.95 };
      const L = layout([[8]]);
      const X: SparseUpdate = { tensors: [st([1, 2], [3, 0], [0, 0, 0, 3])] };  // 3 at flat 1, 0 at flat 6; ‖X‖ = 3
      const Y: SparseUpdate = { tensors: [st([0, 3], [0, 1], [-1, 0, 0, 0])] }; // −1 at flat 0, 0 at flat 7; ‖Y‖ = 1
      const out = new Float32Array(8);
      const s = aggregate([X, Y], L.specs, cfg, 8, out, { impl });
      assert.deepEqual(s.tensorMedians, [1]); // torch.median: the lower of 1 and 3, not (1 + 3) / 2
      assert.deepEqual(s.scales, [[1 / 3], [1]]);
      assert.deepEqual(Array.from(out), [-1, f(3 * (1 / 3)), 0, 0, 0, 0, 0, 0]);
      assert.equal(s.covered, 4);
    });

    test(`random layout: equals the dense oracle bit for bit; fused step = aggregate + outerStep (${impl})`, { skip: skipNative(impl) }, () => {
      const peers = bigPeers();
      const out = new Float32Array(BIG.total);
      aggregate(peers, BIG.specs, BCFG, BIG.total, out, { impl });
      assert.ok(sameBits(out, oracle(peers, BIG.specs, BCFG, BIG.total)));
      const p1 = new Float32Array(BIG.total).map((_, i) => Math.sin(i)), p2 = p1.slice(), out2 = new Float32Array(BIG.total);
      outerStep(p1, out, 0.7, { impl });
      applyAggregate(p2, peers, BIG.specs, BCFG, 0.7, out2, { impl });
      assert.ok(sameBits(p1, p2) && sameBits(out, out2));
      assert.equal(fingerprint(p1), fingerprint(p2));
    });

    test(`empty peer list → zeros (${impl})`, { skip: skipNative(impl) }, () => {
      const out = new Float32Array(H.total).fill(7);
      const s = aggregate([], H.specs, HCFG, H.total, out, { impl });
      assert.ok(out.every((v) => Object.is(v, 0)));
      assert.deepEqual(s.tensorMedians, [0, 0]);
      assert.equal(s.covered, 0);
    });

    test(`malformed updates are rejected before anything is written (${impl})`, { skip: skipNative(impl) }, () => {
      const bad = (mut: (u: SparseUpdate) => void) => {
        const u = structuredClone(A);
        mut(u);
        const out = new Float32Array(H.total).fill(9);
        assert.throws(() => aggregate([B, u], H.specs, HCFG, H.total, out, { impl }), RangeError);
        assert.ok(out.every((v) => v === 9));
      };
      bad((u) => { u.tensors[0]!.idx[0] = 2; });     // not ascending within chunk V0 ([2, 2])
      bad((u) => { u.tensors[1]!.idx[3] = 4; });     // outside a 4-value tile
      bad((u) => { u.tensors[0]!.codes[1] = 4; });   // code > 3
      bad((u) => { u.tensors[0]!.table[2] = NaN; }); // used table entry not finite
      bad((u) => { u.tensors[0]!.idx = u.tensors[0]!.idx.subarray(1); u.tensors[0]!.codes = u.tensors[0]!.codes.subarray(1); });
    });
  }

  test('input order does not matter once sorted by uid (aggregateByUid)', () => {
    const peers = bigPeers().map((update, i) => ({ uid: [17, 3, 250, 9, 41, 8, 100, 5, 77][i]!, update }));
    const ref = new Float32Array(BIG.total);
    const s0 = aggregateByUid(peers, BIG.specs, BCFG, BIG.total, ref);
    assert.deepEqual(s0.uids, [3, 5, 8, 9, 17, 41, 77, 100, 250]);
    const r = rng(7);
    for (let rep = 0; rep < 4; rep++) {
      const shuffled = [...peers].sort(() => r() - 0.5), out = new Float32Array(BIG.total);
      const s = aggregateByUid(shuffled, BIG.specs, BCFG, BIG.total, out);
      assert.ok(sameBits(out, ref));
      assert.deepEqual(s.norms, s0.norms);
    }
    assert.throws(() => aggregateByUid([peers[0]!, { ...peers[1]!, uid: peers[0]!.uid }], BIG.specs, BCFG, BIG.total, ref), /appears twice/);
  });

  test('TS and native paths give the same bits and stats', { skip: hasNative ? false : `native addon missing: ${nativeLoadError}` }, () => {
    const peers = bigPeers();
    const res = (['ts', 'native'] as const).map((impl) => {
      const out = new Float32Array(BIG.total), params = new Float32Array(BIG.total).map((_, i) => Math.cos(i));
      const s = applyAggregate(params, peers, BIG.specs, BCFG, 0.85, out, { impl });
      return { out, params, s };
    });
    assert.ok(sameBits(res[0]!.out, res[1]!.out) && sameBits(res[0]!.params, res[1]!.params));
    assert.deepEqual({ ...res[0]!.s, impl: '' }, { ...res[1]!.s, impl: '' });
  });

  test('native result is independent of the thread count (child processes, TESSERA_THREADS=1 and 3)', { skip: hasNative ? false : 'native addon missing' }, () => {
    const runWith = (threads: string) => {
      const env: NodeJS.ProcessEnv = { ...process.env, TESSERA_AGG_CHILD: '1', TESSERA_THREADS: threads };
      delete env.NODE_TEST_CONTEXT;
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url)], { env, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout.trim()) as { threads: number; out: string; params: string };
    };
    const one = runWith('1'), three = runWith('3');
    assert.equal(one.threads, 1);
    assert.equal(three.threads, 3);
    assert.equal(one.out, three.out);
    assert.equal(one.params, three.params);
    const out = new Float32Array(BIG.total), params = new Float32Array(BIG.total).map((_, i) => Math.sin(i));
    applyAggregate(params, bigPeers(), BIG.specs, BCFG, 0.7, out, { impl: 'ts' });
    assert.equal(fingerprint(out), one.out);
    assert.equal(fingerprint(params), one.params);
  });

  test('fingerprint: sha256 of the float32 bytes; one flipped bit changes it', () => {
    assert.equal(fingerprint(new Float32Array(0)), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    const a = new Float32Array(1000).map((_, i) => i * 0.25), b = a.slice();
    assert.equal(fingerprint(a), fingerprint(b));
    new Uint32Array(b.buffer)[500]! ^= 1;
    assert.notEqual(fingerprint(a), fingerprint(b));
    assert.equal(fingerprint(a.subarray(10, 20)), fingerprint(a.slice(10, 20))); // views hash their own bytes
  });
}

// SparseLoCo codec tests: geometry coverage, top-k against a full sort (many ties), quantization
// against a float64 oracle, the error-feedback identity bit for bit, decompress placement,
// determinism, and TypeScript vs native byte identity (native visibly skipped when not built).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { compress, decompress, forgetSent, nativeCodecAvailable, validateCodecConfig, validateSparseUpdate, type CodecSpec } from './codec.js';
import { nextDown32, nextUp32, residual } from './codec-ref.js';
import { roundHalf } from './half.js';
import { chunksOf, flatIndex, keptTotal, type TensorShape } from './geometry.js';
import { CODEC_DEFAULTS, type CodecConfig, type SparseUpdate } from './types.js';
import { TesseraError } from '../util/errors.js';
import { nativeLoadError } from '../engine/native.js';
import { makeRng } from '../util/rng.js';

type Impl = 'ts' | 'native';
const hasNative = nativeCodecAvailable();

async function onImpls(t: TestContext, fn: (impl: Impl) => void): Promise<void> {
  for (const impl of ['ts', 'native'] as const) {
    await t.test(impl, (st) => {
      if (impl === 'native' && !hasNative) return st.skip(`native encoder not available: ${nativeLoadError ?? 'addon built without sparselocoCompress'}`);
      fn(impl);
    });
  }
}

// The project's seeded generator (util/rng), so failures reproduce.
function makeRand(seed: number): () => number {
  const r = makeRng(seed);
  return () => r.nextFloat();
}
const rand = makeRand(0xc0dec), randInt = (n: number) => Math.floor(rand() * n);
const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());

/** A Float32Array view at a misaligned offset inside a larger buffer. */
function f32(n: number, fill: (i: number) => number = () => 0): Float32Array {
  const a = new Float32Array(n + 7).subarray(3, 3 + n);
  for (let i = 0; i < n; i++) a[i] = fill(i);
  return a;
}

/** Random layout: 1-D and 2-D tensors (edge tiles, exact multiples, tiny) with uncovered gaps between them. */
function randomLayout(cfg: CodecConfig, n: number): { specs: CodecSpec[]; total: number } {
  const specs: CodecSpec[] = [];
  let off = randInt(3);
  for (let i = 0; i < n; i++) {
    let shape: TensorShape;
    const kind = randInt(4);
    if (kind === 0) shape = [1 + randInt(3 * cfg.vectorChunk + 3)];
    else if (kind === 1) shape = [cfg.tile * (1 + randInt(3)), cfg.tile * (1 + randInt(3))];
    else shape = [1 + randInt(3 * cfg.tile + 2), 1 + randInt(3 * cfg.tile + 2)];
    specs.push({ offset: off, shape });
    off += shape.length === 1 ? shape[0] : shape[0] * shape[1];
    off += randInt(3);
  }
  return { specs, total: off + randInt(3) };
}

const sizeOf = (s: TensorShape) => (s.length === 1 ? s[0] : s[0] * s[1]);
const bf = (cfg: CodecConfig) => Math.fround(cfg.beta);
const aOf = (delta: Float32Array, ef: Float32Array, cfg: CodecConfig) =>
  Float32Array.from(delta, (d, i) => Math.fround(Math.fround(bf(cfg) * ef[i]) + d));
const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Expected kept positions of one chunk: full sort by |a| descending, then position ascending. */
function sortTopk(a: Float32Array, off: number, ch: ReturnType<typeof chunksOf>[number]): number[] {
  const pos = Array.from({ length: ch.size }, (_, p) => p);
  const mag = (p: number) => Math.abs(a[off + flatIndex(ch, p)]);
  pos.sort((x, y) => mag(y) - mag(x) || x - y);
  return pos.slice(0, ch.k).sort((x, y) => x - y);
}

/** Float64 oracle of the 2-bit quantizer, written from the protocol text. */
function quantOracle(v: number[]): { codes: number[]; table: number[] } {
  const n = v.length;
  if (n === 0) return { codes: [], table: [0, 0, 0, 0] };
  const mu = v.reduce((s, x) => s + x, 0) / n;
  const sigma = Math.sqrt(v.reduce((s, x) => s + (x - mu) * (x - mu), 0) / n);
  const codes = v.map((x) => (sigma === 0 ? 2 : Math.min(3, Math.floor((Math.min(1, Math.max(-1, (x - mu) / (1.5 * sigma))) + 1) * 2))));
  const table = [0, 1, 2, 3].map((b) => {
    const inBin = v.filter((_, j) => codes[j] === b);
    return inBin.length ? roundHalf(Math.fround(inBin.reduce((s, x) => s + x, 0) / inBin.length)) : 0; // float32 mean, then binary16 (payload v3)
  });
  return { codes, table };
}

/** Can any float32 e give fround(s + e) === a? (searches a few ulps around a − s) */
function achievable(a: number, s: number): boolean {
  let lo = Math.fround(a - s), hi = lo;
  for (let i = 0; i < 4; i++) { lo = nextDown32(lo); hi = nextUp32(hi); }
  for (let r = lo; r <= hi; r = nextUp32(r)) if (Math.fround(s + r) === a) return true;
  return false;
}

/** Checks one compress call against the oracles: top-k, quantization, EF identity, untouched gaps. */
function checkAgainstOracles(specs: CodecSpec[], cfg: CodecConfig, delta: Float32Array, ef0: Float32Array,
  ef: Float32Array, upd: SparseUpdate, requireAll: boolean): { fixed: number; impossible: number } {
  const a = aOf(delta, ef0, cfg);
  const covered = new Uint8Array(delta.length);
  let fixed = 0, impossible = 0;
  specs.forEach((s, ti) => {
    const chunks = chunksOf(s.shape, cfg), t = upd.tensors[ti];
    const want: number[] = [], vals: number[] = [];
    for (const ch of chunks) for (const p of sortTopk(a, s.offset, ch)) { want.push(p); vals.push(a[s.offset + flatIndex(ch, p)]); }
    assert.deepEqual(Array.from(t.idx), want, `tensor ${ti} top-k`);
    const q = quantOracle(vals);
    assert.deepEqual(Array.from(t.codes), q.codes, `tensor ${ti} codes`);
    assert.deepEqual(Array.from(t.table), q.table, `tensor ${ti} table`);
    const sent = new Float64Array(sizeOf(s.shape));
    let j = 0;
    for (const ch of chunks) for (let x = 0; x < ch.k; x++, j++) sent[flatIndex(ch, t.idx[j])] = t.table[t.codes[j]];
    for (let i = 0; i < sent.length; i++) {
      const g = s.offset + i, ai = a[g];
      covered[g] = 1;
      if (Math.fround(sent[i] + ef[g]) === ai) {
        if (Math.fround(ai - sent[i]) !== ef[g]) fixed++;
        continue;
      }
      assert.ok(!requireAll && !achievable(ai, sent[i]), `EF identity at ${g}: a=${ai} s=${sent[i]} e=${ef[g]}`);
      assert.equal(ef[g], Math.fround(ai - sent[i]), 'impossible case keeps the nearest residual');
      impossible++;
    }
  });
  for (let g = 0; g < delta.length; g++) if (!covered[g]) assert.ok(Object.is(ef[g], ef0[g]), `gap ${g} untouched`);
  return { fixed, impossible };
}

test('geometry: every flat index of a tensor is covered exactly once', () => {
  for (let it = 0; it < 60; it++) {
    const cfg: CodecConfig = { tile: 1 + randInt(9), vectorChunk: 1 + randInt(40), topk: 1 + randInt(6), beta: 0.5 };
    const shape: TensorShape = randInt(3) === 0 ? [randInt(200)] : [1 + randInt(40), 1 + randInt(40)];
    const n = sizeOf(shape), seen = new Uint8Array(n);
    const chunks = chunksOf(shape, cfg);
    for (const ch of chunks) {
      assert.ok(ch.k >= 1 && ch.k <= ch.size && ch.size <= Math.max(cfg.tile * cfg.tile, cfg.vectorChunk));
      let prev = -1;
      for (let p = 0; p < ch.size; p++) {
        const f = flatIndex(ch, p);
        assert.ok(f >= 0 && f < n, 'inside the tensor');
        const row = Math.floor(f / shape[shape.length - 1]), prow = Math.floor(prev / shape[shape.length - 1]);
        assert.ok(prev < 0 || (f > prev && (row === prow || row === prow + 1)), 'row-major inside a tile');
        seen[f]++;
        prev = f;
      }
    }
    assert.ok(seen.every((c) => c === 1), `shape ${shape} tile ${cfg.tile}/${cfg.vectorChunk}`);
    assert.equal(keptTotal(chunks), chunks.reduce((s, c) => s + c.k, 0));
  }
});

test('config validation names the bad field', () => {
  const bad: [Partial<CodecConfig>, string][] = [[{ tile: 0 }, 'tile'], [{ tile: 65 }, 'tile'], [{ tile: 1.5 }, 'tile'],
    [{ vectorChunk: 0 }, 'vectorChunk'], [{ vectorChunk: 4097 }, 'vectorChunk'], [{ topk: 0 }, 'topk'],
    [{ beta: 1 }, 'beta'], [{ beta: -0.1 }, 'beta'], [{ beta: NaN }, 'beta']];
  validateCodecConfig(CODEC_DEFAULTS);
  for (const [patch, field] of bad) {
    assert.throws(() => validateCodecConfig({ ...CODEC_DEFAULTS, ...patch }),
      (e: unknown) => e instanceof TesseraError && e.message.includes(field), field);
  }
});

test('residual: corrects fl(a − s) by one ulp when that restores the identity', () => {
  // a = 1, s = −2^-24: a − s = 1 + 2^-24 ties to 1, and s + 1 = 1 − 2^-24 ≠ 1; 1 + 2^-23 works.
  const s = -(2 ** -24);
  assert.equal(Math.fround(1 - s), 1);
  assert.notEqual(Math.fround(s + 1), 1);
  assert.equal(residual(1, s), 1 + 2 ** -23);
  assert.equal(Math.fround(s + residual(1, s)), 1);
  // Impossible case: s + e moves in steps of ulp(0.3) ≫ a, so the nearest residual is kept.
  const a = Math.fround(1e-8), s2 = Math.fround(0.3);
  assert.ok(!achievable(a, s2));
  assert.equal(residual(a, s2), Math.fround(a - s2));
});

test('top-k (many ties), quantization and EF identity against oracles', async (t) => {
  await onImpls(t, (impl) => {
    // Top-64 of 4096 on normal data (a vector cut like a tile): the identity holds at every coordinate.
    const specs0: CodecSpec[] = [{ offset: 1, shape: [200, 300] }, { offset: 60002, shape: [9000] }];
    const sparseVec = { ...CODEC_DEFAULTS, vectorChunk: 4096 };
    const ef00 = f32(69003, () => normal() * 0.1), d0 = f32(69003, normal), e0 = f32(69003, (i) => ef00[i]);
    assert.equal(checkAgainstOracles(specs0, sparseVec, d0, ef00, e0, compress(d0, e0, specs0, sparseVec, impl), true).impossible, 0);
    // The defaults send every vector value: small values share a bin with large ones, so the identity
    // can be unreachable at a few coordinates; it holds wherever a float32 residual can satisfy it.
    const e1 = f32(69003, (i) => ef00[i]);
    checkAgainstOracles(specs0, CODEC_DEFAULTS, d0, ef00, e1, compress(d0, e1, specs0, CODEC_DEFAULTS, impl), false);
    let impossible = 0;
    for (let it = 0; it < 12; it++) {
      const cfg: CodecConfig = { tile: 1 + randInt(10), vectorChunk: 1 + randInt(70), topk: 1 + randInt(8), beta: it % 3 === 0 ? 0 : 0.95 };
      const { specs, total } = randomLayout(cfg, 1 + randInt(5));
      const ties = it % 2 === 0;
      let ef0 = f32(total, () => (ties ? 0 : normal() * 0.01));
      for (let round = 0; round < 3; round++) {
        // Ties: values from a small integer set (with ±0), else normal.
        const delta = f32(total, () => (ties ? ((randInt(7) - 3) * 0.5 || (randInt(2) ? 0 : -0)) : normal()));
        const ef = f32(total, (i) => ef0[i]);
        const upd = compress(delta, ef, specs, cfg, impl);
        impossible += checkAgainstOracles(specs, cfg, delta, ef0, ef, upd, false).impossible;
        ef0 = ef;
      }
    }
    t.diagnostic(`${impl}: ${impossible} coordinates where no float32 residual satisfies the identity`);
  });
});

test('EF identity holds exactly wherever a float32 residual can satisfy it (adversarial magnitudes)', async (t) => {
  await onImpls(t, (impl) => {
    // Exact-tie case end to end: bin 0 = {1, −1, −3·2^-24} has mean −2^-24, so a = 1 needs the corrected residual.
    const cfg1: CodecConfig = { tile: 1, vectorChunk: 1, topk: 1, beta: 0 };
    const d1 = f32(7, (i) => [1, -1, -3 * 2 ** -24, 50, 50, 50, 50][i]);
    const e1 = f32(7);
    const u1 = compress(d1, e1, [{ offset: 0, shape: [7] }], cfg1, impl);
    assert.deepEqual(Array.from(u1.tensors[0].codes), [0, 0, 0, 3, 3, 3, 3]);
    assert.equal(u1.tensors[0].table[0], -(2 ** -24));
    assert.equal(e1[0], 1 + 2 ** -23);
    assert.ok(checkAgainstOracles([{ offset: 0, shape: [7] }], cfg1, d1, f32(7), e1, u1, true).fixed >= 1);
    // Mixed magnitudes across chunks (tiny chunks next to huge ones) produce bins spanning many octaves.
    const cfg: CodecConfig = { tile: 4, vectorChunk: 16, topk: 3, beta: 0.9 };
    for (let it = 0; it < 6; it++) {
      const { specs, total } = randomLayout(cfg, 3);
      const delta = f32(total, (i) => normal() * 10 ** ((i * 7 + it) % 13 - 8) * (randInt(5) === 0 ? 0 : 1));
      const ef0 = f32(total, () => normal() * 1e-6);
      const ef = f32(total, (i) => ef0[i]);
      checkAgainstOracles(specs, cfg, delta, ef0, ef, compress(delta, ef, specs, cfg, impl), false);
    }
  });
});

test('decompress writes table values exactly at kept positions, zeros elsewhere, gaps untouched', async (t) => {
  await onImpls(t, (impl) => {
    const cfg: CodecConfig = { tile: 5, vectorChunk: 30, topk: 4, beta: 0.95 };
    const { specs, total } = randomLayout(cfg, 6);
    const delta = f32(total, normal);
    const upd = compress(delta, f32(total), specs, cfg, impl);
    for (const scale of [1, -0.7]) {
      const out = f32(total, () => 42);
      decompress(upd, specs, cfg, out, scale);
      const expect = new Float32Array(total).fill(42);
      specs.forEach((s, ti) => {
        expect.fill(0, s.offset, s.offset + sizeOf(s.shape));
        let j = 0;
        for (const ch of chunksOf(s.shape, cfg)) {
          for (let x = 0; x < ch.k; x++, j++) expect[s.offset + flatIndex(ch, upd.tensors[ti].idx[j])] = scale * upd.tensors[ti].table[upd.tensors[ti].codes[j]];
        }
      });
      assert.deepEqual(bytes(out), bytes(expect));
    }
    // Corrupt updates are rejected.
    const bad = structuredClone(upd), bad2 = structuredClone(upd);
    bad.tensors[0].codes[0] = 4;
    bad2.tensors[0].idx[0] = 60000;
    assert.throws(() => validateSparseUpdate(bad, specs, cfg), TesseraError);
    assert.throws(() => decompress(bad2, specs, cfg, f32(total)), TesseraError);
  });
});

test('forgetSent: the error feedback before a lost commit, decayed, with the sent positions zeroed; the next upload does not send them again', () => {
  const cfg: CodecConfig = { tile: 5, vectorChunk: 30, topk: 4, beta: 0.95 };
  const { specs, total } = randomLayout(cfg, 6);
  // Accumulated feedback dominates this window's Δ (as with top-k at 1.56%: most of Δ waits in the feedback).
  const ef0 = f32(total, normal), delta = f32(total, () => 0.1 * normal());
  const upd = compress(delta, Float32Array.from(ef0), specs, cfg, 'ts');
  const ef = Float32Array.from(ef0), sent = new Set<number>();
  specs.forEach((s, ti) => {
    let j = 0;
    for (const ch of chunksOf(s.shape, cfg)) for (let x = 0; x < ch.k; x++, j++) sent.add(s.offset + flatIndex(ch, upd.tensors[ti].idx[j]));
  });
  assert.equal(forgetSent(ef, upd, specs, cfg), sent.size);
  const covered = new Set(specs.flatMap((s) => Array.from({ length: sizeOf(s.shape) }, (_, i) => s.offset + i)));
  for (let i = 0; i < total; i++) {
    const want = sent.has(i) ? 0 : covered.has(i) ? Math.fround(Math.fround(cfg.beta) * ef0[i]!) : ef0[i]!;
    assert.equal(ef[i], want, `position ${i}`);
  }
  // Without it, a small Δ next resends most of the same positions (the stale feedback still holds them); with it, none.
  const positions = (u: SparseUpdate): Set<number> => new Set(specs.flatMap((s, ti) => {
    let j = 0; const out: number[] = [];
    for (const ch of chunksOf(s.shape, cfg)) for (let x = 0; x < ch.k; x++, j++) out.push(s.offset + flatIndex(ch, u.tensors[ti].idx[j]));
    return out;
  }));
  const overlap = (u: SparseUpdate): number => [...positions(u)].filter((i) => sent.has(i)).length / sent.size;
  const small = f32(total, () => 1e-3 * normal());
  const stale = overlap(compress(small, Float32Array.from(ef0), specs, cfg, 'ts')), fixed = overlap(compress(small, ef, specs, cfg, 'ts'));
  assert.ok(stale > 0.8 && fixed === 0, `overlap with the lost upload: stale feedback ${stale}, reconciled ${fixed}`);
  // A partial (stage) update: only the tensors it holds are touched.
  const ef2 = Float32Array.from(ef0), held = specs.map((_, i) => i % 2 === 0);
  forgetSent(ef2, { ...upd, held }, specs, cfg);
  specs.forEach((s, ti) => { if (!held[ti]) for (let i = s.offset; i < s.offset + sizeOf(s.shape); i++) assert.equal(ef2[i], ef0[i]); });
});

test('non-finite input throws and leaves error feedback untouched', async (t) => {
  await onImpls(t, (impl) => {
    const cfg: CodecConfig = { tile: 4, vectorChunk: 8, topk: 2, beta: 0.95 };
    const specs: CodecSpec[] = [{ offset: 0, shape: [9, 7] }, { offset: 63, shape: [20] }];
    for (const badValue of [NaN, Infinity, -Infinity]) {
      const delta = f32(83, normal), ef = f32(83, normal), before = Float32Array.from(ef);
      delta[70] = badValue;
      assert.throws(() => compress(delta, ef, specs, cfg, impl), (e: unknown) => e instanceof TesseraError && /not finite near flat index 63/.test(e.message));
      assert.deepEqual(bytes(ef), bytes(before));
    }
    assert.throws(() => compress(f32(10), f32(9), specs, cfg, impl), TesseraError);
    assert.throws(() => compress(f32(83), f32(83), [{ offset: 60, shape: [30] }], cfg, impl), TesseraError);
    assert.throws(() => compress(f32(83), f32(83), [{ offset: 0, shape: [9, 7] }, { offset: 62, shape: [3] }], cfg, impl), TesseraError);
  });
});

test('deterministic, and TypeScript and native give the same bytes', async (t) => {
  const cases: { cfg: CodecConfig; specs: CodecSpec[]; total: number }[] = [];
  for (let it = 0; it < 8; it++) {
    const cfg: CodecConfig = { tile: 1 + randInt(12), vectorChunk: 1 + randInt(200), topk: 1 + randInt(10), beta: [0, 0.5, 0.95][it % 3] };
    cases.push({ cfg, ...randomLayout(cfg, 2 + randInt(6)) });
  }
  const big: CodecSpec[] = [{ offset: 0, shape: [300, 200] }, { offset: 60000, shape: [5000] }, { offset: 65000, shape: [768, 768] }];
  cases.push({ cfg: CODEC_DEFAULTS, specs: big, total: 65000 + 768 * 768 });
  const empty: CodecSpec[] = [{ offset: 0, shape: [0] }, { offset: 0, shape: [10, 10] }, { offset: 100, shape: [0, 5] }, { offset: 100, shape: [7] }];
  cases.push({ cfg: { tile: 3, vectorChunk: 4, topk: 2, beta: 0.9 }, specs: empty, total: 107 });
  const run = (c: (typeof cases)[number], impl: Impl, seed: number) => {
    const r = makeRand(seed), nrm = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
    const ef = f32(c.total, () => nrm() * 0.1);
    const outs: Buffer[] = [];
    for (let round = 0; round < 3; round++) {
      const delta = f32(c.total, () => (seed % 2 ? Math.round(nrm() * 2) / 4 : nrm()));
      const upd = compress(delta, ef, c.specs, c.cfg, impl);
      for (const s of upd.tensors) outs.push(bytes(s.idx), bytes(s.codes), bytes(s.table));
      outs.push(bytes(ef));
    }
    return Buffer.concat(outs);
  };
  await onImpls(t, (impl) => {
    cases.forEach((c, i) => assert.ok(run(c, impl, i).equals(run(c, impl, i)), `case ${i} repeatable`));
  });
  await t.test('ts vs native', (st) => {
    if (!hasNative) return st.skip(`native encoder not available: ${nativeLoadError ?? 'addon built without sparselocoCompress'}`);
    cases.forEach((c, i) => assert.ok(run(c, 'ts', i).equals(run(c, 'native', i)), `case ${i} identical`));
  });
});

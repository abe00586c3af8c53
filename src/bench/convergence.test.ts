// The convergence harness end to end on a tiny model and a learnable synthetic corpus: every method
// trains (loss falls well below the uniform-guess loss), byte accounting matches each method's wire
// format, and SparseLoCo's two index encodings report the same losses with entropy coding smaller.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getBackend } from '../engine/select.js';
import { getPreset } from '../model/index.js';
import { makeRng } from '../util/rng.js';
import type { TrainData } from '../train/batches.js';
import { CONVERGENCE_DEFAULTS, METHODS, SPARSE_PROTOCOL, ablationAggregate, ablationValues, roundPlan, runConvergence, type ConvergenceOptions } from './convergence.js';
import { CODEC_DEFAULTS, aggregateByUid, compress } from '../compress/index.js';

/** A first-order Markov chain over `vocab` tokens where each token has 4 likely successors: learnable, low entropy. */
function markovTokens(n: number, vocab: number, seed: number): Uint16Array {
  const rng = makeRng(seed);
  const next = Array.from({ length: vocab }, () => Array.from({ length: 4 }, () => rng.nextInt(vocab)));
  const out = new Uint16Array(n);
  for (let i = 1; i < n; i++) out[i] = next[out[i - 1]!]![rng.nextInt(4)]!;
  return out;
}

/** Train and validation splits of one Markov chain (the last `val` tokens are validation). */
function markovData(n: number, val: number, vocab: number, seed: number): TrainData {
  const tokens = markovTokens(n, vocab, seed);
  return {
    train: tokens.subarray(0, n - val), val: tokens.subarray(n - val), vocabSize: vocab,
    tokenizerHash: 'test', tokenizerPath: '', unigramEntropy: Math.log(vocab),
  };
}

test('bench convergence: every method learns; bytes follow each wire format; both SparseLoCo encodings agree', () => {
  const vocab = 512;
  const data = markovData(64_000, 4_000, vocab, 1);
  const o: ConvergenceOptions = {
    ...CONVERGENCE_DEFAULTS, model: getPreset('tiny'), data, replicas: 2, H: 4, rounds: 10, batch: 8, seq: 32, warmup: 4,
    innerLr: 1e-2, demo: { ...CONVERGENCE_DEFAULTS.demo, lr: 5e-3 }, evalBatches: 2, methods: METHODS, log: () => {},
  };
  const res = runConvergence(getBackend(), o);
  const by = new Map(res.map((r) => [r.method, r]));
  assert.deepEqual([...by.keys()], ['AdamW DDP', 'solo (1 replica)', 'DiLoCo', 'DeMo', 'SparseLoCo 12-bit', 'SparseLoCo entropy']);
  for (const r of res) {
    assert.ok(r.finalValLoss < Math.log(vocab) - 1, `${r.method}: final loss ${r.finalValLoss} not below ln(vocab) − 1`);
    assert.equal(r.curve.length, o.rounds, r.method);
    assert.equal(r.curve.at(-1)!.tokensPerReplica, o.rounds * o.H * o.batch * o.seq, r.method);
  }
  const n = (by.get('DiLoCo')!.bytesPerReplica) / (4 * o.rounds); // dense fp32 once per round
  assert.ok(Number.isInteger(n) && n > 0);
  assert.equal(by.get('AdamW DDP')!.bytesPerReplica, 4 * n * o.rounds * o.H);
  assert.equal(by.get('solo (1 replica)')!.bytesPerReplica, 0);
  const s12 = by.get('SparseLoCo 12-bit')!, sE = by.get('SparseLoCo entropy')!;
  assert.deepEqual(s12.curve.map((p) => p.valLoss), sE.curve.map((p) => p.valLoss));
  assert.ok(sE.bytesPerReplica < s12.bytesPerReplica, 'entropy-coded indices are smaller than 12-bit ones');
  assert.ok(s12.bytesPerReplica * 10 < by.get('DiLoCo')!.bytesPerReplica, 'SparseLoCo sends far less than DiLoCo');
});

test('bench convergence: --eval-every measures every n rounds and after the last; results do not depend on method order or eval cadence', () => {
  const data = markovData(40_000, 4_000, 512, 3);
  const o: ConvergenceOptions = {
    ...CONVERGENCE_DEFAULTS, model: getPreset('tiny'), data, replicas: 2, H: 2, rounds: 5, batch: 4, seq: 32, warmup: 2,
    innerLr: 1e-2, evalBatches: 2, methods: ['ddp', 'sparseloco'], log: () => {},
  };
  const every = runConvergence(getBackend(), o);
  const sparse = runConvergence(getBackend(), { ...o, evalEvery: 2 });
  for (let m = 0; m < every.length; m++) {
    assert.deepEqual(sparse[m]!.curve.map((p) => p.tokensPerReplica / (o.H * o.batch * o.seq)), [2, 4, 5], every[m]!.method);
    assert.deepEqual(sparse[m]!.curve, every[m]!.curve.filter((_, i) => [1, 3, 4].includes(i)), every[m]!.method);
  }
  // A method's result does not depend on which methods ran before it in the same process.
  const alone = runConvergence(getBackend(), { ...o, methods: ['sparseloco'] });
  assert.deepEqual(alone[0]!.curve, every[1]!.curve);
});

test('bench convergence: H warm-up plan, and the gap-closing variants (outer Nesterov, moment sync, Muon inner, ablations) train and count their bytes', () => {
  assert.deepEqual(roundPlan(3, 4, false), [4, 4, 4]);
  assert.deepEqual(roundPlan(3, 4, true), [1, 2, 4, 4, 1]);
  assert.deepEqual(roundPlan(2, 30, true), [1, 2, 4, 8, 16, 29]);
  const vocab = 512, data = markovData(40_000, 4_000, vocab, 5);
  const o: ConvergenceOptions = {
    ...CONVERGENCE_DEFAULTS, model: getPreset('tiny'), data, replicas: 2, H: 3, rounds: 6, batch: 4, seq: 16, warmup: 3,
    innerLr: 1e-2, evalBatches: 1, evalEvery: 100, methods: ['sparseloco'], log: () => {},
  };
  const base = runConvergence(getBackend(), o)[0]!;
  assert.ok(base.finalValLoss < Math.log(vocab) - 0.1, `plain SparseLoCo: ${base.finalValLoss}`); // 18 steps: a smoke, learning is test 1's
  const variants = {
    nesterov: { sparselocoMomentum: 0.5 }, hwarm: { hWarmup: true },
    sync: { momentSyncEvery: 2 }, muon: { innerOptimizer: 'muon' as const },
    ablation: { sparseAblation: { quant: false, clip: false, mean: 'replicas' as const } },
  };
  for (const [name, v] of Object.entries(variants)) {
    const r = runConvergence(getBackend(), { ...o, ...v })[0]!;
    // Trains without diverging (outer momentum on top of error feedback can be worse than plain SGD: bench/convergence.md).
    assert.ok(Number.isFinite(r.finalValLoss) && r.finalValLoss < Math.log(vocab), `${name}: ${r.finalValLoss}`);
    assert.notEqual(r.finalValLoss, base.finalValLoss, `${name} changes the run`);
    assert.equal(r.curve.at(-1)!.tokensPerReplica, base.curve.at(-1)!.tokensPerReplica, `${name}: same tokens`);
    if (name === 'hwarm') assert.equal(r.rounds, roundPlan(o.rounds, o.H, true).length);
    if (name === 'sync') { // rounds 2, 4, 6 add m and v (8 bytes per parameter); the sparse payloads are the same size
      const extra = r.bytesPerReplica - base.bytesPerReplica;
      assert.ok(extra > 0 && extra % 24 === 0, `extra bytes ${extra}`);
      assert.equal(extra / 24, base.bitsPerParamPerRound > 0 ? Math.round((8 * base.bytesPerReplica) / base.rounds / base.bitsPerParamPerRound) : -1);
    }
  }
});

test('bench convergence: the ablation aggregate at the protocol settings equals the real aggregate; top-k only sends the exact values and leaves zero error there', () => {
  const specs = [
    { name: 'w', shape: [70, 90] as [number, number], offset: 0, size: 6300, decay: true },
    { name: 'g', shape: [100] as [number], offset: 6300, size: 100, decay: false },
  ];
  const n = 6400, cfg = { ...CODEC_DEFAULTS, topk: 16 }, rng = makeRng(9);
  const deltas = Array.from({ length: 4 }, (_, r) => Float32Array.from({ length: n }, () => rng.normal() * (1 + r)));
  const sent = deltas.map((d, r) => ablationValues(compress(d, new Float32Array(n), specs, cfg), d, null, new Float32Array(n), specs, cfg, n));
  const peers = deltas.map((d, r) => ({ uid: r, update: compress(d, new Float32Array(n), specs, cfg) }));
  const real = new Float32Array(n), ours = new Float32Array(n);
  const stats = aggregateByUid(peers, specs, cfg, n, real);
  assert.ok(stats.clipped > 0, 'the larger peers are clipped');
  ablationAggregate(sent, specs, SPARSE_PROTOCOL, ours);
  for (let i = 0; i < n; i++) assert.ok(Math.abs(real[i]! - ours[i]!) <= 1e-6 * Math.abs(real[i]!) + 1e-12, `coordinate ${i}: ${real[i]} vs ${ours[i]}`);
  // ÷ R instead of ÷ senders: never larger in magnitude, equal where all four sent.
  const byR = new Float32Array(n);
  ablationAggregate(sent, specs, { ...SPARSE_PROTOCOL, mean: 'replicas' }, byR);
  for (let i = 0; i < n; i++) {
    const cnt = sent.filter((s) => s.mask[i]).length;
    assert.ok(Math.abs(byR[i]! * 4 - ours[i]! * cnt) <= 1e-5 * Math.abs(ours[i]! * cnt) + 1e-12, `coordinate ${i}`);
  }
  // Top-k only: the sent values are a = β·ef + Δ exactly, and the error feedback is 0 there, a elsewhere.
  const ef0 = Float32Array.from({ length: n }, () => rng.normal()), ef = ef0.slice(), d = deltas[0]!;
  const u = compress(d, ef, specs, cfg);
  const exact = ablationValues(u, d, ef0, ef, specs, cfg, n);
  const b = Math.fround(cfg.beta);
  for (let i = 0; i < n; i++) {
    const a = Math.fround(Math.fround(b * ef0[i]!) + d[i]!);
    if (exact.mask[i]) { assert.equal(exact.dense[i], a); assert.equal(ef[i], 0); } else { assert.equal(exact.dense[i], 0); assert.equal(ef[i], a); }
  }
});

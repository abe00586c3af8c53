// Which 16-bit float for the SparseLoCo bin-mean table (payload v3)? Trains a model for a few SparseLoCo
// windows on real text (one replica, AdamW inner steps, error feedback, the real encoder), recomputes
// each tensor's float32 table from the kept values (codec-ref quantize), and measures what rounding
// that table to bfloat16 or to IEEE half does to the decoded update:
//   rel_vs_f32  = ‖dec16 − dec32‖ / ‖dec32‖ over the kept values of all tensors (one update)
//   max_entry   = the largest |t16 − t32| / |t32| over non-zero table entries
//   rel_vs_true = ‖dec − a‖ / ‖a‖ (a = the kept values before quantization), for f32 and each 16-bit form
// Usage (after tsc): nice -n 19 node scripts/table16-measure.mjs DATA_DIR [preset] [windows] [H] [lr] [warmup]
// DATA_DIR: a prepared data directory (tessera data prepare). Prints one JSON line per window and a summary.
import { getBackend } from '../dist/src/engine/select.js';
import { createLlama, initParams, getPreset } from '../dist/src/model/index.js';
import { adamwInit, ADAMW_DEFAULTS, lrAt } from '../dist/src/optim/index.js';
import { makeTrainable, trainStep } from '../dist/src/train/step.js';
import { openTrainData } from '../dist/src/train/batches.js';
import { makeBatch, sampleWindows } from '../dist/src/data/index.js';
import { CODEC_DEFAULTS, compress, flatIndex, planCodec } from '../dist/src/compress/index.js';
import { quantize } from '../dist/src/compress/codec-ref.js';

const [dir, preset = 'small', windowsArg = '6', hArg = '30', lrArg = '2e-3', warmupArg = '100'] = process.argv.slice(2);
if (!dir) { console.error('usage: node scripts/table16-measure.mjs DATA_DIR [preset] [windows] [H] [lr] [warmup]'); process.exit(2); }
const windows = Number(windowsArg), H = Number(hArg), maxLr = Number(lrArg), warmup = Number(warmupArg);
const B = 8, T = 128, seed = 1;

/** x rounded to nearest-even with `mant` fraction bits and exponents ≥ minExp (below: fixed quantum 2^(minExp − mant)); ±Inf above maxVal. */
function roundTo(x, mant, minExp, maxVal) {
  if (x === 0 || !Number.isFinite(x)) return x;
  const e = Math.max(Math.floor(Math.log2(Math.abs(x))), minExp);
  let q = 2 ** (e - mant);
  // log2 can be off by one next to powers of two: fix e so that 2^e ≤ |x| < 2^(e+1) (or e = minExp).
  if (Math.abs(x) >= 2 ** (e + 1)) q *= 2;
  else if (e > minExp && Math.abs(x) < 2 ** e) q /= 2;
  const v = x / q, f = Math.floor(v), d = v - f;
  const r = (d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f) * q;
  return Math.abs(r) > maxVal ? Math.sign(r) * Infinity : r;
}
const bf16 = (x) => roundTo(x, 7, -126, 3.3895313892515355e38);
const half = (x) => roundTo(x, 10, -14, 65504);

const data = openTrainData(dir);
const cfg0 = getPreset(preset), mcfg = { ...cfg0, vocabSize: data.vocabSize, maxSeqLen: Math.max(cfg0.maxSeqLen, T) };
const model = createLlama(mcfg);
initParams(mcfg, model.layout, model.params, seed);
const t = makeTrainable(getBackend(), model, adamwInit(model.layout.total), ADAMW_DEFAULTS, 1.0);
const sched = { maxLr, minLr: maxLr / 10, warmupSteps: warmup, totalSteps: windows * H };
const specs = model.layout.specs, n = model.layout.total, plans = planCodec(specs, CODEC_DEFAULTS, n);
const theta = model.params.slice(), ef = new Float32Array(n), delta = new Float32Array(n);
const bf = Math.fround(CODEC_DEFAULTS.beta);
const sum = { bf16: [], half: [] }, magnitudes = [];
for (let w = 0; w < windows; w++) {
  model.params.set(theta);
  for (let i = 0; i < H; i++) {
    const step = w * H + i, b = makeBatch(data.train, sampleWindows(seed, 0, step, B, data.train.length, T), T);
    trainStep(t, b.inputs, b.targets, B, T, lrAt(sched, step));
  }
  for (let i = 0; i < n; i++) delta[i] = theta[i] - model.params[i];
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.fround(bf * ef[i]) + delta[i];
  const u = compress(delta, ef, specs, CODEC_DEFAULTS);
  const acc = { f32: [0, 0], bf16: [0, 0, 0, 0], half: [0, 0, 0, 0] }; // [Σ(dec16−dec32)², Σdec32², max entry rel, Σ(dec−a)²]
  let trueSq = 0, f32Err = 0;
  plans.forEach((p, ti) => {
    const st = u.tensors[ti], vals = new Float32Array(p.kept), codes = new Uint8Array(p.kept), t32 = new Float32Array(4);
    let j = 0;
    for (const ch of p.chunks) for (let q = 0; q < ch.k; q++, j++) vals[j] = a[p.offset + flatIndex(ch, st.idx[j])];
    quantize(vals, codes, t32);
    for (const v of t32) if (v !== 0) magnitudes.push(Math.abs(v));
    for (const [name, f] of [['bf16', bf16], ['half', half]]) {
      const t16 = Array.from(t32, f), s = acc[name];
      for (let b = 0; b < 4; b++) if (t32[b] !== 0) s[2] = Math.max(s[2], Math.abs(t16[b] - t32[b]) / Math.abs(t32[b]));
      for (let q = 0; q < p.kept; q++) {
        const d32 = t32[codes[q]], d16 = t16[codes[q]];
        s[0] += (d16 - d32) ** 2; s[1] += d32 ** 2; s[3] += (d16 - vals[q]) ** 2;
      }
    }
    for (let q = 0; q < p.kept; q++) { trueSq += vals[q] ** 2; f32Err += (t32[codes[q]] - vals[q]) ** 2; }
  });
  model.params.set(theta);
  const row = { window: w, lr_last: lrAt(sched, (w + 1) * H - 1), rel_vs_true_f32: Math.sqrt(f32Err / trueSq) };
  for (const name of ['bf16', 'half']) {
    const s = acc[name], rel = Math.sqrt(s[0] / s[1]);
    row[`${name}_rel_vs_f32`] = rel; row[`${name}_max_entry`] = s[2]; row[`${name}_rel_vs_true`] = Math.sqrt(s[3] / trueSq);
    sum[name].push(rel);
  }
  // Apply the window as a single replica's outer step would (θ ← θ − decoded Δ): later windows start from the new model.
  plans.forEach((p, ti) => {
    const st = u.tensors[ti];
    let j = 0;
    for (const ch of p.chunks) for (let q = 0; q < ch.k; q++, j++) { const i = p.offset + flatIndex(ch, st.idx[j]); theta[i] = Math.fround(theta[i] - st.table[st.codes[j]]); }
  });
  console.log(JSON.stringify(row));
}
magnitudes.sort((x, y) => x - y);
const pct = (p) => magnitudes[Math.min(magnitudes.length - 1, Math.floor(p * magnitudes.length))];
console.log(JSON.stringify({
  preset, params: n, tensors: plans.length, windows, H, maxLr, warmup,
  bin_mean_abs: { min: magnitudes[0], p10: pct(0.1), median: pct(0.5), p90: pct(0.9), max: magnitudes.at(-1), below_6e5: magnitudes.filter((m) => m < 6.103515625e-5).length, entries: magnitudes.length },
  mean_rel_vs_f32: { bf16: sum.bf16.reduce((x, y) => x + y, 0) / windows, half: sum.half.reduce((x, y) => x + y, 0) / windows },
  max_rel_vs_f32: { bf16: Math.max(...sum.bf16), half: Math.max(...sum.half) },
}));

// The LossScore forward passes on the tiny model: θ is never modified, an empty update changes no
// loss, micro-batching does not change the mean, a real update's trial step is deterministic, scales
// with the clip, and improves the loss on the data it was trained on; bad parameters are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compress, CODEC_DEFAULTS } from '../compress/index.js';
import { getBackend } from '../engine/index.js';
import { createLlama, getPreset, initParams } from '../model/index.js';
import { adamwInit, ADAMW_DEFAULTS } from '../optim/index.js';
import { makeBatch } from '../data/index.js';
import { makeTrainable, trainStep } from '../train/step.js';
import { makeRng } from '../util/rng.js';
import { checkParams, GAUNTLET_DEFAULTS, lossScore, makeEvaluator, meanLoss, measureLosses, type EvalPlan } from './index.js';

const cfg = { ...getPreset('tiny'), vocabSize: 64 };
const run = { alpha: 0.7, batch: 2, seq: 16, codec: { ...CODEC_DEFAULTS } };
const rng = makeRng('evaluate-test');
const tokens = Uint16Array.from({ length: 4000 }, (_, i) => (i % 7 === 0 ? rng.nextInt(64) : (i * 5) % 64));

test('trial-step losses: θ untouched, empty update neutral, micro-batches averaged, trained data improves', () => {
  const be = getBackend(), model = createLlama(cfg);
  initParams(cfg, model.layout, model.params, 3);
  const theta = Float32Array.from(model.params);
  const ev = makeEvaluator(be, model, tokens, run);
  const plan: EvalPlan = { seed: 's', steps: 1, own: [0, 100, 200, 300, 400], random: [1000, 1500, 2000, 2500, 3000] };
  // Mean over micro-batches of 2 (the last one short) = the sequence-weighted mean of single sequences.
  const one = plan.own.map((o) => meanLoss(ev, model, [o]));
  assert.ok(Math.abs(meanLoss(ev, model, plan.own) - one.reduce((a, b) => a + b, 0) / one.length) < 1e-5);
  // Train a few steps on the "own" sequences; compress the drift into a SparseUpdate.
  const worker = createLlama(cfg, Float32Array.from(theta));
  const t = makeTrainable(be, worker, adamwInit(worker.params.length), { ...ADAMW_DEFAULTS }, 1);
  for (let s = 0; s < 6; s++) { const b = makeBatch(tokens, plan.own.slice(0, 4), run.seq); trainStep(t, b.inputs, b.targets, 4, run.seq, 3e-3); }
  const delta = Float32Array.from(theta, (x, i) => x - worker.params[i]!);
  const update = compress(delta, new Float32Array(delta.length), model.layout.specs, run.codec, 'ts');
  const a = measureLosses(ev, update, plan, GAUNTLET_DEFAULTS.scoreStep, 1);
  assert.deepEqual(measureLosses(ev, update, plan, GAUNTLET_DEFAULTS.scoreStep, 1), a, 'deterministic');
  assert.deepEqual(model.params, theta, 'θ is not modified');
  // Per assigned batch (run.batch sequences each, the last one short): their sequence-weighted mean is the mean.
  assert.equal(a.ownBatches?.length, 3);
  for (const k of ['before', 'after'] as const) {
    const w = a.ownBatches!.reduce((s, b, i) => s + b[k] * (i < 2 ? 2 : 1), 0) / 5;
    assert.ok(Math.abs(w - a.own[k]) < 1e-9, `${k}: ${w} vs ${a.own[k]}`);
  }
  assert.ok(a.ownBatches![0]!.after < a.ownBatches![0]!.before && a.ownBatches![1]!.after < a.ownBatches![1]!.before, 'the trained batches improve');
  assert.ok(a.own.after < a.own.before, `own data improves: ${a.own.before} → ${a.own.after}`);
  assert.equal(lossScore(a).indicator, 1, 'the update beats random data on the data it was trained on');
  const clipped = measureLosses(ev, update, plan, GAUNTLET_DEFAULTS.scoreStep, 0.25);
  assert.equal(clipped.own.before, a.own.before);
  assert.ok(clipped.own.before - clipped.own.after < a.own.before - a.own.after, 'a clipped step moves less');
  const empty = { tensors: update.tensors.map((x) => ({ idx: x.idx, codes: x.codes, table: new Float32Array(4) })) };
  const z = measureLosses(ev, empty, plan, GAUNTLET_DEFAULTS.scoreStep, 1);
  assert.equal(z.own.after, z.own.before);
  assert.equal(z.random.after, z.random.before);
});

test('parameters out of range are refused', () => {
  assert.doesNotThrow(() => checkParams(GAUNTLET_DEFAULTS));
  assert.throws(() => checkParams({ ...GAUNTLET_DEFAULTS, copyThreshold: 1.5 }), /copyThreshold/);
  assert.throws(() => checkParams({ ...GAUNTLET_DEFAULTS, sketchSize: 2.5 }), /sketchSize/);
  assert.throws(() => checkParams({ ...GAUNTLET_DEFAULTS, indicatorAlpha: 0 }), /indicatorAlpha/);
});

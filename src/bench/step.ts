// `tessera bench step`: how long one inner training step (forward + backward + AdamW) of a model shape
// takes on this machine, in this process (set TESSERA_THREADS to measure one node's share). The
// devnet sizes a new network's window from it (devnet/calibrate.ts).
import { getBackend } from '../engine/select.js';
import { createLlama, getPreset, initParams } from '../model/index.js';
import { ADAMW_DEFAULTS, adamwInit } from '../optim/index.js';
import { makeTrainable, trainStep } from '../train/step.js';
import { makeRng } from '../util/rng.js';

export interface StepBench { preset: string; batch: number; seq: number; vocabSize: number; ms_per_step: number; steps: number; backend: string; threads: string }

/** Median ms of `steps` training steps after `warmup` untimed ones, on random tokens. */
export function benchStep(o: { preset: string; batch: number; seq: number; vocabSize: number; steps?: number; warmup?: number }): StepBench {
  const cfg = { ...getPreset(o.preset), vocabSize: o.vocabSize };
  const be = getBackend(), model = createLlama(cfg);
  initParams(cfg, model.layout, model.params, 1);
  const opt = adamwInit(model.params.length), t = makeTrainable(be, model, opt, { ...ADAMW_DEFAULTS }, 1.0);
  const rng = makeRng('tessera/bench/step'), n = o.batch * o.seq;
  const inputs = Int32Array.from({ length: n }, () => rng.nextInt(o.vocabSize)), targets = Int32Array.from({ length: n }, () => rng.nextInt(o.vocabSize));
  const times: number[] = [], steps = o.steps ?? 4;
  for (let i = 0; i < (o.warmup ?? 1) + steps; i++) {
    const t0 = performance.now();
    trainStep(t, inputs, targets, o.batch, o.seq, 1e-3);
    if (i >= (o.warmup ?? 1)) times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { preset: o.preset, batch: o.batch, seq: o.seq, vocabSize: o.vocabSize, ms_per_step: times[times.length >> 1]!, steps, backend: be.name, threads: process.env.TESSERA_THREADS ?? 'all' };
}

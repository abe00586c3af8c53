// Single-node training: sample → step → progress line; periodic validation and atomic checkpoints;
// resume from the newest checkpoint; a time limit or Ctrl-C ends with a final checkpoint.
import { join } from 'node:path';
import type { Backend } from '../engine/backend.js';
import { createLlama, initParams, modelInfo, type ModelConfig } from '../model/index.js';
import { adamwInit, lrAt, ADAMW_DEFAULTS, type ScheduleConfig } from '../optim/index.js';
import { TesseraError } from '../util/errors.js';
import { findCheckpoint, loadCheckpoint, readCheckpointMeta, saveCheckpoint } from './checkpoint.js';
import { makeTrainable, trainStep } from './step.js';
import { batchAt, validationBatches, type TrainData } from './batches.js';
import { evaluate } from './evaluate.js';
import { Progress, formatDuration } from '../util/progress.js';

export interface TrainOptions {
  model: ModelConfig;
  data: TrainData;
  outDir: string;
  steps: number;
  batch: number;
  seq: number;
  lr: number;
  minLr: number;
  warmup: number;
  clip: number;
  weightDecay: number;
  seed: number;
  evalEvery: number;
  evalBatches: number;
  ckptEvery: number;
  timeLimitS: number;
  resume: boolean;
}

export interface TrainSummary {
  step: number;
  tokensSeen: number;
  trainLoss: number;
  valLoss: number | null;
  tokensPerS: number;
  checkpoint: string;
  stoppedBy: 'steps' | 'time' | 'signal';
}

export async function runTraining(be: Backend, o: TrainOptions, log: (s: string) => void = console.log): Promise<TrainSummary> {
  const cfg = { ...o.model, vocabSize: o.data.vocabSize, maxSeqLen: Math.max(o.model.maxSeqLen, o.seq) };
  const model = createLlama(cfg);
  const opt = adamwInit(model.layout.total);
  const ckptRoot = join(o.outDir, 'checkpoints');
  let step = 0, tokensSeen = 0;
  const existing = o.resume ? findCheckpoint(ckptRoot) : null;
  if (existing) {
    const meta = readCheckpointMeta(existing);
    checkCompatible(existing, meta.model, meta.tokenizer.hash, cfg, o.data.tokenizerHash);
    const ck = loadCheckpoint(existing, model.layout, true);
    model.params.set(ck.params);
    if (ck.m && ck.v) { opt.m.set(ck.m); opt.v.set(ck.v); opt.step = ck.meta.optimizer.step; }
    step = ck.meta.step;
    tokensSeen = ck.meta.tokensSeen;
    log(`resumed from ${existing} at step ${step}`);
  } else initParams(cfg, model.layout, model.params, o.seed);

  const info = modelInfo(cfg);
  log(`model: ${(info.params / 1e6).toFixed(2)}M parameters, ${(info.flopsPerTokenAt(o.seq) / 1e6).toFixed(1)} MFLOP/token | backend: ${be.name} | batch ${o.batch}×${o.seq} tokens`);
  const adamw = { ...ADAMW_DEFAULTS, weightDecay: o.weightDecay };
  const t = makeTrainable(be, model, opt, adamw, o.clip);
  const sched: ScheduleConfig = { maxLr: o.lr, minLr: o.minLr, warmupSteps: o.warmup, totalSteps: o.steps };
  const val = validationBatches(o.data, o.batch, o.seq, o.evalBatches);
  let valLoss: number | null = null, lastLoss = NaN, stoppedBy: TrainSummary['stoppedBy'] = 'steps';
  let checkpoint = existing ?? '';
  const save = () => {
    checkpoint = saveCheckpoint(ckptRoot, model.layout, model.params, opt, o.data.tokenizerPath, {
      step, tokensSeen, model: cfg, tokenizer: { hash: o.data.tokenizerHash, vocabSize: o.data.vocabSize },
      optimizer: { adamw, step: opt.step }, train: { schedule: sched, batch: o.batch, seq: o.seq, seed: o.seed, clip: o.clip }, valLoss,
    });
  };
  let interrupted = false;
  const onSignal = () => { interrupted = true; };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const progress = new Progress(log);
  const t0 = performance.now();
  const startStep = step;
  try {
    while (step < o.steps) {
      const { inputs, targets } = batchAt(o.data, o.seed, step, o.batch, o.seq);
      lastLoss = trainStep(t, inputs, targets, o.batch, o.seq, lrAt(sched, step)).loss;
      if (!Number.isFinite(lastLoss)) throw new TesseraError(`training diverged at step ${step} (loss ${lastLoss})`, 'lower --lr or raise --warmup, then resume from the last checkpoint');
      step++;
      tokensSeen += o.batch * o.seq;
      const elapsed = (performance.now() - t0) / 1000;
      const tps = ((step - startStep) * o.batch * o.seq) / elapsed;
      const eta = ((o.steps - step) * o.batch * o.seq) / tps;
      progress.update(`step ${step}/${o.steps} | loss ${lastLoss.toFixed(4)} | lr ${lrAt(sched, step - 1).toExponential(2)} | ${Math.round(tps)} tok/s | ETA ${formatDuration(Math.max(0, o.timeLimitS > 0 ? Math.min(eta, o.timeLimitS - elapsed) : eta))}`);
      if (step % o.evalEvery === 0 || step === o.steps) {
        valLoss = evaluate(be, model, val, o.batch, o.seq);
        progress.line(`step ${step}: val loss ${valLoss.toFixed(4)} (unigram entropy ${o.data.unigramEntropy.toFixed(4)}) | train loss ${lastLoss.toFixed(4)}`);
      }
      if (step % o.ckptEvery === 0) save();
      if (interrupted) { stoppedBy = 'signal'; break; }
      if (o.timeLimitS > 0 && elapsed >= o.timeLimitS) { stoppedBy = 'time'; break; }
      await new Promise((r) => setImmediate(r));
    }
    if (stoppedBy !== 'steps' || step % o.evalEvery !== 0) {
      valLoss = evaluate(be, model, val, o.batch, o.seq);
      progress.line(`step ${step}: val loss ${valLoss.toFixed(4)} (unigram entropy ${o.data.unigramEntropy.toFixed(4)})`);
    }
    if (step > startStep || !existing) save();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    progress.done();
  }
  const elapsed = (performance.now() - t0) / 1000;
  return { step, tokensSeen, trainLoss: lastLoss, valLoss, tokensPerS: ((step - startStep) * o.batch * o.seq) / Math.max(elapsed, 1e-9), checkpoint, stoppedBy };
}

/** A checkpoint must match the model shape and the tokenizer of the data it continues on. */
export function checkCompatible(dir: string, saved: ModelConfig, savedTok: string, cfg: ModelConfig, dataTok: string): void {
  if (savedTok !== dataTok) {
    throw new TesseraError(`checkpoint ${dir} was trained with a different tokenizer (${savedTok.slice(0, 12)}…) than the data (${dataTok.slice(0, 12)}…)`,
      'train on data prepared with the checkpoint\'s tokenizer (tessera data prepare --tokenizer <checkpoint>/tokenizer.json), or use a new --out directory');
  }
  const keys: (keyof ModelConfig)[] = ['vocabSize', 'dim', 'nLayers', 'nHeads', 'nKvHeads', 'ffnHidden', 'tiedEmbeddings'];
  const diff = keys.filter((k) => saved[k] !== cfg[k]);
  if (diff.length) {
    throw new TesseraError(`checkpoint ${dir} has a different model shape (${diff.map((k) => `${k}: ${String(saved[k])} vs ${String(cfg[k])}`).join(', ')})`,
      'use the same --preset as the checkpoint, or a new --out directory');
  }
}

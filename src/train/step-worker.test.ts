import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getBackend } from '../engine/select.js';
import { createLlama, getPreset, initParams } from '../model/index.js';
import { ADAMW_DEFAULTS, adamwInit } from '../optim/index.js';
import { makeTrainable, trainStep } from './step.js';
import { sharedFloat32, StepWorker } from './step-worker.js';

const cfg = { ...getPreset('tiny'), vocabSize: 64 };
const B = 2, T = 16;
const batch = (k: number): { inputs: Int32Array; targets: Int32Array } => {
  const inputs = new Int32Array(B * T), targets = new Int32Array(B * T);
  for (let i = 0; i < B * T; i++) { inputs[i] = (i * 7 + k * 13) % 64; targets[i] = (i * 5 + k * 3 + 1) % 64; }
  return { inputs, targets };
};
const same = (a: Float32Array, b: Float32Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

test('StepWorker: inner steps on a worker thread over shared buffers give the bits of trainStep on this thread; this thread stays free meanwhile', async () => {
  const here = createLlama(cfg);
  initParams(cfg, here.layout, here.params, 7);
  const th = makeTrainable(getBackend(), here, adamwInit(here.params.length), { ...ADAMW_DEFAULTS }, 1);

  const there = createLlama(cfg, sharedFloat32(here.params.length));
  there.params.set(here.params);
  const opt = { m: sharedFloat32(here.params.length), v: sharedFloat32(here.params.length), step: 0 };
  const w = new StepWorker(cfg, there.params, opt, { ...ADAMW_DEFAULTS }, 1);
  try {
    let ticks = 0;
    const timer = setInterval(() => { ticks++; }, 1);
    for (let k = 0; k < 4; k++) {
      const { inputs, targets } = batch(k);
      const lr = 1e-3 * (k + 1);
      const a = trainStep(th, inputs, targets, B, T, lr);
      const b = await w.step(inputs, targets, B, T, lr, opt.step);
      opt.step = b.step;
      assert.equal(b.loss, a.loss, `loss of step ${k}`);
      assert.equal(b.gradNorm, a.gradNorm, `grad norm of step ${k}`);
    }
    clearInterval(timer);
    assert.equal(opt.step, th.opt.step);
    assert.ok(same(there.params, here.params), 'params');
    assert.ok(same(opt.m, th.opt.m) && same(opt.v, th.opt.v), 'AdamW moments');
    assert.ok(ticks > 0, 'timers ran while the worker stepped');
    // A worker that died is replaced at the next step: the state lives in the shared buffers.
    await (w as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    const { inputs, targets } = batch(9);
    const a = trainStep(th, inputs, targets, B, T, 1e-3);
    const b = await w.step(inputs, targets, B, T, 1e-3, opt.step);
    assert.equal(b.loss, a.loss);
    assert.ok(same(there.params, here.params), 'params after a worker restart');
  } finally {
    await w.close();
  }
  assert.throws(() => new StepWorker(cfg, new Float32Array(here.params.length), opt, { ...ADAMW_DEFAULTS }, 1), /SharedArrayBuffer/);
  await assert.rejects(w.step(batch(0).inputs, batch(0).targets, B, T, 1e-3, 0), /closed/);
});

// The worker thread of StepWorker (step-worker.ts): builds the model and AdamW state over the shared
// buffers once, then runs one trainStep per message.
import { parentPort, workerData } from 'node:worker_threads';
import { getBackend } from '../engine/select.js';
import { createLlama } from '../model/llama.js';
import { makeTrainable, trainStep } from './step.js';
import type { StepReply, StepRequest, StepWorkerInit } from './step-worker.js';

const init = workerData as StepWorkerInit;
const model = createLlama(init.config, new Float32Array(init.params));
const opt = { m: new Float32Array(init.m), v: new Float32Array(init.v), step: 0 };
const t = makeTrainable(getBackend(), model, opt, init.adamw, init.clip);

parentPort!.on('message', (q: StepRequest) => {
  let reply: StepReply;
  try {
    opt.step = q.step;
    const r = trainStep(t, q.inputs, q.targets, q.B, q.T, q.lr);
    reply = { id: q.id, loss: r.loss, gradNorm: r.gradNorm, step: opt.step };
  } catch (e) {
    reply = { id: q.id, error: (e as Error).stack ?? String(e) };
  }
  parentPort!.postMessage(reply);
});

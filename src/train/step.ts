// One training step on one batch: zero grads → forward → backward → clip → AdamW. Also the
// inference-only loss used for validation. The Graph's pooled buffers are reused step to step.
import type { Backend, I32 } from '../engine/backend.js';
import { Graph } from '../engine/autograd.js';
import { lossOf, type Llama } from '../model/llama.js';
import { adamwUpdate, clipGradNorm, type AdamWConfig, type AdamWState } from '../optim/index.js';

export interface StepResult {
  loss: number;
  gradNorm: number;
}

export interface Trainable {
  be: Backend;
  model: Llama;
  opt: AdamWState;
  adamw: AdamWConfig;
  /** Clip threshold for the global gradient norm (0 disables). */
  clip: number;
  graph: Graph;
}

export function makeTrainable(be: Backend, model: Llama, opt: AdamWState, adamw: AdamWConfig, clip: number): Trainable {
  return { be, model, opt, adamw, clip, graph: new Graph(be, true) };
}

/** Forward + backward of the mean loss into model.grads (zeroed first). */
export function computeGradients(t: Trainable, inputs: I32, targets: I32, B: number, T: number): number {
  const { graph, model } = t;
  model.grads.fill(0);
  const loss = lossOf(graph, model, inputs, targets, B, T);
  const value = loss.data[0]!;
  graph.backward(loss);
  graph.reset();
  return value;
}

export function trainStep(t: Trainable, inputs: I32, targets: I32, B: number, T: number, lr: number): StepResult {
  const loss = computeGradients(t, inputs, targets, B, T);
  const gradNorm = t.clip > 0 ? clipGradNorm(t.be, t.model.grads, t.clip) : Math.sqrt(t.be.sumSquares(t.model.grads, t.model.grads.length));
  adamwUpdate(t.be, t.model.layout.specs, t.model.params, t.model.grads, t.opt, t.adamw, lr);
  return { loss, gradNorm };
}

/** Mean loss without gradients (validation). */
export function evalLoss(be: Backend, model: Llama, inputs: I32, targets: I32, B: number, T: number, graph?: Graph): number {
  const g = graph ?? new Graph(be, false);
  const wasRecording = g.recording;
  g.recording = false;
  const v = lossOf(g, model, inputs, targets, B, T).data[0]!;
  g.reset();
  g.recording = wasRecording;
  return v;
}

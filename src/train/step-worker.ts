// Inner steps on a worker thread (docs/protocol.md "Overlap"): an overlapped miner's event loop serves the
// gather of W − 1 (chain, peer list, payloads) while W trains. With steps on the main thread every request
// of that gather waited for the step in progress (≈ 0.5 s each on a busy 2-core machine), so the gather
// often ended seconds after the training and the miner idled. The worker steps the same parameters and
// AdamW moments in place — they live in SharedArrayBuffers — and the main thread touches them only
// between steps (it awaits each one), so there is one writer at a time. Same code, same backend, same
// bits as trainStep on the main thread.
import { Worker } from 'node:worker_threads';
import type { I32 } from '../engine/backend.js';
import type { ModelConfig } from '../model/config.js';
import type { AdamWConfig, AdamWState } from '../optim/adamw.js';
import type { StepResult } from './step.js';

/** What the worker gets once: the shape, the shared buffers and the optimizer's settings. */
export interface StepWorkerInit {
  config: ModelConfig;
  params: SharedArrayBuffer;
  m: SharedArrayBuffer;
  v: SharedArrayBuffer;
  adamw: AdamWConfig;
  clip: number;
}
export interface StepRequest { id: number; inputs: I32; targets: I32; B: number; T: number; lr: number; step: number }
export type StepReply = { id: number; loss: number; gradNorm: number; step: number } | { id: number; error: string };

/** A Float32Array of n zeros on a SharedArrayBuffer (to hand to a StepWorker). */
export function sharedFloat32(n: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(n * Float32Array.BYTES_PER_ELEMENT));
}

const sharedBuffer = (a: Float32Array, what: string): SharedArrayBuffer => {
  if (!(a.buffer instanceof SharedArrayBuffer) || a.byteOffset !== 0 || a.byteLength !== a.buffer.byteLength) {
    throw new Error(`StepWorker: ${what} must be a whole Float32Array over a SharedArrayBuffer (sharedFloat32)`);
  }
  return a.buffer;
};

export class StepWorker {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, { resolve: (r: StepResult & { step: number }) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private closed = false;
  private readonly init: StepWorkerInit;

  /** `params`, `opt.m` and `opt.v` must come from sharedFloat32. */
  constructor(config: ModelConfig, params: Float32Array, opt: AdamWState, adamw: AdamWConfig, clip: number) {
    this.init = { config, params: sharedBuffer(params, 'params'), m: sharedBuffer(opt.m, 'opt.m'), v: sharedBuffer(opt.v, 'opt.v'), adamw, clip };
  }

  private spawn(): Worker {
    const w = new Worker(new URL('./step-worker-main.js', import.meta.url), { workerData: this.init });
    w.unref(); // never keeps the process alive
    w.on('message', (r: StepReply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if ('error' in r) p.reject(new Error(`inner step on the worker thread failed: ${r.error}`));
      else p.resolve({ loss: r.loss, gradNorm: r.gradNorm, step: r.step });
    });
    const fail = (e: Error): void => {
      if (this.worker === w) this.worker = null; // the next step starts a fresh worker (the state is in the shared buffers)
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    w.on('error', (e) => fail(new Error(`the inner-step worker thread failed: ${e.message}`)));
    w.on('exit', (code) => fail(new Error(`the inner-step worker thread exited (code ${code})`)));
    return w;
  }

  /** One trainStep (forward, backward, clip, AdamW at `lr`) from AdamW step `step`; resolves with the step after it. */
  step(inputs: I32, targets: I32, B: number, T: number, lr: number, step: number): Promise<StepResult & { step: number }> {
    if (this.closed) return Promise.reject(new Error('StepWorker is closed'));
    if (this.pending.size > 0) return Promise.reject(new Error('StepWorker: one step at a time (await the last one)'));
    this.worker ??= this.spawn();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker!.postMessage({ id, inputs, targets, B, T, lr, step } satisfies StepRequest);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}

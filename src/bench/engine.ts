// `tessera bench engine`: one training step (forward + backward + AdamW) of the reference shape,
// timed on tessera and on PyTorch (same shapes, back to back), with MFU against the measured
// SGEMM peak of this machine.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import type { Backend } from '../engine/backend.js';
import { loadNativeAddon } from '../engine/native.js';
import { createLlama, getPreset, initParams, modelInfo, type ModelConfig } from '../model/index.js';
import { adamwInit, ADAMW_DEFAULTS } from '../optim/index.js';
import { makeTrainable, trainStep } from '../train/step.js';
import { makeRng } from '../util/rng.js';
import { projectRoot } from '../util/paths.js';

export interface EngineBenchOptions {
  batch: number;
  seq: number;
  steps: number;
  warmup: number;
  torch: boolean;
  config?: ModelConfig;
}

export interface EngineBenchResult {
  shape: { dim: number; layers: number; heads: number; kv_heads: number; ffn: number; vocab: number; seq: number; batch: number; params: number };
  backend: string;
  tessera_tokens_per_s: number;
  tessera_step_s: number;
  torch_tokens_per_s: number | null;
  torch_step_s: number | null;
  torch_note: string | null;
  ratio: number | null;
  sgemm_peak_gflops: number | null;
  tessera_gflops: number;
  mfu: number | null;
  flops_per_token: number;
  peak_rss_mb: number;
  threads: number;
  cpu: string;
  date: string;
}

/** Times `steps` training steps after `warmup`; returns seconds per step (median). */
function timeTessera(be: Backend, cfg: ModelConfig, B: number, T: number, steps: number, warmup: number): number {
  const model = createLlama(cfg);
  initParams(cfg, model.layout, model.params, 0);
  const t = makeTrainable(be, model, adamwInit(model.layout.total), ADAMW_DEFAULTS, 1.0);
  const rng = makeRng('bench-engine');
  const inputs = new Int32Array(B * T).map(() => rng.nextInt(cfg.vocabSize));
  const targets = new Int32Array(B * T).map(() => rng.nextInt(cfg.vocabSize));
  const times: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    trainStep(t, inputs, targets, B, T, 1e-4);
    if (i >= warmup) times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/** The first Python that can import torch: TESSERA_PYTHON, python3 on PATH, /usr/bin/python3. */
export function findTorchPython(): string | null {
  const candidates = [process.env.TESSERA_PYTHON, 'python3', '/usr/bin/python3'].filter((c): c is string => Boolean(c));
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 });
    if (r.status === 0) return py;
  }
  return null;
}

function timeTorch(cfg: ModelConfig, B: number, T: number, steps: number, warmup: number): { stepS: number | null; note: string | null } {
  const py = findTorchPython();
  if (!py) return { stepS: null, note: 'PyTorch not found (set TESSERA_PYTHON, or apt-get install python3-torch)' };
  const script = join(projectRoot(), 'scripts', 'torch_bench.py');
  if (!existsSync(script)) return { stepS: null, note: `${script} missing` };
  const args = [script, '--dim', cfg.dim, '--layers', cfg.nLayers, '--heads', cfg.nHeads, '--kv-heads', cfg.nKvHeads, '--ffn', cfg.ffnHidden,
    '--vocab', cfg.vocabSize, '--seq', T, '--batch', B, '--steps', steps, '--warmup', warmup].map(String);
  // The best setting measured on this 2-core machine: one OpenMP thread, OpenBLAS on both cores.
  const env = { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: String(Math.min(2, cpus().length)) };
  const r = spawnSync(py, args, { env, encoding: 'utf8', timeout: 600_000 });
  const line = (r.stdout ?? '').trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (r.status !== 0 || !line) return { stepS: null, note: `torch benchmark failed: ${(r.stderr ?? '').trim().split('\n').pop() ?? ''}` };
  const j = JSON.parse(line) as { step_s: number; step_s_median?: number; torch_version?: string };
  return { stepS: j.step_s_median ?? j.step_s, note: `${py}, torch ${j.torch_version ?? '?'}, OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=${env.OPENBLAS_NUM_THREADS}` };
}

export function benchEngine(be: Backend, o: EngineBenchOptions): EngineBenchResult {
  const cfg = o.config ?? getPreset('reference');
  const B = o.batch, T = o.seq;
  const info = modelInfo(cfg);
  const flopsPerToken = info.flopsPerTokenAt(T);
  const addon = loadNativeAddon();
  const peak = addon ? addon.gemmPeak(1024, 5) : null;
  const stepS = timeTessera(be, cfg, B, T, o.steps, o.warmup);
  const torch = o.torch ? timeTorch(cfg, B, T, o.steps, o.warmup) : { stepS: null, note: 'skipped (--no-torch)' };
  const tokens = B * T;
  const gflops = (flopsPerToken * tokens) / stepS / 1e9;
  return {
    shape: { dim: cfg.dim, layers: cfg.nLayers, heads: cfg.nHeads, kv_heads: cfg.nKvHeads, ffn: cfg.ffnHidden, vocab: cfg.vocabSize, seq: T, batch: B, params: info.params },
    backend: be.name,
    tessera_tokens_per_s: tokens / stepS,
    tessera_step_s: stepS,
    torch_tokens_per_s: torch.stepS ? tokens / torch.stepS : null,
    torch_step_s: torch.stepS,
    torch_note: torch.note,
    ratio: torch.stepS ? torch.stepS / stepS : null,
    sgemm_peak_gflops: peak,
    tessera_gflops: gflops,
    mfu: peak ? gflops / peak : null,
    flops_per_token: flopsPerToken,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    threads: addon?.numThreads ?? 1,
    cpu: cpus()[0]?.model ?? 'unknown',
    date: new Date().toISOString(),
  };
}

// `tessera bench hetero`, the loss part: R SparseLoCo replicas simulated in one process, the same
// tokens per replica and the same H for every configuration; a replica is either a full one (one
// process holding the model) or a pipeline group of S stages whose boundary traffic goes through an
// activation codec (src/hetero). Configurations:
//   homogeneous  — R full replicas;
//   mixed        — R−1 full replicas + one pipeline group, subspace payloads;
//   all_pipeline — R pipeline groups, subspace payloads;
//   mixed_int8   — R−1 full replicas + one pipeline group, int8 payloads;
//   mixed_dense  — (optional) R−1 full + one group with float32 payloads: the pipeline machinery alone.
// Every group's stages encode their own tensors (hetero/payloads.ts) and the aggregate is the
// network's (compress/aggregate.ts). The socket part (utilization) is src/hetero/pipeline.ts.
import type { Backend } from '../engine/backend.js';
import { createLlama, initParams, type ModelConfig } from '../model/index.js';
import { adamwInit, lrAt, ADAMW_DEFAULTS, type AdamWState, type ScheduleConfig } from '../optim/index.js';
import { makeTrainable, trainStep, type Trainable } from '../train/step.js';
import { validationBatches, type Batch, type TrainData } from '../train/batches.js';
import { makeBatch, sampleWindows } from '../data/index.js';
import { evaluate } from '../train/evaluate.js';
import { CODEC_DEFAULTS, aggregateByUid, compress, type CodecConfig, type SparseUpdate } from '../compress/index.js';
import { DenseCodec, Int8Codec, SubspaceCodec, activationCompression, type ActivationCodec, type ActivationKind } from '../hetero/activations.js';
import { makeBasis } from '../hetero/subspace.js';
import { Stage, groupStep, splitLayers } from '../hetero/stages.js';
import { encodeStage, mergeStagePayloads } from '../hetero/payloads.js';
import { TesseraError } from '../util/errors.js';

export type HeteroConfigName = 'homogeneous' | 'mixed' | 'all_pipeline' | 'mixed_int8' | 'mixed_dense';
export const HETERO_CONFIGS: HeteroConfigName[] = ['homogeneous', 'mixed', 'all_pipeline', 'mixed_int8', 'mixed_dense'];
export const HETERO_DEFAULT_CONFIGS: HeteroConfigName[] = ['homogeneous', 'mixed', 'all_pipeline', 'mixed_int8'];

export interface HeteroLossOptions {
  model: ModelConfig;
  data: TrainData;
  replicas: number;
  stages: number;
  /** Subspace rank k (k/d of dense per token). */
  rank: number;
  micro: number;
  H: number;
  rounds: number;
  batch: number;
  seq: number;
  seed: number;
  innerLr: number;
  warmup: number;
  clip: number;
  alpha: number;
  codec: CodecConfig;
  evalBatches: number;
  evalEvery: number;
  configs: HeteroConfigName[];
  log: (s: string) => void;
}

export interface CurvePoint { tokensPerReplica: number; valLoss: number }

export interface ConfigResult {
  config: HeteroConfigName;
  /** Per replica: 'full' or the activation codec of its group. */
  replicas: ('full' | ActivationKind)[];
  finalValLoss: number;
  /** Boundary bytes per token of the pipeline groups (forward + backward, all boundaries), 0 without groups. */
  boundaryBytesPerToken: number;
  wallS: number;
  curve: CurvePoint[];
}

type Replica = { kind: 'full'; opt: AdamWState; ef: Float32Array } | { kind: 'group'; codec: ActivationKind; stages: Stage[]; ef: Float32Array };

function layoutOf(name: HeteroConfigName, R: number): ('full' | ActivationKind)[] {
  const one = (k: ActivationKind) => [...Array.from({ length: R - 1 }, () => 'full' as const), k];
  switch (name) {
    case 'homogeneous': return Array.from({ length: R }, () => 'full');
    case 'mixed': return one('subspace');
    case 'mixed_int8': return one('int8');
    case 'mixed_dense': return one('dense');
    case 'all_pipeline': return Array.from({ length: R }, () => 'subspace');
  }
}

export function makeActivationCodec(kind: ActivationKind, cfg: ModelConfig, rank: number, seed: number | string): ActivationCodec {
  if (kind === 'dense') return new DenseCodec(cfg.dim);
  if (kind === 'int8') return new Int8Codec(cfg.dim, seed);
  return new SubspaceCodec(makeBasis(cfg.dim, rank, seed), cfg.vocabSize);
}

export function runHeteroLoss(be: Backend, o: HeteroLossOptions, onProgress?: (r: ConfigResult[]) => void): ConfigResult[] {
  if (o.replicas < 2) throw new TesseraError('bench hetero: needs at least 2 replicas (one of them a pipeline group)');
  const cfg = { ...o.model, vocabSize: o.data.vocabSize, maxSeqLen: Math.max(o.model.maxSeqLen, o.seq) };
  const base = createLlama(cfg);
  initParams(cfg, base.layout, base.params, o.seed);
  const init = base.params.slice();
  const specs = base.layout.specs, n = base.layout.total, T = specs.length;
  const t: Trainable = makeTrainable(be, base, adamwInit(0), ADAMW_DEFAULTS, o.clip);
  const val = validationBatches(o.data, o.batch, o.seq, o.evalBatches);
  const sched: ScheduleConfig = { maxLr: o.innerLr, minLr: o.innerLr / 10, warmupSteps: o.warmup, totalSteps: o.rounds * o.H };
  const ranges = splitLayers(cfg.nLayers, o.stages);
  const batchOf = (uid: number, step: number): Batch =>
    makeBatch(o.data.train, sampleWindows(o.seed, uid, step, o.batch, o.data.train.length, o.seq), o.seq);
  const results: ConfigResult[] = [];
  for (const name of o.configs) {
    const kinds = layoutOf(name, o.replicas);
    o.log(`${name}: ${kinds.join(', ')} — ${o.rounds} rounds × H=${o.H} × ${o.batch}×${o.seq} tokens per replica`);
    const t0 = performance.now();
    const reps: Replica[] = kinds.map((k, r) => k === 'full'
      ? { kind: 'full', opt: adamwInit(n), ef: new Float32Array(n) }
      : {
        kind: 'group', codec: k, ef: new Float32Array(n),
        // every stage its own model copy and codec instance (as separate machines); the basis seed is the group's
        stages: ranges.map((_, s) => new Stage({ be, model: createLlama(cfg, init.slice()), s, ranges,
          codec: makeActivationCodec(k, cfg, o.rank, `group:${r}`), micro: o.micro, adamw: ADAMW_DEFAULTS, clip: o.clip }, adamwInit(n))),
      });
    const theta = init.slice(), delta = new Float32Array(n), agg = new Float32Array(n);
    const curve: CurvePoint[] = [];
    let boundaryBytes = 0, groupTokens = 0;
    for (let w = 0; w < o.rounds; w++) {
      const peers: { uid: number; update: SparseUpdate }[] = [];
      reps.forEach((rep, r) => {
        if (rep.kind === 'full') {
          t.model.params.set(theta);
          t.opt = rep.opt;
          for (let h = 0; h < o.H; h++) {
            const step = w * o.H + h, b = batchOf(r, step);
            trainStep(t, b.inputs, b.targets, o.batch, o.seq, lrAt(sched, step));
          }
          const p = t.model.params;
          for (let i = 0; i < n; i++) delta[i] = theta[i]! - p[i]!;
          peers.push({ uid: r, update: compress(delta, rep.ef, specs, o.codec) });
          return;
        }
        const start = new Float32Array(n);
        for (const st of rep.stages) {
          st.model.params.set(theta);
          st.beginWindow(); // the fixed table of this window; constrained tensors into span(U)
          for (const p of st.specs) start.set(st.model.params.subarray(p.offset, p.offset + p.size), p.offset);
        }
        for (let h = 0; h < o.H; h++) {
          const step = w * o.H + h, b = batchOf(r, step);
          const res = groupStep(rep.stages, b.inputs, b.targets, o.batch, o.seq, lrAt(sched, step));
          boundaryBytes += res.bytes;
          groupTokens += o.batch * o.seq;
        }
        // pseudo-gradient from the window's (projected) start: what this group's work changed
        const parts = rep.stages.map((st) => {
          for (const p of st.specs) for (let i = p.offset; i < p.offset + p.size; i++) delta[i] = start[i]! - st.model.params[i]!;
          return encodeStage(st.s, delta, rep.ef, specs, st.specs, o.codec);
        });
        peers.push({ uid: r, update: mergeStagePayloads(parts, T) });
      });
      aggregateByUid(peers, specs, o.codec, n, agg);
      for (let i = 0; i < n; i++) theta[i] = theta[i]! - o.alpha * agg[i]!;
      if ((w + 1) % o.evalEvery === 0 || w + 1 === o.rounds) {
        t.model.params.set(theta);
        const v = evaluate(be, t.model, val, o.batch, o.seq);
        const tokens = (w + 1) * o.H * o.batch * o.seq;
        curve.push({ tokensPerReplica: tokens, valLoss: v });
        o.log(`  round ${w + 1}/${o.rounds}: ${(tokens / 1e6).toFixed(3)}M tokens/replica, val loss ${v.toFixed(4)}`);
      }
    }
    results.push({ config: name, replicas: kinds, finalValLoss: curve[curve.length - 1]!.valLoss,
      boundaryBytesPerToken: groupTokens ? boundaryBytes / groupTokens : 0, wallS: (performance.now() - t0) / 1000, curve });
    onProgress?.(results);
  }
  return results;
}

/** The headline numbers from the loss results (null where a configuration was not run). */
export function heteroSummary(results: ConfigResult[], o: Pick<HeteroLossOptions, 'model' | 'rank' | 'stages' | 'data'>) {
  const loss = (c: HeteroConfigName) => results.find((r) => r.config === c)?.finalValLoss ?? null;
  const hom = loss('homogeneous');
  const gap = (c: HeteroConfigName) => { const l = loss(c); return l === null || hom === null ? null : (l - hom) / hom; };
  const cfg = { ...o.model, vocabSize: o.data.vocabSize };
  const sub = makeActivationCodec('subspace', cfg, o.rank, 'summary'), i8 = makeActivationCodec('int8', cfg, o.rank, 'summary');
  const bpt = sub.bytesPerToken();
  return {
    loss_homogeneous: hom, loss_mixed: loss('mixed'), loss_all_pipeline: loss('all_pipeline'), loss_mixed_int8: loss('mixed_int8'),
    loss_mixed_dense: loss('mixed_dense'),
    gap_mixed: gap('mixed'), gap_all_pipeline: gap('all_pipeline'), gap_mixed_int8: gap('mixed_int8'), gap_mixed_dense: gap('mixed_dense'),
    activation_compression: activationCompression(sub), activation_compression_int8: activationCompression(i8),
    bytes_per_token: { subspace_forward: bpt.forward, subspace_backward: bpt.backward, int8_each_way: i8.bytesPerToken().forward, dense_each_way: 4 * cfg.dim },
    measured_boundary_bytes_per_token: Object.fromEntries(results.filter((r) => r.boundaryBytesPerToken > 0).map((r) => [r.config, r.boundaryBytesPerToken])),
    rank: o.rank, dim: cfg.dim, stages: o.stages,
  };
}

export const HETERO_DEFAULTS = {
  replicas: 4, stages: 2, rank: 12, micro: 2, H: 5, rounds: 60, batch: 8, seq: 128, seed: 1, innerLr: 2e-3, warmup: 20, clip: 1.0,
  alpha: 1.0, codec: CODEC_DEFAULTS, evalBatches: 8, evalEvery: 5,
};

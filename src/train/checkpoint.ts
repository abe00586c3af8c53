// Checkpoints: a directory per step holding model.safetensors (LLaMA-named weights),
// optimizer.safetensors (AdamW moments), tokenizer.json and checkpoint.json (config, tokenizer
// identity, optimizer/schedule state, file hashes). Written into a temp dir then renamed, and
// `latest` is replaced atomically after, so a kill at any point leaves the previous one intact.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { TesseraError } from '../util/errors.js';
import { getTensor, readSafetensors, writeSafetensors } from '../util/safetensors.js';
import type { ModelConfig } from '../model/config.js';
import type { ParamLayout } from '../model/params.js';
import type { AdamWConfig } from '../optim/index.js';

export const CHECKPOINT_FORMAT = 'tessera-checkpoint';
export const CHECKPOINT_VERSION = 1;

export interface CheckpointMeta {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  step: number;
  tokensSeen: number;
  model: ModelConfig;
  tokenizer: { hash: string; vocabSize: number };
  optimizer: { adamw: AdamWConfig; step: number };
  /** Everything else the trainer needs to continue exactly (schedule, batch, seed, ...). */
  train: Record<string, unknown>;
  valLoss: number | null;
  files: Record<string, string>;
  created: string;
}

export interface CheckpointData {
  meta: CheckpointMeta;
  dir: string;
  params: Float32Array;
  m: Float32Array | null;
  v: Float32Array | null;
  tokenizerPath: string;
}

const sha256File = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
const stepDir = (step: number) => `step-${String(step).padStart(7, '0')}`;

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** Saves a checkpoint under root/step-NNNNNNN and points root/latest at it; keeps the newest `keep`. */
export function saveCheckpoint(root: string, layout: ParamLayout, params: Float32Array,
  opt: { m: Float32Array; v: Float32Array } | null, tokenizerPath: string,
  meta: Omit<CheckpointMeta, 'format' | 'version' | 'files' | 'created'>, keep = 3): string {
  mkdirSync(root, { recursive: true });
  const name = stepDir(meta.step);
  const tmp = join(root, `.${name}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  const weights: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
  for (const s of layout.specs) weights[s.name] = { dtype: 'F32', shape: [...s.shape], data: params.subarray(s.offset, s.offset + s.size) };
  writeSafetensors(join(tmp, 'model.safetensors'), weights, { format: 'pt' });
  if (opt) {
    writeSafetensors(join(tmp, 'optimizer.safetensors'), {
      'adamw.m': { dtype: 'F32', shape: [opt.m.length], data: opt.m },
      'adamw.v': { dtype: 'F32', shape: [opt.v.length], data: opt.v },
    });
  }
  copyFileSync(tokenizerPath, join(tmp, 'tokenizer.json'));
  const files: Record<string, string> = {};
  for (const f of readdirSync(tmp).sort()) files[f] = sha256File(join(tmp, f));
  const full: CheckpointMeta = { format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, ...meta, files, created: new Date().toISOString() };
  writeFileSync(join(tmp, 'checkpoint.json'), JSON.stringify(full, null, 2));
  const final = join(root, name);
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  writeAtomic(join(root, 'latest'), name + '\n');
  pruneCheckpoints(root, keep);
  return final;
}

function pruneCheckpoints(root: string, keep: number): void {
  const dirs = readdirSync(root).filter((d) => /^step-\d+$/.test(d)).sort();
  for (const d of dirs.slice(0, Math.max(0, dirs.length - keep))) rmSync(join(root, d), { recursive: true, force: true });
}

/**
 * Finds the checkpoint directory for `path`: a step directory itself, or a checkpoints root
 * (follows `latest`), or a run directory containing `checkpoints/`. Null when none exists yet.
 */
export function findCheckpoint(path: string): string | null {
  if (!existsSync(path)) return null;
  if (existsSync(join(path, 'checkpoint.json'))) return path;
  const root = existsSync(join(path, 'checkpoints')) ? join(path, 'checkpoints') : path;
  const latest = join(root, 'latest');
  if (existsSync(latest)) {
    const d = join(root, readFileSync(latest, 'utf8').trim());
    if (existsSync(join(d, 'checkpoint.json'))) return d;
  }
  const dirs = existsSync(root) && statSync(root).isDirectory() ? readdirSync(root).filter((d) => /^step-\d+$/.test(d)).sort() : [];
  return dirs.length ? join(root, dirs[dirs.length - 1]!) : null;
}

/** Reads and checks checkpoint.json (format, version, file hashes). */
export function readCheckpointMeta(dir: string): CheckpointMeta {
  const metaPath = join(dir, 'checkpoint.json');
  const redo = 'delete this checkpoint directory to fall back to the previous one, or start training afresh';
  if (!existsSync(metaPath)) throw new TesseraError(`${dir} is not a tessera checkpoint (no checkpoint.json)`, 'pass a checkpoint directory written by "tessera train"');
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(readFileSync(metaPath, 'utf8')) as CheckpointMeta;
  } catch (e) {
    throw new TesseraError(`${metaPath} is corrupt: ${(e as Error).message}`, redo);
  }
  if (meta.format !== CHECKPOINT_FORMAT || meta.version !== CHECKPOINT_VERSION) {
    throw new TesseraError(`${metaPath}: unsupported checkpoint format ${String(meta.format)} v${String(meta.version)}`, 'use a checkpoint written by this version of tessera');
  }
  for (const [f, hash] of Object.entries(meta.files ?? {})) {
    const p = join(dir, f);
    if (!existsSync(p)) throw new TesseraError(`${p} is missing from the checkpoint`, redo);
    if (sha256File(p) !== hash) throw new TesseraError(`${p} is corrupt (its sha256 does not match checkpoint.json)`, redo);
  }
  return meta;
}

/** Loads and verifies a checkpoint into the flat layout. withOptimizer=false skips the moments. */
export function loadCheckpoint(dir: string, layout: ParamLayout, withOptimizer: boolean): CheckpointData {
  const meta = readCheckpointMeta(dir);
  const modelFile = join(dir, 'model.safetensors');
  const contents = readSafetensors(modelFile);
  const total = layout.total;
  const params = new Float32Array(total);
  for (const s of layout.specs) params.set(getTensor(contents, modelFile, s.name, 'F32', s.shape).data, s.offset);
  let m: Float32Array | null = null, v: Float32Array | null = null;
  if (withOptimizer && meta.files['optimizer.safetensors']) {
    const of = join(dir, 'optimizer.safetensors');
    const oc = readSafetensors(of);
    m = getTensor(oc, of, 'adamw.m', 'F32', [total]).data.slice();
    v = getTensor(oc, of, 'adamw.v', 'F32', [total]).data.slice();
  }
  return { meta, dir, params, m, v, tokenizerPath: join(dir, 'tokenizer.json') };
}

export const checkpointName = (dir: string) => basename(dir);

// `tessera eval`: one model (any source in source.ts), its held-out loss and bits per byte, the
// cloze task of its held-out split and every multiple-choice task file given, as one JSON result.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend } from '../engine/backend.js';
import { createLlama } from '../model/llama.js';
import { loadDataset } from '../data/index.js';
import { TesseraError } from '../util/errors.js';
import { formatDuration } from '../util/progress.js';
import { runMultipleChoice, tokenizeExample, type MCScore } from './harness.js';
import { buildCloze, CLOZE_DEFAULTS, heldOutLoss, type ClozeOptions, type HeldOut } from './heldout.js';
import { openModel } from './source.js';
import { readTask, type Layout } from './tasks.js';

export interface EvalOptions {
  checkpoint: string;
  /** Prepared dataset for the held-out split; default: the one the source names (a devnet's). */
  data?: string;
  /** Task files, optionally "name=path". */
  tasks: string[];
  /** Cloze examples from the held-out split (0 = none). */
  cloze: ClozeOptions;
  /** Held-out predictions at most. */
  valTokens: number;
  /** Window length for the held-out loss (default: the model's maxSeqLen). */
  seq?: number;
  batch: number;
  /** Examples per task file at most (0 = all). */
  limit: number;
  /** Progress lines (stderr). */
  progress?: (text: string, final?: boolean) => void;
}

export interface TaskResult extends MCScore {
  file: string;
  layout: Layout | 'cloze';
}

export interface EvalResult {
  model: { source: string; kind: string; fingerprint: string; step: number | null; params: number; config: Record<string, unknown> };
  data: string | null;
  val_loss: number | null;
  bits_per_byte: number | null;
  held_out: HeldOut | null;
  tasks: Record<string, TaskResult>;
  elapsed_s: number;
}

/** A text progress bar: `label [#####.....] done/total unit  eta`. */
export function progressBar(label: string, done: number, total: number, unit: string, elapsedS: number): string {
  const w = 24, f = total > 0 ? Math.min(1, done / total) : 1;
  const fill = Math.round(f * w);
  const eta = f > 0 && f < 1 ? ` ETA ${formatDuration((elapsedS * (1 - f)) / f)}` : '';
  return `${label} [${'#'.repeat(fill)}${'.'.repeat(w - fill)}] ${done}/${total} ${unit}${eta}`;
}

export async function runEval(be: Backend, o: EvalOptions): Promise<EvalResult> {
  const t0 = performance.now();
  const src = await openModel(o.checkpoint);
  const model = createLlama(src.config, src.params);
  const say = o.progress ?? (() => {});
  const bar = (label: string, unit: string) => {
    const s = performance.now();
    return (d: number, t: number) => say(progressBar(label, d, t, unit, (performance.now() - s) / 1000), d === t);
  };
  const dataDir = o.data ?? src.dataDir;
  let held: HeldOut | null = null;
  const tasks: Record<string, TaskResult> = {};
  if (dataDir) {
    if (!existsSync(join(dataDir, 'manifest.json'))) throw new TesseraError(`${dataDir} is not a prepared dataset (no manifest.json)`, 'pass --data DIR written by `tessera data prepare` with the model\'s tokenizer');
    const ds = loadDataset(dataDir);
    if (ds.tokenizer.hash() !== src.tokenizer.hash()) {
      throw new TesseraError(`the dataset ${dataDir} was tokenized with another tokenizer (${join(dataDir, ds.manifest.tokenizer.file)}, hash ${ds.tokenizer.hash().slice(0, 12)}…) than the model's ${src.tokenizerPath} (${src.tokenizer.hash().slice(0, 12)}…)`,
        `prepare the held-out text with the model's tokenizer: tessera data prepare INPUTS --tokenizer ${src.tokenizerPath} --out DIR, and pass --data DIR`);
    }
    const seq = Math.min(o.seq ?? src.config.maxSeqLen, src.config.maxSeqLen);
    held = heldOutLoss(be, model, src.tokenizer, ds.val, seq, o.batch, o.valTokens, bar('held-out', 'windows'));
    if (o.cloze.n > 0) {
      const ex = buildCloze(ds.val, src.tokenizer, o.cloze);
      tasks.cloze = { file: join(dataDir, 'val_*.bin'), layout: 'cloze', ...runMultipleChoice(be, model, ex, o.batch, bar('cloze', 'requests')) };
    }
  }
  const eot = src.tokenizer.eotId;
  for (const spec of o.tasks) {
    const eq = spec.indexOf('=');
    const [name, file] = eq > 0 && !existsSync(spec) ? [spec.slice(0, eq), spec.slice(eq + 1)] : [undefined, spec];
    if (!existsSync(file)) throw new TesseraError(`task file not found: ${file}`, 'pass --task FILE (a HellaSwag, ARC or MMLU .jsonl / .parquet), optionally as NAME=FILE');
    const task = await readTask(file, name);
    const examples = o.limit > 0 ? task.examples.slice(0, o.limit) : task.examples;
    const tok = examples.map((e) => tokenizeExample(src.tokenizer, e, eot === undefined ? [] : [eot]));
    let key = task.name;
    for (let k = 2; tasks[key]; k++) key = `${task.name}-${k}`;
    tasks[key] = { file, layout: task.layout, ...runMultipleChoice(be, model, tok, o.batch, bar(key, 'requests')) };
  }
  const c = src.config;
  return {
    model: { source: src.description, kind: src.kind, fingerprint: src.fingerprint, step: src.step, params: src.params.length, config: { ...c } },
    data: dataDir ?? null,
    val_loss: held?.val_loss ?? null,
    bits_per_byte: held?.bits_per_byte ?? null,
    held_out: held,
    tasks,
    elapsed_s: (performance.now() - t0) / 1000,
  };
}

export { CLOZE_DEFAULTS };

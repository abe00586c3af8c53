// What the held-out split says about a model: mean next-token loss over non-overlapping windows,
// bits per byte (the same loss in bits, divided by the UTF-8 bytes of the predicted tokens, so
// models with different tokenizers compare), and a cloze task built deterministically from it.
import type { Backend } from '../engine/backend.js';
import { Graph } from '../engine/autograd.js';
import type { Llama } from '../model/llama.js';
import { evalLoss } from '../train/step.js';
import type { Tokenizer } from '../data/index.js';
import { makeRng } from '../util/rng.js';
import { rowsFor, type TokenizedExample } from './harness.js';

/** UTF-8 bytes each token id stands for (specials and unused ids: 0). */
export function tokenBytes(tok: Tokenizer, vocabSize: number): Uint16Array {
  const out = new Uint16Array(vocabSize);
  const special = new Set(tok.special.map((s) => s.id));
  for (let id = 0; id < vocabSize; id++) {
    const t = tok.tokenOf(id);
    // Byte-level tokens are one character per byte.
    if (t !== undefined && !special.has(id)) out[id] = [...t].length;
  }
  return out;
}

export interface HeldOut {
  val_loss: number;
  /** Tokens predicted. */
  val_tokens: number;
  /** UTF-8 bytes of the predicted tokens (document separators count 0). */
  val_bytes: number;
  bits_per_byte: number;
  /** Sequence length of the windows. */
  seq: number;
}

/**
 * Loss over consecutive windows of `seq` + 1 tokens of `val` (at most `maxTokens` predictions), B at
 * a time; the last partial batch is evaluated with fewer rows.
 */
export function heldOutLoss(be: Backend, model: Llama, tok: Tokenizer, val: ArrayLike<number>, seq: number, B: number, maxTokens: number, onBatch?: (done: number, total: number) => void): HeldOut {
  const windows = Math.min(Math.floor((val.length - 1) / seq), Math.max(1, Math.floor(maxTokens / seq)));
  if (windows < 1) throw new Error(`the held-out split has ${val.length} tokens, fewer than one window of ${seq + 1}`);
  const bytesOf = tokenBytes(tok, model.config.vocabSize);
  const g = new Graph(be, false);
  B = rowsFor(B, seq, model.config.vocabSize);
  let nats = 0, bytes = 0;
  for (let w = 0; w < windows; w += B) {
    const rows = Math.min(B, windows - w);
    const inputs = new Int32Array(rows * seq), targets = new Int32Array(rows * seq);
    for (let r = 0; r < rows; r++) {
      const o = (w + r) * seq;
      for (let t = 0; t < seq; t++) {
        inputs[r * seq + t] = val[o + t]!;
        const y = val[o + t + 1]!;
        targets[r * seq + t] = y;
        bytes += bytesOf[y]!;
      }
    }
    nats += evalLoss(be, model, inputs, targets, rows, seq, g) * rows * seq;
    onBatch?.(Math.min(windows, w + rows), windows);
  }
  const n = windows * seq;
  return { val_loss: nats / n, val_tokens: n, val_bytes: bytes, bits_per_byte: bytes > 0 ? nats / Math.LN2 / bytes : NaN, seq };
}

export interface ClozeOptions {
  /** Examples (at most; fewer when the split is short). */
  n: number;
  /** Context tokens before the blank. */
  context: number;
  /** Tokens of each continuation. */
  length: number;
  /** Choices per example (1 true continuation + distractors). */
  choices: number;
  seed: number;
}

export const CLOZE_DEFAULTS: ClozeOptions = { n: 200, context: 48, length: 8, choices: 4, seed: 1 };

/**
 * The cloze task: evenly spaced spans of the held-out split (context, then `length` tokens), no span
 * crossing a document separator; the choices are the true continuation and the continuations of
 * other spans, the gold position drawn from a seeded RNG. Same split + options ⇒ same task.
 */
export function buildCloze(val: ArrayLike<number>, tok: Tokenizer, o: ClozeOptions): TokenizedExample[] {
  const span = o.context + o.length;
  const eot = tok.eotId;
  const starts: number[] = [];
  for (let s = 0; s + span <= val.length; s += span) {
    let ok = true;
    for (let t = s; t < s + span; t++) if (val[t] === eot) { ok = false; break; }
    if (ok) starts.push(s);
  }
  if (starts.length < o.choices) throw new Error(`the held-out split has ${starts.length} spans of ${span} tokens without a document break, fewer than ${o.choices}`);
  const n = Math.min(o.n, starts.length);
  const stride = starts.length / n;
  const picked = Array.from({ length: n }, (_, i) => starts[Math.floor(i * stride)]!);
  const cont = picked.map((s) => Array.from({ length: o.length }, (_, k) => val[s + o.context + k]!));
  const rng = makeRng(`cloze:${o.seed}`);
  const prefix = eot === undefined ? [] : [eot];
  return picked.map((s, i) => {
    const ctx = Array.from({ length: o.context }, (_, k) => val[s + k]!);
    const others = new Set<number>();
    for (let tries = 0; others.size < o.choices - 1; tries++) {
      if (tries > 100 * o.choices) throw new Error(`the held-out split has too few distinct ${o.length}-token continuations for ${o.choices} choices`);
      const j = Math.floor(rng.nextFloat() * n);
      if (j !== i && !sameTokens(cont[j]!, cont[i]!)) others.add(j);
    }
    const gold = Math.floor(rng.nextFloat() * o.choices);
    const alts = [...others].map((j) => cont[j]!);
    alts.splice(gold, 0, cont[i]!);
    return {
      requests: alts.map((c) => ({ tokens: [...prefix, ...ctx, ...c], contLen: c.length })),
      lengths: alts.map((c) => [...tok.decode(c)].length),
      gold,
    };
  });
}

const sameTokens = (a: number[], b: number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

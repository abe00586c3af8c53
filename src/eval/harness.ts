// The log-likelihood harness, as lm-evaluation-harness scores multiple choice: for each example the
// model scores every choice as a continuation of the context; acc takes the choice with the highest
// summed log-likelihood, acc_norm the highest log-likelihood per character of the choice. Requests
// are batched by length (right-padded; the causal mask keeps padding out of earlier positions), and
// windows longer than the model's context keep their last maxSeqLen + 1 tokens, as lm-eval does.
import type { Backend } from '../engine/backend.js';
import { Graph } from '../engine/autograd.js';
import { forward, type Llama } from '../model/llama.js';
import type { Tokenizer } from '../data/index.js';
import type { MCExample } from './tasks.js';

/** One scored continuation: `tokens` = context then continuation; the last `contLen` are scored. */
export interface LLRequest {
  tokens: number[];
  contLen: number;
}

/** A tokenized multiple-choice example: one request per choice, and each choice's length for acc_norm. */
export interface TokenizedExample {
  requests: LLRequest[];
  /** Characters of each choice (lm-eval normalizes by len(choice)). */
  lengths: number[];
  gold: number;
}

/**
 * lm-eval's _encode_pair: trailing spaces of the context move to the continuation, the pair is
 * encoded whole and the continuation is what follows the context's own encoding. `prefix` (the
 * document-start token, <|endoftext|> for tessera models) goes in front of every context.
 */
export function encodePair(tok: Tokenizer, context: string, continuation: string, prefix: number[]): LLRequest {
  const n = context.length - context.trimEnd().length;
  if (n > 0) { continuation = context.slice(-n) + continuation; context = context.slice(0, -n); }
  const whole = tok.encode(context + continuation);
  const ctx = tok.encode(context);
  const sharesPrefix = ctx.every((id, i) => whole[i] === id);
  const cont = sharesPrefix ? whole.slice(ctx.length) : tok.encode(continuation);
  return { tokens: [...prefix, ...ctx, ...cont], contLen: cont.length };
}

/** lm-eval's target_delimiter between context and choice. */
export const TARGET_DELIMITER = ' ';

/** Characters as Python's len() counts them (code points). */
const chars = (s: string): number => [...s].length;

export function tokenizeExample(tok: Tokenizer, ex: MCExample, prefix: number[]): TokenizedExample {
  // lm-eval: the continuation is the target delimiter " " + the choice; acc_norm divides by len(choice).
  return { requests: ex.choices.map((c) => encodePair(tok, ex.context, TARGET_DELIMITER + c, prefix)), lengths: ex.choices.map(chars), gold: ex.gold };
}

/**
 * Summed log-likelihood (nats) of each request's continuation, in request order. `onBatch` gets the
 * number of requests done so far.
 */
export function logLikelihoods(be: Backend, model: Llama, reqs: readonly LLRequest[], batchSize: number, onBatch?: (done: number) => void): Float64Array {
  const T = model.config.maxSeqLen, V = model.config.vocabSize;
  const out = new Float64Array(reqs.length);
  const prepared = reqs.map((r, i) => {
    if (r.contLen < 1) throw new Error(`request ${i} has an empty continuation`);
    if (r.tokens.length < r.contLen + 1) throw new Error(`request ${i} has no context token before its continuation`);
    const win = r.tokens.slice(-(T + 1));
    return { i, input: win.slice(0, -1), target: win.slice(1), scored: Math.min(r.contLen, win.length - 1) };
  });
  // Longest first, so each batch's padding is small and the first batch shows the memory peak.
  prepared.sort((a, b) => b.input.length - a.input.length || a.i - b.i);
  const g = new Graph(be, false);
  let done = 0;
  for (let s = 0; s < prepared.length;) {
    const L = prepared[s]!.input.length;
    const batch = prepared.slice(s, s + rowsFor(batchSize, L, V));
    s += batch.length;
    const B = batch.length;
    const ids = new Int32Array(B * L);
    batch.forEach((p, b) => ids.set(p.input, b * L));
    const logits = forward(g, model, ids, B, L).data;
    batch.forEach((p, b) => {
      let ll = 0;
      const n = p.input.length;
      for (let t = n - p.scored; t < n; t++) ll += logSoftmaxAt(logits, (b * L + t) * V, V, p.target[t]!);
      out[p.i] = ll;
    });
    g.reset();
    done += B;
    onBatch?.(done);
  }
  return out;
}

/** Logits held at once at most (float32 values): 64 Mi = 256 MiB, whatever the vocabulary. */
export const MAX_LOGITS = 1 << 26;

/** Rows per forward pass: `batch`, fewer when B × L × V logits would exceed MAX_LOGITS (at least 1). */
export function rowsFor(batch: number, L: number, V: number): number {
  return Math.max(1, Math.min(batch, Math.floor(MAX_LOGITS / (L * V))));
}

/** log softmax(row)[k] in float64. */
export function logSoftmaxAt(x: Float32Array, off: number, V: number, k: number): number {
  let max = -Infinity;
  for (let j = 0; j < V; j++) if (x[off + j]! > max) max = x[off + j]!;
  let sum = 0;
  for (let j = 0; j < V; j++) sum += Math.exp(x[off + j]! - max);
  return x[off + k]! - max - Math.log(sum);
}

export interface MCScore {
  n: number;
  acc: number;
  acc_stderr: number;
  acc_norm: number;
  acc_norm_stderr: number;
  /** Expected acc of a uniform guess: mean of 1/choices. */
  chance: number;
}

/** First index of the maximum (numpy argmax). */
export function argmax(xs: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i]! > xs[best]!) best = i;
  return best;
}

/** acc and acc_norm from the log-likelihoods of each example's choices (ll[e][c]). */
export function scoreChoices(examples: readonly { lengths: number[]; gold: number }[], ll: readonly number[][]): MCScore {
  let acc = 0, accNorm = 0, chance = 0;
  examples.forEach((ex, e) => {
    const l = ll[e]!;
    if (argmax(l) === ex.gold) acc++;
    if (argmax(l.map((v, c) => v / Math.max(1, ex.lengths[c]!))) === ex.gold) accNorm++;
    chance += 1 / l.length;
  });
  const n = examples.length;
  // lm-eval's stderr of a mean: sample standard deviation / sqrt(n).
  const se = (k: number): number => (n > 1 ? Math.sqrt(((k / n) * (1 - k / n) * n) / (n - 1) / n) : NaN);
  return { n, acc: acc / n, acc_stderr: se(acc), acc_norm: accNorm / n, acc_norm_stderr: se(accNorm), chance: chance / n };
}

/** Scores tokenized examples: all requests in one batched pass, then acc / acc_norm. */
export function runMultipleChoice(be: Backend, model: Llama, examples: readonly TokenizedExample[], batchSize: number, onBatch?: (done: number, total: number) => void): MCScore {
  const reqs = examples.flatMap((e) => e.requests);
  const ll = logLikelihoods(be, model, reqs, batchSize, (d) => onBatch?.(d, reqs.length));
  let k = 0;
  const per = examples.map((e) => e.requests.map(() => ll[k++]!));
  return scoreChoices(examples, per);
}

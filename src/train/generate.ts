// Text generation from a checkpoint: encode the prompt, then repeatedly run the model over the
// last maxSeqLen tokens and sample the next one (temperature + top-k, seeded).
import type { Backend } from '../engine/backend.js';
import { Graph } from '../engine/autograd.js';
import { createLlama, forward } from '../model/index.js';
import { makeRng } from '../util/rng.js';
import { loadTokenizer } from '../data/index.js';
import { loadCheckpoint, readCheckpointMeta } from './checkpoint.js';
import { paramLayout } from '../model/params.js';

export interface GenerateOptions {
  prompt: string;
  maxTokens: number;
  temperature: number;
  topK: number;
  seed: number;
}

/** Samples an index from logits row with temperature and top-k (temperature 0 = greedy). */
export function sampleToken(logits: Float32Array, temperature: number, topK: number, u: number): number {
  const V = logits.length;
  if (temperature <= 0) {
    let best = 0;
    for (let i = 1; i < V; i++) if (logits[i]! > logits[best]!) best = i;
    return best;
  }
  const idx = Array.from({ length: V }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]! || a - b);
  const keep = idx.slice(0, topK > 0 ? Math.min(topK, V) : V);
  const max = logits[keep[0]!]!;
  const w = keep.map((i) => Math.exp((logits[i]! - max) / temperature));
  const total = w.reduce((a, b) => a + b, 0);
  let r = u * total;
  for (let j = 0; j < keep.length; j++) {
    r -= w[j]!;
    if (r <= 0) return keep[j]!;
  }
  return keep[keep.length - 1]!;
}

export function generate(be: Backend, checkpointDir: string, o: GenerateOptions, onToken?: (text: string) => void): string {
  const meta = readCheckpointMeta(checkpointDir);
  const layout = paramLayout(meta.model);
  const ck = loadCheckpoint(checkpointDir, layout, false);
  const model = createLlama(meta.model, ck.params);
  const tok = loadTokenizer(ck.tokenizerPath);
  const ids = tok.encode(o.prompt);
  if (ids.length === 0) ids.push(tok.eotId ?? 0);
  const rng = makeRng(`generate:${o.seed}`);
  const g = new Graph(be, false);
  const T = meta.model.maxSeqLen;
  const V = meta.model.vocabSize;
  const out: number[] = [];
  for (let n = 0; n < o.maxTokens; n++) {
    const ctx = Int32Array.from(ids.slice(-T));
    const logits = forward(g, model, ctx, 1, ctx.length);
    const next = sampleToken(logits.data.subarray((ctx.length - 1) * V, ctx.length * V), o.temperature, o.topK, rng.nextFloat());
    g.reset();
    if (next === tok.eotId) break;
    ids.push(next);
    out.push(next);
    onToken?.(tok.decode(out));
  }
  return tok.decode(out);
}

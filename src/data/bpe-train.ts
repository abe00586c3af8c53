// Byte-level BPE training: count unique pre-tokens once, then merge incrementally with global
// pair counts, a pair→words index and a lazy max-heap, so each merge touches only affected words.
import { BYTE_TO_CHAR, gpt2Regex } from './bytelevel.js';

/** Pair keys pack two ids into one safe integer; ids must stay below this. */
export const PAIR_KEY_BASE = 1 << 21;
const pairKey = (a: number, b: number): number => a * PAIR_KEY_BASE + b;

export interface TrainResult {
  /** id → byte-level token string; ids 0..255 are the single bytes in byte order. */
  tokens: string[];
  /** Merges in rank order, as pairs of token strings. */
  merges: [string, string][];
}

export interface TrainOptions {
  /** Number of non-special tokens to reach: 256 bytes + learned merges. */
  targetTokens: number;
  /** Stop when the best pair occurs fewer times than this (default 2). */
  minFrequency?: number;
  onProgress?: (msg: string) => void;
}

/** Counts pre-tokens (GPT-2 regex) across documents; the only pass over the raw text. */
export function countPretokens(docs: Iterable<string>, counts = new Map<string, number>()): Map<string, number> {
  const re = gpt2Regex();
  for (const doc of docs) {
    re.lastIndex = 0;
    for (let m = re.exec(doc); m !== null; m = re.exec(doc)) {
      counts.set(m[0], (counts.get(m[0]) ?? 0) + 1);
    }
  }
  return counts;
}

interface Entry { c: number; a: number; b: number }

/** Max-heap on count; ties go to the lexicographically smallest (tokens[a], tokens[b]). */
class PairHeap {
  private h: Entry[] = [];
  constructor(private readonly tokens: string[]) {}
  get size(): number { return this.h.length; }
  private before(x: Entry, y: Entry): boolean {
    if (x.c !== y.c) return x.c > y.c;
    const ta = this.tokens[x.a], ua = this.tokens[y.a];
    if (ta !== ua) return ta < ua;
    return this.tokens[x.b] < this.tokens[y.b];
  }
  push(e: Entry): void {
    const h = this.h;
    let i = h.push(e) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }
  pop(): Entry | undefined {
    const h = this.h;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && this.before(h[l], h[m])) m = l;
        if (r < h.length && this.before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

/** Learns merges from pre-token counts. Deterministic: depends only on the multiset of pre-tokens. */
export function trainBpe(pretokenCounts: Map<string, number>, opts: TrainOptions): TrainResult {
  const minFreq = opts.minFrequency ?? 2;
  const tokens: string[] = BYTE_TO_CHAR.slice();
  const tokenId = new Map<string, number>(tokens.map((t, i) => [t, i]));
  const merges: [string, string][] = [];
  // Sort pre-tokens so word order (and thus everything below) is independent of Map insertion order.
  const enc = new TextEncoder();
  const keys = [...pretokenCounts.keys()].sort();
  const words: number[][] = keys.map((k) => Array.from(enc.encode(k)));
  const wcount = keys.map((k) => pretokenCounts.get(k) as number);

  const counts = new Map<number, number>();
  const where = new Map<number, number[]>();
  const add = (k: number, d: number): void => {
    const v = (counts.get(k) ?? 0) + d;
    if (v === 0) counts.delete(k); else counts.set(k, v);
  };
  const index = (k: number, w: number): void => {
    const l = where.get(k);
    if (l === undefined) where.set(k, [w]); else if (l[l.length - 1] !== w) l.push(w);
  };
  words.forEach((sym, w) => {
    for (let j = 0; j + 1 < sym.length; j++) { const k = pairKey(sym[j], sym[j + 1]); add(k, wcount[w]); index(k, w); }
  });
  const heap = new PairHeap(tokens);
  for (const [k, c] of counts) heap.push({ c, a: Math.floor(k / PAIR_KEY_BASE), b: k % PAIR_KEY_BASE });

  const seen = new Int32Array(words.length).fill(-1);
  while (tokens.length < opts.targetTokens && heap.size > 0) {
    const top = heap.pop() as Entry;
    const k = pairKey(top.a, top.b);
    const cur = counts.get(k) ?? 0;
    // Lazy deletion: counts only drop for old pairs, so a stale entry is re-queued at its true count.
    if (cur !== top.c) { if (cur > 0) heap.push({ c: cur, a: top.a, b: top.b }); continue; }
    if (cur < minFreq) break;
    const merged = tokens[top.a] + tokens[top.b];
    let id = tokenId.get(merged);
    if (id === undefined) { id = tokens.push(merged) - 1; tokenId.set(merged, id); }
    if (id >= PAIR_KEY_BASE) throw new RangeError(`vocabulary exceeds ${PAIR_KEY_BASE} tokens`);
    merges.push([tokens[top.a], tokens[top.b]]);
    const touched = applyMerge(words, wcount, where.get(k) ?? [], top.a, top.b, id, merges.length, seen, add, index);
    where.delete(k);
    counts.delete(k);
    for (const t of touched) {
      const c = counts.get(t);
      if (c !== undefined) heap.push({ c, a: Math.floor(t / PAIR_KEY_BASE), b: t % PAIR_KEY_BASE });
    }
    if (opts.onProgress && merges.length % 1000 === 0) opts.onProgress(`bpe: ${merges.length} merges, vocab ${tokens.length}`);
  }
  return { tokens, merges };
}

/**
 * Rewrites every word containing (a, b) with left-to-right non-overlapping merges into `id`,
 * updating pair counts by diff (old pairs out, new pairs in). Returns pair keys that gained counts.
 */
function applyMerge(
  words: number[][], wcount: number[], list: number[], a: number, b: number, id: number, stamp: number,
  seen: Int32Array, add: (k: number, d: number) => void, index: (k: number, w: number) => void,
): Set<number> {
  const touched = new Set<number>();
  for (const w of list) {
    if (seen[w] === stamp) continue;
    seen[w] = stamp;
    const sym = words[w];
    const out: number[] = [];
    let hit = false;
    for (let i = 0; i < sym.length;) {
      if (i + 1 < sym.length && sym[i] === a && sym[i + 1] === b) { out.push(id); i += 2; hit = true; } else out.push(sym[i++]);
    }
    if (!hit) continue; // stale index entry: the word no longer holds this pair
    const c = wcount[w];
    for (let j = 0; j + 1 < sym.length; j++) add(pairKey(sym[j], sym[j + 1]), -c);
    for (let j = 0; j + 1 < out.length; j++) {
      const k = pairKey(out[j], out[j + 1]);
      add(k, c);
      if (out[j] === id || out[j + 1] === id) { index(k, w); touched.add(k); }
    }
    words[w] = out;
  }
  return touched;
}

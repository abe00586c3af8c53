// Byte-level BPE tokenizer (GPT-2 semantics): regex pre-tokens, rank-ordered merges with a
// per-pre-token cache, special tokens as atomic ids, and an identity hash for checkpoints.
import { createHash } from 'node:crypto';
import { TesseraError } from '../util/errors.js';
import { BYTE_TO_CHAR, CHAR_TO_BYTE, GPT2_PATTERN } from './bytelevel.js';
import { PAIR_KEY_BASE } from './bpe-train.js';

export const EOT = '<|endoftext|>';

export interface SpecialToken { id: number; content: string }

export interface TokenizerSpec {
  /** Byte-level token string → id (must contain all 256 byte chars). */
  vocab: Map<string, number>;
  /** Merges in rank order. */
  merges: [string, string][];
  special: SpecialToken[];
  /** Pre-tokenizer regex source (flags 'gu'); GPT-2's by default. */
  pattern?: string;
  /** HF ByteLevel add_prefix_space: prepend ' ' to text that does not start with one. */
  addPrefixSpace?: boolean;
  /** Where it came from, for error messages. */
  source?: string;
}

const CACHE_LIMIT = 1 << 20;

export class Tokenizer {
  readonly vocab: Map<string, number>;
  readonly merges: [string, string][];
  readonly special: SpecialToken[];
  readonly pattern: string;
  readonly addPrefixSpace: boolean;
  /** Id of <|endoftext|>, if present. */
  readonly eotId: number | undefined;
  /** 1 + the largest id (ids may have gaps in foreign files). */
  readonly vocabSize: number;
  private readonly idToToken: (string | undefined)[] = [];
  private readonly specialIds = new Set<number>();
  private readonly byteIds = new Int32Array(256);
  private readonly ranks = new Map<number, number>(); // pair key → merge rank
  private readonly mergeOut: number[] = []; // rank → merged id
  private readonly re: RegExp;
  private readonly cache = new Map<string, number[]>();
  private hashCache: string | undefined;

  constructor(spec: TokenizerSpec) {
    const src = spec.source ?? 'tokenizer';
    this.vocab = spec.vocab; this.merges = spec.merges; this.special = spec.special;
    this.pattern = spec.pattern ?? GPT2_PATTERN; this.addPrefixSpace = spec.addPrefixSpace ?? false;
    for (const [tok, id] of this.vocab) this.setId(id, tok, src);
    for (const s of this.special) {
      if (this.vocab.get(s.content) !== s.id && this.idToToken[s.id] !== undefined) {
        throw new TesseraError(`${src}: special token ${JSON.stringify(s.content)} has id ${s.id}, already used by ${JSON.stringify(this.idToToken[s.id])}`);
      }
      this.idToToken[s.id] = s.content; this.specialIds.add(s.id);
    }
    this.vocabSize = this.idToToken.length;
    this.eotId = this.special.find((s) => s.content === EOT)?.id;
    for (let b = 0; b < 256; b++) {
      const id = this.vocab.get(BYTE_TO_CHAR[b]);
      if (id === undefined) throw new TesseraError(`${src}: vocab lacks the byte token for 0x${b.toString(16)}`, 'only byte-level BPE tokenizers (GPT-2 style) are supported');
      this.byteIds[b] = id;
    }
    this.merges.forEach(([l, r], rank) => {
      const a = this.vocab.get(l), b = this.vocab.get(r), out = this.vocab.get(l + r);
      if (a === undefined || b === undefined || out === undefined) {
        throw new TesseraError(`${src}: merge #${rank} "${l} ${r}" uses or yields a token missing from the vocab`);
      }
      const k = a * PAIR_KEY_BASE + b;
      if (!this.ranks.has(k)) { this.ranks.set(k, rank); this.mergeOut[rank] = out; }
    });
    try { this.re = new RegExp(this.pattern, 'gu'); } catch (e) {
      throw new TesseraError(`${src}: pre-tokenizer regex is not valid in JavaScript: ${(e as Error).message}`);
    }
  }

  private setId(id: number, tok: string, src: string): void {
    if (!Number.isInteger(id) || id < 0 || id >= PAIR_KEY_BASE) throw new TesseraError(`${src}: token ${JSON.stringify(tok)} has invalid id ${id}`);
    if (this.idToToken[id] !== undefined) throw new TesseraError(`${src}: id ${id} is assigned to two tokens`);
    this.idToToken[id] = tok;
  }

  /** Token string (byte-level form, or a special's content) for an id. */
  tokenOf(id: number): string | undefined { return this.idToToken[id]; }

  /**
   * Text → ids. Special-token text is treated as plain text unless allowSpecial, because corpus
   * text must never be able to inject a document separator.
   */
  encode(text: string, opts: { allowSpecial?: boolean } = {}): number[] {
    const out: number[] = [];
    if (this.addPrefixSpace && !text.startsWith(' ')) text = ' ' + text;
    if (!opts.allowSpecial || this.special.length === 0) { this.encodeOrdinary(text, out); return out; }
    const alt = [...this.special].sort((x, y) => y.content.length - x.content.length) // longest first
      .map((s) => s.content.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
    let last = 0;
    for (const m of text.matchAll(new RegExp(alt, 'g'))) {
      this.encodeOrdinary(text.slice(last, m.index), out);
      out.push((this.special.find((s) => s.content === m[0]) as SpecialToken).id);
      last = (m.index as number) + m[0].length;
    }
    this.encodeOrdinary(text.slice(last), out);
    return out;
  }

  /** Appends the ids of `text` (no special-token parsing) to `out`. */
  encodeOrdinary(text: string, out: number[]): void {
    const re = this.re;
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      if (m[0].length === 0) { re.lastIndex++; continue; } // foreign patterns may match empty
      let ids = this.cache.get(m[0]);
      if (ids === undefined) {
        ids = this.bpe(m[0]);
        if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
        this.cache.set(m[0], ids);
      }
      for (let i = 0; i < ids.length; i++) out.push(ids[i]);
    }
  }

  /** GPT-2's bpe(): repeatedly merge every occurrence of the lowest-ranked adjacent pair. */
  private bpe(piece: string): number[] {
    const bytes = Buffer.from(piece, 'utf8');
    let ids: number[] = Array.from(bytes, (b) => this.byteIds[b]);
    while (ids.length > 1) {
      let best = Infinity, bestI = -1;
      for (let i = 0; i + 1 < ids.length; i++) {
        const r = this.ranks.get(ids[i] * PAIR_KEY_BASE + ids[i + 1]);
        if (r !== undefined && r < best) { best = r; bestI = i; }
      }
      if (bestI < 0) break;
      const a = ids[bestI], b = ids[bestI + 1], merged = this.mergeOut[best];
      const out: number[] = ids.slice(0, bestI); // nothing left of the first hit can match
      for (let i = bestI; i < ids.length;) {
        if (ids[i] === a && i + 1 < ids.length && ids[i + 1] === b) { out.push(merged); i += 2; } else out.push(ids[i++]);
      }
      ids = out;
    }
    return ids;
  }

  /** Ids → text. Exact inverse of encode for any valid string; specials decode to their content. */
  decode(ids: ArrayLike<number>): string {
    const bytes: number[] = [];
    let text = '';
    const flush = (): void => { if (bytes.length) { text += Buffer.from(bytes).toString('utf8'); bytes.length = 0; } };
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      const tok = this.idToToken[id];
      if (tok === undefined) throw new RangeError(`token id ${id} is not in the vocabulary (size ${this.vocabSize})`);
      if (this.specialIds.has(id)) { flush(); text += tok; continue; }
      for (const ch of tok) bytes.push(CHAR_TO_BYTE.get(ch) as number);
    }
    flush();
    return text;
  }

  /**
   * sha256 (hex) of a canonical description: vocab as [token, id] sorted by id, merges as "a b",
   * specials sorted by id, and the pre-tokenizer. Equal hashes ⇒ identical token ids.
   */
  hash(): string {
    if (this.hashCache === undefined) {
      const vocab = [...this.vocab].sort((x, y) => x[1] - y[1]);
      const canon = JSON.stringify({
        type: 'bpe-bytelevel', pattern: this.pattern, addPrefixSpace: this.addPrefixSpace, vocab,
        merges: this.merges.map(([a, b]) => `${a} ${b}`), special: [...this.special].sort((x, y) => x.id - y.id),
      });
      this.hashCache = createHash('sha256').update(canon).digest('hex');
    }
    return this.hashCache;
  }
}

// Hugging Face tokenizer.json I/O for byte-level BPE, plus training a Tokenizer from documents.
// Writes the standard layout; reads GPT-2-style files (merges as "a b" strings or [a, b] pairs).
import { existsSync, readFileSync } from 'node:fs';
import { TesseraError } from '../util/errors.js';
import { countPretokens, trainBpe } from './bpe-train.js';
import { GPT2_PATTERN } from './bytelevel.js';
import { atomicWrite } from './fsutil.js';
import { EOT, Tokenizer, type SpecialToken } from './tokenizer.js';

export interface TrainTokenizerOptions {
  /** Total vocab including <|endoftext|> (default 8192, minimum 257). */
  vocabSize?: number;
  minFrequency?: number;
  onProgress?: (msg: string) => void;
}

/** Trains byte-level BPE on `docs`; <|endoftext|> takes the last id, as in GPT-2. */
export function trainTokenizer(docs: Iterable<string>, opts: TrainTokenizerOptions = {}): Tokenizer {
  const vocabSize = opts.vocabSize ?? 8192;
  if (!Number.isInteger(vocabSize) || vocabSize < 257 || vocabSize > 1 << 21) {
    throw new TesseraError(`vocab size ${vocabSize} is out of range`, 'use an integer between 257 (256 bytes + <|endoftext|>) and 2097152');
  }
  const counts = countPretokens(docs);
  opts.onProgress?.(`bpe: ${counts.size} unique pre-tokens`);
  const { tokens, merges } = trainBpe(counts, { targetTokens: vocabSize - 1, minFrequency: opts.minFrequency, onProgress: opts.onProgress });
  const vocab = new Map(tokens.map((t, i) => [t, i]));
  return new Tokenizer({ vocab, merges, special: [{ id: tokens.length, content: EOT }], source: 'trained tokenizer' });
}

/** The Hugging Face tokenizer.json object for a tokenizer (GPT-2 conventions). */
export function toTokenizerJson(tok: Tokenizer): object {
  const byteLevel = { type: 'ByteLevel', add_prefix_space: tok.addPrefixSpace, trim_offsets: true, use_regex: true };
  const custom = tok.pattern !== GPT2_PATTERN;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: tok.special.map((s) => ({ id: s.id, content: s.content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true })),
    normalizer: null,
    pre_tokenizer: custom
      ? { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: tok.pattern }, behavior: 'Isolated', invert: false }, { ...byteLevel, use_regex: false }] }
      : byteLevel,
    post_processor: { ...byteLevel, trim_offsets: false },
    decoder: byteLevel,
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false,
      vocab: Object.fromEntries([...tok.vocab].sort((a, b) => a[1] - b[1])),
      merges: tok.merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

export function saveTokenizer(tok: Tokenizer, path: string): void {
  atomicWrite(path, JSON.stringify(toTokenizerJson(tok), null, 1) + '\n');
}

export function loadTokenizer(path: string): Tokenizer {
  if (!existsSync(path)) throw new TesseraError(`tokenizer file not found: ${path}`, 'pass the path of a Hugging Face tokenizer.json, or omit it to train one');
  let json: unknown;
  try { json = JSON.parse(readFileSync(path, 'utf8')); } catch (e) {
    throw new TesseraError(`${path} is not valid JSON: ${(e as Error).message}`, 'expected a Hugging Face tokenizer.json');
  }
  return parseTokenizerJson(json, path);
}

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Validates a parsed tokenizer.json; anything but byte-level BPE is rejected by name. */
export function parseTokenizerJson(json: unknown, src: string): Tokenizer {
  const hint = 'only byte-level BPE tokenizers (GPT-2 style: model BPE + ByteLevel pre-tokenizer) are supported';
  if (!isObj(json) || !isObj(json.model)) throw new TesseraError(`${src}: no "model" object; not a tokenizer.json`, hint);
  const m = json.model;
  if (m.type !== undefined && m.type !== 'BPE') throw new TesseraError(`${src}: unsupported tokenizer model type ${JSON.stringify(m.type)}`, hint);
  if (json.normalizer != null) throw new TesseraError(`${src}: normalizers are not supported (found ${JSON.stringify((json.normalizer as Obj).type)})`, hint);
  if (m.continuing_subword_prefix || m.end_of_word_suffix) throw new TesseraError(`${src}: subword prefixes/suffixes are not supported`, hint);
  if (!isObj(m.vocab)) throw new TesseraError(`${src}: model.vocab must be an object of token → id`, hint);
  const vocab = new Map<string, number>();
  for (const [t, id] of Object.entries(m.vocab)) {
    if (typeof id !== 'number') throw new TesseraError(`${src}: vocab entry ${JSON.stringify(t)} has a non-numeric id`);
    vocab.set(t, id);
  }
  const merges = parseMerges(m.merges, src);
  const { pattern, addPrefixSpace } = parsePreTokenizer(json.pre_tokenizer, src, hint);
  const special: SpecialToken[] = [];
  for (const a of Array.isArray(json.added_tokens) ? json.added_tokens : []) {
    if (!isObj(a) || typeof a.id !== 'number' || typeof a.content !== 'string') throw new TesseraError(`${src}: malformed added_tokens entry`);
    special.push({ id: a.id, content: a.content });
  }
  // GPT-2's own files list <|endoftext|> only in the vocab; treat it as special anyway.
  const eot = vocab.get(EOT);
  if (eot !== undefined && !special.some((s) => s.content === EOT)) special.push({ id: eot, content: EOT });
  return new Tokenizer({ vocab, merges, special, pattern, addPrefixSpace, source: src });
}

function parseMerges(raw: unknown, src: string): [string, string][] {
  if (!Array.isArray(raw)) throw new TesseraError(`${src}: model.merges must be an array`);
  return raw.map((x, i): [string, string] => {
    if (typeof x === 'string') {
      const sp = x.indexOf(' ', 1); // byte-level tokens never contain ' ' (it is 'Ġ')
      if (sp > 0 && x.indexOf(' ', sp + 1) < 0) return [x.slice(0, sp), x.slice(sp + 1)];
    } else if (Array.isArray(x) && x.length === 2 && typeof x[0] === 'string' && typeof x[1] === 'string') {
      return [x[0], x[1]];
    }
    throw new TesseraError(`${src}: merge #${i} is malformed: ${JSON.stringify(x)}`, 'merges must be "a b" strings or ["a", "b"] pairs');
  });
}

/** ByteLevel(use_regex) ⇒ GPT-2 regex; Sequence[Split(Regex), ByteLevel(use_regex=false)] ⇒ that regex. */
function parsePreTokenizer(pt: unknown, src: string, hint: string): { pattern: string; addPrefixSpace: boolean } {
  if (isObj(pt) && pt.type === 'ByteLevel') {
    if (pt.use_regex === false) throw new TesseraError(`${src}: ByteLevel pre-tokenizer without a regex is not supported`, hint);
    return { pattern: GPT2_PATTERN, addPrefixSpace: pt.add_prefix_space === true };
  }
  if (isObj(pt) && pt.type === 'Sequence' && Array.isArray(pt.pretokenizers) && pt.pretokenizers.length === 2) {
    const [split, bl] = pt.pretokenizers as unknown[];
    if (isObj(split) && split.type === 'Split' && isObj(split.pattern) && typeof split.pattern.Regex === 'string' &&
        split.behavior === 'Isolated' && !split.invert && isObj(bl) && bl.type === 'ByteLevel' && bl.use_regex === false) {
      return { pattern: split.pattern.Regex, addPrefixSpace: bl.add_prefix_space === true };
    }
  }
  throw new TesseraError(`${src}: unsupported pre_tokenizer ${JSON.stringify(isObj(pt) ? pt.type : pt)}`, hint);
}

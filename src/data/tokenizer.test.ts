// Tokenizer tests: BPE training matches a naive reference, exact unicode round-trips,
// determinism, tokenizer.json save/load, and loading hand-written GPT-2-style files.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { TesseraError } from '../util/errors.js';
import { BYTE_TO_CHAR, gpt2Regex } from './bytelevel.js';
import { EOT, loadTokenizer, parseTokenizerJson, saveTokenizer, toTokenizerJson, trainTokenizer } from './index.js';

const SAMPLE = [
  'The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs!\n\n',
  "It's the end of the world as we know it, and I feel fine. We'll see, they've said.\n",
  'Numbers 12345 and 2024-01-01, prices $3.50, emails a@b.c — dashes… “quotes”.\n',
  '日本語のテキストと中文文本。Ελληνικά κείμενα. Привет, мир! 🙂🚀👩‍👩‍👧 café naïve\n',
].join('').repeat(8);

const tmp = (): string => mkdtempSync(join(tmpdir(), 'tessera-tok-'));

/** Naive BPE trainer (recount all pairs every merge) with the documented tie-break. */
function naiveMerges(text: string, target: number): string[] {
  const counts = new Map<string, number>();
  for (const m of text.match(gpt2Regex()) ?? []) counts.set(m, (counts.get(m) ?? 0) + 1);
  const words = [...counts.keys()].map((w) => Array.from(Buffer.from(w, 'utf8'), (b) => BYTE_TO_CHAR[b]));
  const wc = [...counts.values()];
  const vocab = new Set(BYTE_TO_CHAR);
  const merges: string[] = [];
  while (vocab.size < target) {
    const pc = new Map<string, number>();
    words.forEach((w, k) => { for (let i = 0; i + 1 < w.length; i++) { const p = `${w[i]} ${w[i + 1]}`; pc.set(p, (pc.get(p) ?? 0) + wc[k]); } });
    let best: [string, string] | undefined, bestC = 0;
    for (const [p, c] of pc) {
      const pr = p.split(' ') as [string, string];
      if (c > bestC || (c === bestC && best && (pr[0] < best[0] || (pr[0] === best[0] && pr[1] < best[1])))) { best = pr; bestC = c; }
    }
    if (!best || bestC < 2) break;
    const [a, b] = best;
    merges.push(`${a} ${b}`); vocab.add(a + b);
    words.forEach((w, k) => {
      const out: string[] = [];
      for (let i = 0; i < w.length;) if (i + 1 < w.length && w[i] === a && w[i + 1] === b) { out.push(a + b); i += 2; } else out.push(w[i++]);
      words[k] = out;
    });
  }
  return merges;
}

test('trained merges equal a naive reference BPE trainer', () => {
  const tok = trainTokenizer([SAMPLE], { vocabSize: 401 });
  assert.deepEqual(tok.merges.map(([a, b]) => `${a} ${b}`), naiveMerges(SAMPLE, 400));
  assert.equal(tok.vocabSize, 401);
  assert.equal(tok.eotId, 400);
  assert.equal(tok.tokenOf(400), EOT);
});

test('encode/decode round-trips arbitrary unicode exactly', () => {
  const tok = trainTokenizer([SAMPLE], { vocabSize: 400 });
  const cases = [
    '', ' ', '\n\n\n', '   leading and trailing   ', 'tabs\t\tand\r\nCRLF\r\n', '\u0000\u0001\u007f control',
    'emoji 🙂🚀 ZWJ 👩‍👩‍👧 flags 🇯🇵 skin 👍🏽', 'CJK 漢字かなカナ 한국어', 'combining é (e\u0301) ﬁ',
    'math 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ∑∫√', "contractions it's we'll they've I'd", 'numbers 1234567890 ٣٤٥', SAMPLE,
    'The <|endoftext|> marker is plain text here',
  ];
  for (const s of cases) {
    const ids = tok.encode(s);
    assert.equal(tok.decode(ids), s, JSON.stringify(s));
    assert.ok(ids.every((i) => i >= 0 && i < tok.vocabSize && i !== tok.eotId));
  }
  assert.ok(tok.encode(SAMPLE).length < Buffer.byteLength(SAMPLE) / 2, 'merges compress the training text');
});

test('special tokens are atomic only when allowed', () => {
  const tok = trainTokenizer([SAMPLE], { vocabSize: 300 });
  const s = `a${EOT}b`;
  assert.deepEqual(tok.encode(s, { allowSpecial: true }), [...tok.encode('a'), tok.eotId, ...tok.encode('b')]);
  assert.ok(!tok.encode(s).includes(tok.eotId as number));
  assert.equal(tok.decode(tok.encode(s, { allowSpecial: true })), s);
});

test('training is deterministic and independent of document order', () => {
  const docs = SAMPLE.split('\n');
  const a = trainTokenizer(docs, { vocabSize: 350 });
  const b = trainTokenizer([...docs].reverse(), { vocabSize: 350 });
  assert.deepEqual(a.merges, b.merges);
  assert.equal(a.hash(), b.hash());
  assert.notEqual(a.hash(), trainTokenizer(docs, { vocabSize: 340 }).hash());
});

test('save → load tokenizer.json gives the same ids and hash', () => {
  const dir = tmp();
  try {
    const tok = trainTokenizer([SAMPLE], { vocabSize: 500 });
    const path = join(dir, 'tokenizer.json');
    saveTokenizer(tok, path);
    const back = loadTokenizer(path);
    assert.equal(back.hash(), tok.hash());
    assert.deepEqual(back.encode(SAMPLE), tok.encode(SAMPLE));
    assert.equal(back.eotId, tok.eotId);
    // Newer HF files store merges as pairs; both forms must load identically.
    const json = toTokenizerJson(tok) as { model: { merges: unknown[] } };
    json.model.merges = tok.merges.map(([x, y]) => [x, y]);
    assert.equal(parseTokenizerJson(json, 'pairs.json').hash(), tok.hash());
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

/** A GPT-2-shaped tokenizer.json: bytes in bytes_to_unicode order, a few merges, EOT in vocab only. */
function gpt2Style(extra: object = {}): Record<string, unknown> {
  const order = [...BYTE_TO_CHAR].sort((x, y) => x.codePointAt(0)! - y.codePointAt(0)!);
  const vocab: Record<string, number> = {};
  order.forEach((c, i) => { vocab[c] = i; });
  const merges = ['Ġ t', 'h e', 'Ġt he', 'Ġ a', 'i n', 'Ġa n'];
  for (const m of merges) vocab[m.replace(' ', '')] = Object.keys(vocab).length;
  vocab[EOT] = Object.keys(vocab).length;
  return {
    version: '1.0', added_tokens: [], normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true },
    model: { dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, vocab, merges },
    ...extra,
  };
}

test('loads a hand-written GPT-2-style tokenizer.json', () => {
  const dir = tmp();
  try {
    const path = join(dir, 'gpt2.json');
    writeFileSync(path, JSON.stringify(gpt2Style()));
    const tok = loadTokenizer(path);
    const v = (s: string): number => tok.vocab.get(s) as number;
    assert.deepEqual(tok.encode(' the an'), [v('Ġthe'), v('Ġan')]);
    assert.deepEqual(tok.encode('in'), [v('in')]);
    assert.deepEqual(tok.encode('!'), [0]); // '!' is the first byte char, as in GPT-2
    assert.equal(tok.eotId, 262);
    assert.equal(tok.decode(tok.encode('Über the 🙂')), 'Über the 🙂');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('rejects unsupported or malformed tokenizer files with TesseraError', () => {
  const bad = (json: unknown, re: RegExp): void => assert.throws(() => parseTokenizerJson(json, 'x.json'), (e) => e instanceof TesseraError && re.test(e.message));
  bad(gpt2Style({ model: { type: 'WordPiece', vocab: {} } }), /x\.json: unsupported tokenizer model type "WordPiece"/);
  bad(gpt2Style({ model: { type: 'Unigram', vocab: [] } }), /unsupported tokenizer model type "Unigram"/);
  bad(gpt2Style({ pre_tokenizer: { type: 'Metaspace' } }), /unsupported pre_tokenizer "Metaspace"/);
  bad(gpt2Style({ normalizer: { type: 'NFC' } }), /normalizers are not supported/);
  bad({ model: { type: 'BPE', vocab: { a: 0 }, merges: [] }, pre_tokenizer: { type: 'ByteLevel' } }, /lacks the byte token/);
  const g = gpt2Style();
  (g.model as { merges: string[] }).merges.push('q z');
  bad(g, /merge #6 "q z"/);
  assert.throws(() => loadTokenizer('/nonexistent/tokenizer.json'), /tokenizer file not found: \/nonexistent/);
});

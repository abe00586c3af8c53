// Corpus + preparation tests: txt/jsonl/parquet/folder reading, error messages, an end-to-end
// prepareData → loadDataset round-trip, determinism, and the bundled default corpus.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { TesseraError } from '../util/errors.js';
import { defaultCorpus, loadDataset, prepareData, readCorpus, splitLargeText } from './index.js';
import { writeStringParquet } from './parquet-fixture.js';

const root = mkdtempSync(join(tmpdir(), 'tessera-data-'));
after(() => rmSync(root, { recursive: true, force: true }));

const para = (i: number): string => `Paragraph ${i}: the whale swam past the ship, and the sailors sang of home. 🐋 第${i}章\n`;

/** A small mixed corpus: nested folder of .txt, a .jsonl, a .parquet, and an ignored .md. */
function makeCorpus(): string {
  const dir = join(root, 'corpus');
  mkdirSync(join(dir, 'b_sub'), { recursive: true });
  for (let i = 0; i < 6; i++) writeFileSync(join(dir, `a_${i}.txt`), para(i).repeat(20));
  writeFileSync(join(dir, 'b_sub', 'deep.txt'), '\uFEFFdeep file text ' + para(99));
  writeFileSync(join(dir, 'c.jsonl'), [0, 1, 2, 3].map((i) => JSON.stringify({ text: `json doc ${i} ${para(i)}`, id: i })).join('\n') + '\n\n');
  writeStringParquet(join(dir, 'd.parquet'), 'text', [0, 1, 2].map((i) => `parquet doc ${i} ${para(i)}`));
  writeFileSync(join(dir, 'notes.md'), 'ignored');
  writeFileSync(join(dir, 'empty.txt'), '  \n ');
  return dir;
}
const corpus = makeCorpus();

const tesseraErr = (re: RegExp) => (e: unknown): boolean => e instanceof TesseraError && re.test(e.message) && !!e.hint;

test('readCorpus reads folders recursively in sorted order across formats', async () => {
  const docs = await readCorpus([corpus]);
  assert.equal(docs.length, 6 + 1 + 4 + 3); // empty.txt dropped, notes.md ignored
  assert.ok(docs[0].startsWith('Paragraph 0'));
  assert.ok(docs[6].startsWith('deep file text'), 'BOM stripped, b_sub/ sorted after a_*.txt');
  assert.ok(docs[7].startsWith('json doc 0'));
  assert.ok(docs[13].startsWith('parquet doc 2'));
  assert.deepEqual(await readCorpus([join(corpus, 'c.jsonl'), join(corpus, 'a_0.txt')]), [...docs.slice(7, 11), docs[0]]);
});

test('readCorpus errors name the file and say what to do', async () => {
  await assert.rejects(readCorpus([join(root, 'nope')]), tesseraErr(/corpus path not found: .*nope/));
  writeFileSync(join(root, 'x.csv'), 'a,b');
  await assert.rejects(readCorpus([join(root, 'x.csv')]), tesseraErr(/unsupported corpus file type: .*x\.csv/));
  writeFileSync(join(root, 'bad.jsonl'), '{"text":"ok"}\n{"body":"no text"}\n');
  await assert.rejects(readCorpus([join(root, 'bad.jsonl')]), tesseraErr(/bad\.jsonl:2: no string field "text"/));
  writeFileSync(join(root, 'broken.jsonl'), '{"text":\n');
  await assert.rejects(readCorpus([join(root, 'broken.jsonl')]), tesseraErr(/broken\.jsonl:1: invalid JSON/));
  writeFileSync(join(root, 'blank.txt'), '\n\n   \n');
  await assert.rejects(readCorpus([join(root, 'blank.txt')]), tesseraErr(/corpus is empty/));
  mkdirSync(join(root, 'nothing'), { recursive: true });
  await assert.rejects(readCorpus([join(root, 'nothing')]), tesseraErr(/contains no \.txt, \.jsonl or \.parquet files/));
  await assert.rejects(readCorpus([join(corpus, 'd.parquet')], { textField: 'body' }), tesseraErr(/d\.parquet: no column "body" \(columns: text\)/));
});

test('splitLargeText keeps blocks whole and groups them', () => {
  const text = Array.from({ length: 10 }, (_, i) => `block ${i} `.repeat(10)).join('\n\n');
  const parts = splitLargeText(text, 250);
  assert.ok(parts.length > 1 && parts.length < 10);
  assert.equal(parts.join('\n\n'), text);
});

test('prepareData → loadDataset round-trips a mixed corpus', async () => {
  const out = join(root, 'out');
  const msgs: string[] = [];
  const m = await prepareData({ inputs: [corpus], outDir: out, vocabSize: 300, valFraction: 0.2, shardTokens: 500, seed: 3, onProgress: (s) => msgs.push(s) });
  assert.ok(msgs.length > 0);
  assert.equal(m.tokenizer.vocabSize, 300);
  assert.equal(m.tokenizer.eotId, 299);
  assert.equal(m.source.documents, 14);
  assert.equal(m.val.documents, 3); // round(0.2 · 14)
  assert.equal(m.train.documents + m.val.documents, 14);
  assert.ok(m.train.shards.length > 1, 'small shardTokens forces several shards');
  assert.ok(m.train.shards.slice(0, -1).every((s) => s.tokens === 500));
  assert.ok(m.stats.unigramEntropyNats > 1 && m.stats.unigramEntropyNats < Math.log(300));
  assert.ok(m.stats.valUnigramCrossEntropyNats >= m.stats.unigramEntropyNats * 0.8);
  const ds = loadDataset(out);
  assert.equal(ds.train.length, m.train.tokens);
  assert.equal(ds.val.length, m.val.tokens);
  assert.equal(ds.tokenizer.hash(), m.tokenizer.hash);
  const text = ds.tokenizer.decode(ds.train);
  const docs = text.split('<|endoftext|>');
  assert.equal(docs[0], '');
  assert.equal(docs.length - 1, m.train.documents);
  assert.ok(docs.includes(para(0).repeat(20)));
  assert.equal(ds.val[0], 299, 'every document starts with <|endoftext|>');

  // Same inputs + seed ⇒ byte-identical outputs; re-run with bigger shards removes stale ones.
  const out2 = join(root, 'out2');
  const m2 = await prepareData({ inputs: [corpus], outDir: out2, vocabSize: 300, valFraction: 0.2, shardTokens: 500, seed: 3 });
  assert.deepEqual({ ...m2, source: null }, { ...m, source: null });
  assert.deepEqual(readFileSync(join(out2, 'train_000.bin')), readFileSync(join(out, 'train_000.bin')));
  await prepareData({ inputs: [corpus], outDir: out2, tokenizerPath: join(out, 'tokenizer.json'), valFraction: 0.2, seed: 3 });
  assert.equal(loadDataset(out2).manifest.train.shards.length, 1);
  assert.throws(() => readFileSync(join(out2, 'train_001.bin')), /ENOENT/);
  const m3 = await prepareData({ inputs: [corpus], outDir: join(root, 'out3'), vocabSize: 300, valFraction: 0.2, seed: 4 });
  assert.notDeepEqual(m3.val, m.val, 'the seed changes the held-out documents');
});

test('prepareData and loadDataset fail clearly', async () => {
  await assert.rejects(prepareData({ inputs: [join(root, 'missing')], outDir: join(root, 'o') }), tesseraErr(/corpus path not found/));
  writeFileSync(join(root, 'one.txt'), 'just one document');
  await assert.rejects(prepareData({ inputs: [join(root, 'one.txt')], outDir: join(root, 'o') }), tesseraErr(/at least 2 are needed/));
  assert.throws(() => loadDataset(join(root, 'absent')), (e: unknown) => e instanceof TesseraError && /tessera data prepare/.test(e.hint ?? ''));
  mkdirSync(join(root, 'emptyds'));
  assert.throws(() => loadDataset(join(root, 'emptyds')), tesseraErr(/missing manifest\.json/));
  // A truncated shard inside a prepared dataset is caught at load time.
  const out = join(root, 'out-trunc');
  await prepareData({ inputs: [corpus], outDir: out, vocabSize: 260, valFraction: 0.2 });
  const shard = join(out, 'val_000.bin');
  writeFileSync(shard, readFileSync(shard).subarray(0, 40));
  assert.throws(() => loadDataset(out), (e: unknown) => e instanceof TesseraError && e.message.includes(shard) && /tessera data prepare/.test(e.hint ?? ''));
});

test('defaultCorpus bundles > 10 MB of public-domain text', () => {
  const docs = defaultCorpus();
  const bytes = docs.reduce((n, d) => n + Buffer.byteLength(d), 0);
  assert.ok(bytes > 10e6, `${bytes} bytes`);
  assert.ok(docs.length > 300);
  assert.ok(docs.some((d) => d.startsWith('CHAPTER 1. Loomings.')));
});

// Task readers (HellaSwag, ARC, MMLU in their JSONL and parquet layouts) against the prompts
// lm-evaluation-harness builds, and the scoring rules of the harness.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TesseraError } from '../util/errors.js';
import { trainTokenizer } from '../data/index.js';
import { encodePair, scoreChoices, argmax, logLikelihoods, logSoftmaxAt, rowsFor } from './harness.js';
import { PARITY_CONFIGS, parityParams } from './parity-fixture.js';
import { createLlama, forward } from '../model/llama.js';
import { Graph } from '../engine/autograd.js';
import { referenceBackend } from '../engine/index.js';
import { makeRng } from '../util/rng.js';
import { FIXTURE_DIR, writeParquetFixtures } from './task-fixtures.js';
import { hellaswagPreprocess, readTask } from './tasks.js';

const tmp = mkdtempSync(join(tmpdir(), 'tessera-tasks-test-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const fx = (f: string) => join(FIXTURE_DIR(), f);

test('hellaswag: lm-eval context ("<activity>: <ctx_a> <Ctx_b>"), preprocessed endings, label; JSONL and the hub parquet agree', async () => {
  const t = await readTask(fx('hellaswag.jsonl'));
  assert.equal(t.layout, 'hellaswag');
  assert.equal(t.name, 'hellaswag');
  assert.equal(t.examples.length, 3);
  assert.deepEqual(t.examples[0], {
    context: 'Making tea: A woman fills a kettle with water and sets it on the stove. She',
    choices: ['paints the kettle bright red.', 'throws the kettle out of the window.', 'waits for the water to boil and pours it over the tea leaves.', 'starts to mow the lawn with the kettle.'],
    gold: 2,
  });
  // [header] dropped, " [title]" → ". ", capitalize() lower-cases the rest of ctx_b, [step] dropped.
  assert.equal(t.examples[1]!.context, 'Home and Garden: How to water a plant. Check the soil. Push a finger into the soil');
  assert.equal(t.examples[1]!.choices[0], 'to feel whether it is dry. If it is, water the plant slowly.');
  assert.equal(hellaswagPreprocess('  a [title] b  [x]c '), 'a. b c');
  const pq = writeParquetFixtures(tmp);
  assert.deepEqual((await readTask(pq.hellaswag)).examples, t.examples);
});

test('arc: "Question: ...\\nAnswer:" with the choice texts; original nested JSONL and the hub parquet agree, numeric labels too', async () => {
  const t = await readTask(fx('arc_challenge.jsonl'));
  assert.equal(t.layout, 'arc');
  assert.deepEqual(t.examples[0], { context: 'Question: Which of these is a source of light?\nAnswer:', choices: ['the Sun', 'a rock', 'a shadow', 'a spoon'], gold: 0 });
  assert.equal(t.examples[1]!.gold, 2); // answerKey "3" among labels 1–4
  assert.equal(t.examples[2]!.choices.length, 3);
  const pq = writeParquetFixtures(tmp);
  assert.deepEqual((await readTask(pq.arc, 'arc-hub')).examples, t.examples);
});

test('mmlu: the subject header, lettered choices and the letters as choices; answer as int64 (parquet) or letter', async () => {
  const pq = writeParquetFixtures(tmp);
  const t = await readTask(pq.mmlu);
  assert.equal(t.layout, 'mmlu');
  assert.deepEqual(t.examples[0], {
    context: 'The following are multiple choice questions (with answers) about elementary mathematics.\n\nWhat is 7 multiplied by 6?\nA. 36\nB. 42\nC. 48\nD. 54\nAnswer:',
    choices: ['A', 'B', 'C', 'D'], gold: 1,
  });
  assert.ok(t.examples[2]!.context.includes('\n\nWater boils at what temperature at sea level?\nA. 100'), 'question stripped');
  assert.deepEqual((await readTask(fx('mmlu.jsonl'))).examples, t.examples);
  const letter = join(tmp, 'mmlu-letter.jsonl');
  writeFileSync(letter, JSON.stringify({ question: 'q', choices: ['a', 'b', 'c', 'd'], answer: 'C' }) + '\n');
  assert.equal((await readTask(letter)).examples[0]!.gold, 2);
});

async function rejects(p: Promise<unknown>, ...parts: string[]): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof TesseraError, String(e));
    for (const s of parts) assert.ok(`${e.message} ${e.hint}`.includes(s), `"${e.message} | ${e.hint}" lacks "${s}"`);
    return true;
  });
}

test('a file in none of the known layouts, a bad row, an unknown file type: one message naming the file and what to do', async () => {
  await rejects(readTask(fx('unknown.jsonl')), fx('unknown.jsonl'), 'none of the known task layouts', 'prompt, completion', 'hellaswag (', 'mmlu (');
  const bad = join(tmp, 'bad-arc.jsonl');
  writeFileSync(bad, [
    JSON.stringify({ question: { stem: 'q', choices: [{ text: 'a', label: 'A' }, { text: 'b', label: 'B' }] }, answerKey: 'A' }),
    JSON.stringify({ question: { stem: 'q', choices: [{ text: 'a', label: 'A' }, { text: 'b', label: 'B' }] }, answerKey: 'E' }),
  ].join('\n'));
  await rejects(readTask(bad), bad, 'row 2', 'answerKey "E"');
  const csv = join(tmp, 'mmlu.csv');
  writeFileSync(csv, 'q,a,b,c,d,A\n');
  await rejects(readTask(csv), csv, 'unsupported file type ".csv"', '.jsonl or .parquet');
  const notJson = join(tmp, 'broken.jsonl');
  writeFileSync(notJson, '{"question": \n');
  await rejects(readTask(notJson), notJson, 'line 1 is not JSON');
});

test('harness: acc by summed log-likelihood, acc_norm per character, first index on ties, stderr as lm-eval', () => {
  const ex = [{ lengths: [1, 10], gold: 1 }, { lengths: [5, 5, 5], gold: 0 }, { lengths: [2, 2], gold: 1 }];
  // ex0: raw picks 0 (-2 > -5), per char picks 1 (-0.5 > -2); ex1: tie → index 0; ex2: both pick 0.
  const s = scoreChoices(ex, [[-2, -5], [-1, -1, -3], [-1, -4]]);
  assert.equal(s.n, 3);
  assert.equal(s.acc, 1 / 3);
  assert.equal(s.acc_norm, 2 / 3);
  assert.ok(Math.abs(s.chance - (1 / 2 + 1 / 3 + 1 / 2) / 3) < 1e-12);
  assert.ok(Math.abs(s.acc_stderr - Math.sqrt((1 / 3) * (2 / 3) / 2)) < 1e-12);
  assert.equal(argmax([1, 3, 3]), 1);
  const row = Float32Array.from([1, 2, 3]);
  assert.ok(Math.abs(logSoftmaxAt(row, 0, 3, 2) - (3 - Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)))) < 1e-6);
});

test('encodePair: the context\'s trailing space moves to the continuation; the continuation is what follows the context\'s encoding', () => {
  const tok = trainTokenizer(['the cat sat on the mat. the cat ate. the dog sat.'], { vocabSize: 280 });
  const r = encodePair(tok, 'the cat ', 'sat', [tok.eotId!]);
  assert.equal(r.tokens[0], tok.eotId);
  assert.deepEqual(r.tokens.slice(1), tok.encode('the cat sat'));
  assert.equal(tok.decode(r.tokens.slice(r.tokens.length - r.contLen)), ' sat');
});

test('logLikelihoods: batched and right-padded equals one request at a time and the direct sum; long requests keep their last maxSeqLen + 1 tokens', () => {
  const c = PARITY_CONFIGS.untied;
  const model = createLlama(c, parityParams('untied'));
  const rng = makeRng('ll-test');
  const reqs = [5, 12, 3, 31, 33, 50, 8].map((n, i) => ({ tokens: Array.from({ length: n }, () => Math.floor(rng.nextFloat() * c.vocabSize)), contLen: Math.min(1 + (i % 3), n - 1) }));
  const batched = logLikelihoods(referenceBackend, model, reqs, 4);
  const single = logLikelihoods(referenceBackend, model, reqs, 1);
  reqs.forEach((r, i) => {
    const win = r.tokens.slice(-(c.maxSeqLen + 1));
    const T = win.length - 1;
    const logits = forward(new Graph(referenceBackend, false), model, Int32Array.from(win.slice(0, -1)), 1, T).data;
    let want = 0;
    for (let t = T - r.contLen; t < T; t++) want += logSoftmaxAt(logits, t * c.vocabSize, c.vocabSize, win[t + 1]!);
    assert.ok(Math.abs(batched[i]! - want) < 1e-4 * Math.abs(want), `request ${i}: batched ${batched[i]} vs direct ${want}`);
    assert.ok(Math.abs(single[i]! - want) < 1e-4 * Math.abs(want), `request ${i}: single ${single[i]} vs direct ${want}`);
  });
  assert.equal(rowsFor(8, 2048, 128256), 1);
  assert.equal(rowsFor(8, 256, 8192), 8);
});

// Single-node training end to end on a small real-text corpus: loss falls, a run interrupted and
// resumed from its checkpoint ends bit-identical to an uninterrupted one, damaged or mismatched
// checkpoints are refused with a message naming the file, and generation runs.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync, readFileSync, existsSync, truncateSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareData, defaultCorpus } from '../src/data/index.js';
import { getBackend } from '../src/engine/index.js';
import { getPreset } from '../src/model/index.js';
import { runTraining, type TrainOptions } from '../src/train/loop.js';
import { openTrainData } from '../src/train/batches.js';
import { findCheckpoint, loadCheckpoint, readCheckpointMeta } from '../src/train/checkpoint.js';
import { paramLayout } from '../src/model/params.js';
import { generate } from '../src/train/generate.js';
import { TesseraError } from '../src/util/errors.js';

const root = mkdtempSync(join(tmpdir(), 'tessera-train-'));
const dataDir = join(root, 'data');
const quiet = () => {};

before(async () => {
  const text = defaultCorpus().join('\n\n').slice(0, 300_000);
  mkdirSync(join(root, 'corpus'));
  for (let i = 0; i < 10; i++) writeFileSync(join(root, 'corpus', `part${i}.txt`), text.slice(i * 30_000, (i + 1) * 30_000));
  await prepareData({ inputs: [join(root, 'corpus')], outDir: dataDir, vocabSize: 384, valFraction: 0.1 });
});

function opts(out: string, over: Partial<TrainOptions> = {}): TrainOptions {
  return {
    model: getPreset('tiny'), data: openTrainData(dataDir), outDir: out, steps: 40, batch: 4, seq: 32, lr: 3e-3, minLr: 3e-4,
    warmup: 5, clip: 1, weightDecay: 0.1, seed: 7, evalEvery: 20, evalBatches: 2, ckptEvery: 20, timeLimitS: 0, resume: true, ...over,
  };
}

test('training lowers validation loss well below the uniform baseline', async () => {
  const o = opts(join(root, 'run-learn'), { steps: 60 });
  const s = await runTraining(getBackend(), o, quiet);
  assert.equal(s.step, 60);
  assert.ok(s.valLoss !== null && s.valLoss < Math.log(o.data.vocabSize) - 0.8, `val loss ${s.valLoss} vs ln V ${Math.log(o.data.vocabSize)}`);
});

test('interrupted + resumed training is bit-identical to an uninterrupted run', async () => {
  const full = await runTraining(getBackend(), opts(join(root, 'run-full'), { steps: 12, ckptEvery: 100 }), quiet);
  const partA = join(root, 'run-split');
  await runTraining(getBackend(), opts(partA, { steps: 12, ckptEvery: 100, timeLimitS: 1e-9 }), quiet); // stops after step 1
  const mid = readCheckpointMeta(findCheckpoint(join(partA, 'checkpoints'))!);
  assert.ok(mid.step >= 1 && mid.step < 12, `stopped early at ${mid.step}`);
  const resumed = await runTraining(getBackend(), opts(partA, { steps: 12, ckptEvery: 100 }), quiet);
  assert.equal(resumed.step, 12);
  const layout = paramLayout({ ...getPreset('tiny'), vocabSize: openTrainData(dataDir).vocabSize });
  const a = loadCheckpoint(findCheckpoint(full.checkpoint)!, layout, true);
  const b = loadCheckpoint(findCheckpoint(resumed.checkpoint)!, layout, true);
  assert.deepEqual(Buffer.from(a.params.buffer), Buffer.from(b.params.buffer));
  assert.deepEqual(Buffer.from(a.m!.buffer), Buffer.from(b.m!.buffer));
});

test('a corrupt or truncated checkpoint is refused naming the file; the previous one stays usable', async () => {
  const out = join(root, 'run-corrupt');
  await runTraining(getBackend(), opts(out, { steps: 4, ckptEvery: 2 }), quiet);
  const dir = findCheckpoint(join(out, 'checkpoints'))!;
  const file = join(dir, 'model.safetensors');
  truncateSync(file, statSync(file).size - 100);
  const layout = paramLayout({ ...getPreset('tiny'), vocabSize: openTrainData(dataDir).vocabSize });
  assert.throws(() => loadCheckpoint(dir, layout, true), (e: unknown) => e instanceof TesseraError && e.message.includes(file));
  const older = join(out, 'checkpoints', 'step-0000002');
  assert.ok(existsSync(older));
  assert.equal(loadCheckpoint(older, layout, true).meta.step, 2);
  writeFileSync(join(dir, 'checkpoint.json'), '{ not json');
  assert.throws(() => readCheckpointMeta(dir), (e: unknown) => e instanceof TesseraError && e.message.includes('checkpoint.json'));
});

test('resuming with a different model shape or tokenizer is refused', async () => {
  const out = join(root, 'run-mismatch');
  await runTraining(getBackend(), opts(out, { steps: 2 }), quiet);
  await assert.rejects(runTraining(getBackend(), opts(out, { steps: 4, model: { ...getPreset('tiny'), dim: 32 } }), quiet),
    (e: unknown) => e instanceof TesseraError && /different model shape/.test(e.message));
  const data = { ...openTrainData(dataDir), tokenizerHash: 'f'.repeat(64) };
  await assert.rejects(runTraining(getBackend(), opts(out, { steps: 4, data }), quiet),
    (e: unknown) => e instanceof TesseraError && /different tokenizer/.test(e.message));
});

test('generate samples text from a checkpoint deterministically', async () => {
  const out = join(root, 'run-learn');
  const dir = findCheckpoint(out)!;
  const a = generate(getBackend(), dir, { prompt: 'The ', maxTokens: 12, temperature: 0.8, topK: 20, seed: 3 });
  const b = generate(getBackend(), dir, { prompt: 'The ', maxTokens: 12, temperature: 0.8, topK: 20, seed: 3 });
  assert.equal(a, b);
  assert.ok(a.length > 0);
  assert.ok(readFileSync(join(dir, 'tokenizer.json'), 'utf8').includes('"BPE"'));
});

// tessera eval on a model trained here: a tiny LLaMA trained for a few seconds on a small synthetic
// corpus scores well above chance on the cloze task of that corpus's held-out split and on a
// HellaSwag-layout fixture with known answers built from it; the same model with its weights
// shuffled (deliberately broken) scores at chance on both. The CLI's --json result carries val_loss,
// bits_per_byte and per task acc / acc_norm / n; a dataset with another tokenizer is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareData } from '../src/data/index.js';
import { getBackend } from '../src/engine/select.js';
import { runEval, type EvalOptions } from '../src/eval/run.js';
import { writeParquetFixtures, FIXTURE_DIR } from '../src/eval/task-fixtures.js';
import { getPreset } from '../src/model/index.js';
import { openTrainData } from '../src/train/batches.js';
import { findCheckpoint, loadCheckpoint, readCheckpointMeta, saveCheckpoint } from '../src/train/checkpoint.js';
import { runTraining } from '../src/train/loop.js';
import { paramLayout } from '../src/model/params.js';
import { projectRoot } from '../src/util/paths.js';
import { makeRng } from '../src/util/rng.js';

const tmp = mkdtempSync(join(tmpdir(), 'tessera-eval-test-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

// The corpus: "<name> carried the <object> to the <place>." where object and place follow from the name.
const NAMES = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'oscar', 'peggy'];
const OBJECTS = ['apple', 'book', 'candle', 'drum', 'egg', 'flute', 'glove', 'hammer', 'jar', 'kite', 'lamp', 'mirror'];
const PLACES = ['market', 'river', 'school', 'garden', 'tower', 'harbor', 'forest', 'bakery', 'castle', 'mill', 'bridge', 'chapel'];
const ending = (i: number) => `${OBJECTS[(i * 5) % 12]} to the ${PLACES[(i * 7) % 12]}.`;
const sentence = (i: number) => `${NAMES[i]} carried the ${ending(i)}`;

function corpus(dir: string): string {
  const rng = makeRng('eval-test-corpus');
  const lines: string[] = [];
  for (let d = 0; d < 120; d++) {
    const s = Array.from({ length: 30 }, () => sentence(Math.floor(rng.nextFloat() * 12)));
    lines.push(JSON.stringify({ text: s.join(' ') }));
  }
  mkdirSync(dir, { recursive: true });
  const f = join(dir, 'corpus.jsonl');
  writeFileSync(f, lines.join('\n') + '\n');
  return f;
}

/** HellaSwag layout, known answers: the true ending vs word-shuffled endings of other names. */
function knownAnswers(file: string): void {
  const rng = makeRng('eval-test-hellaswag');
  const rows = Array.from({ length: 48 }, (_, k) => {
    const i = k % 12;
    const wrong = [1, 2, 3].map((o) => {
      const w = ending((i + o) % 12).replace('.', '').split(' ');
      for (let a = w.length - 1; a > 0; a--) { const b = Math.floor(rng.nextFloat() * (a + 1)); [w[a], w[b]] = [w[b]!, w[a]!]; }
      return w.join(' ') + '.';
    });
    const label = Math.floor(rng.nextFloat() * 4);
    const endings = [...wrong];
    endings.splice(label, 0, ending(i));
    return { ind: k, activity_label: 'Story', ctx_a: `${sentence((i + 3) % 12)} ${NAMES[i]} carried the`, ctx_b: '', ctx: '', split: 'val', split_type: 'indomain', label, endings, source_id: `test~${k}` };
  });
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

const data = join(tmp, 'data'), run = join(tmp, 'run'), broken = join(tmp, 'broken'), hs = join(tmp, 'known-hellaswag.jsonl');
let ready: Promise<void> | null = null;
function setup(): Promise<void> {
  ready ??= (async () => {
    await prepareData({ inputs: [corpus(join(tmp, 'src'))], outDir: data, vocabSize: 320, valFraction: 0.1, seed: 3 });
    const td = openTrainData(data);
    await runTraining(getBackend(), {
      model: getPreset('tiny'), data: td, outDir: run, steps: 80, batch: 8, seq: 64, lr: 3e-3, minLr: 3e-4, warmup: 10, clip: 1,
      weightDecay: 0.1, seed: 1, evalEvery: 1000, evalBatches: 2, ckptEvery: 1000, timeLimitS: 0, resume: false,
    }, () => {});
    // The broken model: every tensor's values shuffled (seeded) — same scale, no learned structure.
    const dir = findCheckpoint(run)!;
    const meta = readCheckpointMeta(dir);
    const layout = paramLayout(meta.model);
    const p = loadCheckpoint(dir, layout, false).params.slice();
    const rng = makeRng('eval-test-broken');
    for (const s of layout.specs) {
      const v = p.subarray(s.offset, s.offset + s.size);
      for (let a = v.length - 1; a > 0; a--) { const b = Math.floor(rng.nextFloat() * (a + 1)); const t = v[a]!; v[a] = v[b]!; v[b] = t; }
    }
    saveCheckpoint(join(broken, 'checkpoints'), layout, p, null, join(dir, 'tokenizer.json'), { ...meta, valLoss: null });
    knownAnswers(hs);
  })();
  return ready;
}

const opts = (checkpoint: string): EvalOptions => ({
  checkpoint, data, tasks: [`known=${hs}`], cloze: { n: 120, context: 24, length: 6, choices: 4, seed: 1 }, valTokens: 1 << 20, batch: 16, limit: 0,
});

/** P(X ≥ k) for X ~ Binomial(n, p): how surprising an accuracy is under guessing. */
function binomTail(n: number, k: number, p: number): number {
  let logC = 0, tail = 0;
  for (let i = 0; i <= n; i++) {
    if (i > 0) logC += Math.log((n - i + 1) / i);
    if (i >= k) tail += Math.exp(logC + i * Math.log(p) + (n - i) * Math.log(1 - p));
  }
  return tail;
}

test('a model trained on a tiny corpus scores above chance on its cloze and on a known-answer HellaSwag fixture; its shuffled twin scores at chance', async (t) => {
  const t0 = Date.now();
  await setup();
  t.diagnostic(`setup (prepare + train 80 steps): ${Date.now() - t0} ms`);
  const be = getBackend();
  const good = await runEval(be, opts(run));
  const bad = await runEval(be, opts(broken));
  const gc = good.tasks.cloze!, bc = bad.tasks.cloze!, gk = good.tasks.known!, bk = bad.tasks.known!;
  const msg = `cloze acc ${gc.acc} vs broken ${bc.acc} (n ${gc.n}); known ${gk.acc} vs broken ${bk.acc} (n ${gk.n}); val loss ${good.val_loss} vs ${bad.val_loss}`;
  t.diagnostic(msg);
  assert.ok(gc.n >= 100, msg);
  assert.equal(gk.n, 48);
  assert.equal(gc.chance, 0.25);
  // Trained: far above guessing (one-sided binomial p < 1e-6).
  assert.ok(binomTail(gc.n, Math.round(gc.acc * gc.n), 0.25) < 1e-6, msg);
  assert.ok(binomTail(gk.n, Math.round(gk.acc * gk.n), 0.25) < 1e-6, msg);
  // Broken: indistinguishable from guessing (not above chance at p < 0.01), on both tasks.
  assert.ok(binomTail(bc.n, Math.round(bc.acc * bc.n), 0.25) > 0.01, msg);
  assert.ok(binomTail(bk.n, Math.round(bk.acc * bk.n), 0.25) > 0.01, msg);
  assert.ok(good.val_loss! < bad.val_loss! - 1, msg);
  assert.ok(good.bits_per_byte! > 0 && good.bits_per_byte! < bad.bits_per_byte!, msg);
});

test('tessera eval --json: val_loss, bits_per_byte and per task acc / acc_norm / n on the fixtures (JSONL and parquet)', async () => {
  await setup();
  const pq = writeParquetFixtures(tmp);
  const fx = (f: string) => join(FIXTURE_DIR(), f);
  const r = spawnSync(process.execPath, [join(projectRoot(), 'bin', 'tessera.js'), 'eval', '--checkpoint', run, '--data', data, '--json', '--cloze', '40',
    '--task', fx('hellaswag.jsonl'), '--task', `arc=${pq.arc}`, '--task', fx('mmlu.jsonl'), '--task', pq.mmlu], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { val_loss: number; bits_per_byte: number; tasks: Record<string, { acc: number; acc_norm: number; n: number; layout: string }>; model: { fingerprint: string } };
  assert.ok(j.val_loss > 0 && j.bits_per_byte > 0);
  assert.deepEqual(Object.keys(j.tasks), ['cloze', 'hellaswag', 'arc', 'mmlu', 'mmlu-2']);
  for (const [name, t] of Object.entries(j.tasks)) {
    assert.ok(t.acc >= 0 && t.acc <= 1 && t.acc_norm >= 0 && t.acc_norm <= 1, name);
    assert.equal(t.n, name === 'cloze' ? 40 : 3, name);
  }
  assert.equal(j.tasks.arc!.layout, 'arc');
  assert.equal(j.tasks.mmlu!.acc, j.tasks['mmlu-2']!.acc, 'the JSONL and parquet MMLU fixtures are the same task');
  assert.match(r.stderr, /cloze \[#+\] 160\/160 requests/);
});

test('tessera eval refuses a dataset with another tokenizer and a task file in no known layout, naming the file', async () => {
  await setup();
  const other = join(tmp, 'other-data');
  await prepareData({ inputs: [join(tmp, 'src', 'corpus.jsonl')], outDir: other, vocabSize: 300, valFraction: 0.1, seed: 3 });
  const cli = (...args: string[]) => spawnSync(process.execPath, [join(projectRoot(), 'bin', 'tessera.js'), 'eval', '--checkpoint', run, ...args], { encoding: 'utf8' });
  const a = cli('--data', other);
  assert.equal(a.status, 1);
  assert.match(a.stderr, new RegExp(`error: the dataset ${other.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} was tokenized with another tokenizer`));
  assert.match(a.stderr, /what to do: prepare the held-out text with the model's tokenizer: tessera data prepare INPUTS --tokenizer/);
  const b = cli('--cloze', '0', '--task', join(FIXTURE_DIR(), 'unknown.jsonl'));
  assert.equal(b.status, 1);
  assert.match(b.stderr, /unknown\.jsonl is in none of the known task layouts/);
});

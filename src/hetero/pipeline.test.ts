// A pipeline group as real processes over TCP: two stages find each other through their buckets,
// train with subspace payloads and micro-batches, and their losses equal the same group run in one
// process; each stage uploads its payload and the two merge into one complete sender. Killing a
// stage mid-window ends the group's window cleanly: the surviving stage reports which neighbour is
// gone and uploads nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getBackend } from '../engine/select.js';
import { createLlama, initParams, type ModelConfig } from '../model/index.js';
import { adamwInit, ADAMW_DEFAULTS } from '../optim/index.js';
import { decodePayload, CODEC_DEFAULTS } from '../compress/index.js';
import { FsStore } from '../storage/fs.js';
import { makeRng } from '../util/rng.js';
import { makeActivationCodec } from '../bench/hetero.js';
import { Stage, groupStep, splitLayers } from './stages.js';
import { mergeStagePayloads } from './payloads.js';
import { startGroup } from './group-run.js';
import { payloadKey, type StageProcessConfig } from './stage-main.js';

const model: ModelConfig = { vocabSize: 97, dim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, ffnHidden: 96, maxSeqLen: 16,
  normEps: 1e-5, ropeTheta: 10000, tiedEmbeddings: false };

function base(dir: string, over: Partial<StageProcessConfig> = {}): Omit<StageProcessConfig, 'stage'> {
  return { group: 'g1', stages: 2, window: 0, model, seed: 3, codec: 'subspace', rank: 8, micro: 2, batch: 4, seq: 16, steps: 3, lr: 1e-3,
    buckets: [join(dir, 'b0'), join(dir, 'b1')], upload: true, connectTimeoutMs: 60000, ...over };
}

test('two stage processes over TCP: same losses as in one process, payloads uploaded and merged', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-pipe-'));
  try {
    const c = base(dir);
    const group = startGroup(c);
    const ends = await Promise.all(group.map((s) => s.done));
    for (const e of ends) assert.equal(e.end.ok, true, `stage ${e.end.stage}: ${e.end.reason ?? ''} ${e.stderr}`);
    // The same group in this process.
    const be = getBackend(), ranges = splitLayers(model.nLayers, 2);
    const m0 = createLlama(model);
    initParams(model, m0.layout, m0.params, c.seed);
    const stages = ranges.map((_, s) => new Stage({ be, model: createLlama(model, m0.params.slice()), s, ranges,
      codec: makeActivationCodec('subspace', model, c.rank, c.group), micro: c.micro, adamw: ADAMW_DEFAULTS, clip: 1 }, adamwInit(m0.layout.total)));
    for (const st of stages) st.beginWindow();
    const want: number[] = [];
    for (let step = 0; step < c.steps; step++) {
      const r = makeRng(`synthetic:${c.seed}:${step}`), n = c.batch * c.seq;
      const inputs = Int32Array.from({ length: n }, () => r.nextInt(model.vocabSize)), targets = Int32Array.from({ length: n }, () => r.nextInt(model.vocabSize));
      want.push(groupStep(stages, inputs, targets, c.batch, c.seq, c.lr).loss);
    }
    assert.deepEqual(ends[1]!.end.losses, want, 'the last stage\'s losses equal the in-process group\'s');
    // Bytes on the wire: 3 steps × 2 micro-batches × (forward 32 tokens × (2 + 4k) + backward 32 × 4k) + frame headers.
    // Frames: a 19-byte header each; per step 2 micro-batches each way and one 8-byte norm message each way.
    const header = 19, hello = header + JSON.stringify({ group: c.group, stage: 0, window: 0 }).length;
    assert.equal(ends[0]!.end.bytesOut, hello + 3 * (2 * (header + 32 * (2 + 4 * 8)) + header + 8), 'stage 0 sent ids + k coefficients per token');
    assert.equal(ends[0]!.end.bytesIn, 3 * (2 * (header + 32 * 4 * 8) + header + 8), 'stage 0 received k coefficients per token');
    // Both payloads are in the stages' buckets and merge into one complete sender.
    const parts = await Promise.all([0, 1].map(async (s) => {
      const raw = await new FsStore(c.buckets[s]!).get(payloadKey(c.group, 0, s));
      assert.ok(raw, `stage ${s} uploaded its payload`);
      const mine = stages[s]!.specs;
      const d = decodePayload(raw, { shapes: mine.map((p) => p.shape), cfg: CODEC_DEFAULTS });
      assert.ok(d.ok, d.ok ? '' : d.detail);
      const index = new Map(m0.layout.specs.map((p, i) => [p.name, i]));
      return { stage: s, tensors: mine.map((p) => index.get(p.name)!), update: d.payload.update };
    }));
    const merged = mergeStagePayloads(parts, m0.layout.specs.length);
    assert.equal(merged.held, undefined, 'the two stages together hold every tensor');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a stage killed mid-window ends the group\'s window cleanly: the other stage says so and uploads nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-pipe-'));
  try {
    const c = base(dir, { steps: 200 });
    const group = startGroup(c);
    await group[1]!.stepDone(1);
    group[1]!.proc.kill('SIGKILL');
    const t0 = Date.now();
    const [e0, e1] = await Promise.all(group.map((s) => s.done));
    assert.equal(e1!.signal, 'SIGKILL');
    assert.equal(e0!.end.ok, false);
    assert.match(String(e0!.end.reason), /stage 1 is gone/);
    assert.equal(e0!.code, 3, 'a clean end of the window, not a crash');
    assert.ok(Date.now() - t0 < 30000, 'noticed promptly');
    assert.equal(existsSync(join(c.buckets[0]!, payloadKey(c.group, 0, 0))), false, 'nothing uploaded');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// SparseLoCo per stage: a complete group's merged stage payloads are bit-identical to one process
// encoding the whole replica (so the aggregate and the fingerprint are too, on either aggregation
// path); a group missing a stage is averaged coordinate by coordinate over the senders that hold
// the coordinate, against an independent dense oracle; overlapping stages are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aggregateByUid, chunksOf, compress, fingerprint, flatIndex, CODEC_DEFAULTS, type CodecConfig, type SparseUpdate } from '../compress/index.js';
import { createLlama, type ModelConfig } from '../model/index.js';
import type { ParamSpec } from '../model/params.js';
import { makeRng } from '../util/rng.js';
import { encodeStage, mergeStagePayloads } from './payloads.js';
import { splitLayers, stageSpecs } from './stages.js';

const cfg: ModelConfig = { vocabSize: 97, dim: 64, nLayers: 3, nHeads: 4, nKvHeads: 2, ffnHidden: 96, maxSeqLen: 16,
  normEps: 1e-5, ropeTheta: 10000, tiedEmbeddings: false };
const codec: CodecConfig = { ...CODEC_DEFAULTS, tile: 16, topk: 8, vectorChunk: 64 };
const { layout } = createLlama(cfg);
const specs = layout.specs, total = layout.total, T = specs.length;

function randomDelta(seed: string): Float32Array {
  const r = makeRng(seed);
  return Float32Array.from({ length: total }, () => r.normal() * 1e-3);
}

function groupPayloads(delta: Float32Array, ef: Float32Array, S: number) {
  const ranges = splitLayers(cfg.nLayers, S);
  return Array.from({ length: S }, (_, s) => encodeStage(s, delta, ef, specs, stageSpecs(specs, ranges, s), codec));
}

const sameUpdate = (a: SparseUpdate, b: SparseUpdate) => a.tensors.length === b.tensors.length && a.tensors.every((t, i) => {
  const u = b.tensors[i]!;
  return Buffer.from(t.idx.buffer, t.idx.byteOffset, t.idx.byteLength).equals(Buffer.from(u.idx.buffer, u.idx.byteOffset, u.idx.byteLength)) &&
    Buffer.from(t.codes).equals(Buffer.from(u.codes)) && t.table.every((x, j) => Object.is(x, u.table[j]));
});

test('a complete group\'s stage payloads merge into exactly the whole replica\'s payload', () => {
  for (const S of [2, 3]) {
    const delta = randomDelta(`d${S}`);
    const efWhole = new Float32Array(total), efStages = new Float32Array(total);
    for (let w = 0; w < 3; w++) { // a few windows, so error feedback carries over
      const whole = compress(delta, efWhole, specs, codec);
      const merged = mergeStagePayloads(groupPayloads(delta, efStages, S), T);
      assert.equal(merged.held, undefined, 'a complete group holds every tensor');
      assert.ok(sameUpdate(whole, merged), `S=${S} window ${w}: merged stage payloads differ from the whole replica's`);
      assert.ok(efWhole.every((v, i) => Object.is(v, efStages[i])), 'error feedback equal');
    }
  }
});

/** Dense oracle: per sender decode through flatIndex (held tensors only), norm Σ n_b·table_b², median clip, float32 mean over senders that sent each coordinate. */
function oracle(peers: SparseUpdate[], sp: readonly ParamSpec[]): Float32Array {
  // Each tensor clipped to the lower median (torch.median) of the norms of the peers holding it.
  const dense = peers.map((u) => {
    const d = new Float32Array(total), has = new Uint8Array(total), owner = new Int32Array(total).fill(-1);
    const norms = u.tensors.map((st, t) => {
      if (u.held && !u.held[t]) return -1;
      const n = [0, 0, 0, 0];
      let v = 0, s2 = 0;
      for (const ch of chunksOf(sp[t]!.shape, codec)) for (let j = 0; j < ch.k; j++, v++) {
        const f = sp[t]!.offset + flatIndex(ch, st.idx[v]!);
        d[f] = st.table[st.codes[v]!]!; has[f] = 1; owner[f] = t; n[st.codes[v]!]! += 1;
      }
      for (let b = 0; b < 4; b++) if (n[b]) s2 += n[b]! * st.table[b]! * st.table[b]!;
      return Math.sqrt(s2);
    });
    return { d, has, owner, norms };
  });
  const lower = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? 0;
  const med = sp.map((_, t) => lower(dense.map((x) => x.norms[t]!).filter((n) => n >= 0)));
  const sum = new Float32Array(total), cnt = new Uint32Array(total);
  for (const { d, has, owner, norms } of dense) {
    const sc = norms.map((n, t) => (n > 0 ? Math.min(1, med[t]! / n) : 0));
    for (let i = 0; i < total; i++) if (has[i]) { sum[i] += Math.fround(d[i]! * sc[owner[i]!]!); cnt[i] += 1; }
  }
  return sum.map((s, i) => (cnt[i] ? s / cnt[i]! : 0));
}

test('aggregate with a group missing a stage: mean over the senders holding each coordinate', () => {
  const fulls = [0, 1, 2].map((r) => compress(randomDelta(`full${r}`), new Float32Array(total), specs, codec));
  const parts = groupPayloads(randomDelta('group'), new Float32Array(total), 2);
  const partial = mergeStagePayloads([parts[0]!], T); // stage 1 disappeared: only stage 0's tensors
  assert.ok(partial.held && partial.held.some((h) => !h) && partial.held.some((h) => h));
  const peers = [...fulls.map((u, i) => ({ uid: i, update: u })), { uid: 9, update: partial }];
  const out = new Float32Array(total);
  const stats = aggregateByUid(peers, specs, codec, total, out);
  assert.equal(stats.impl, 'ts', 'partial senders take the TypeScript path');
  const want = oracle(peers.map((p) => p.update), specs);
  assert.ok(out.every((v, i) => Object.is(v, want[i])), 'aggregate equals the dense oracle bit for bit');
  // Where the group holds nothing, the aggregate is the full replicas' alone.
  const only = new Float32Array(total);
  aggregateByUid(peers.slice(0, 3), specs, codec, total, only);
  const stage1 = stageSpecs(specs, splitLayers(cfg.nLayers, 2), 1);
  const scalesEqual = stats.scales.slice(0, 3).every((s) => s.every((x) => x === 1));
  if (scalesEqual) for (const p of stage1) for (let i = p.offset; i < p.offset + p.size; i++) assert.ok(Object.is(out[i], only[i]), `${p.name}[${i - p.offset}]`);
  // The same senders in another order give the same bits (identical on every node).
  const again = new Float32Array(total);
  aggregateByUid([...peers].reverse(), specs, codec, total, again);
  assert.equal(fingerprint(again), fingerprint(out));
  // Complete group: the native path (when built) and the TS path agree with the partial-capable code.
  const complete = [...fulls.map((u, i) => ({ uid: i, update: u })), { uid: 9, update: mergeStagePayloads(parts, T) }];
  const a = new Float32Array(total), b = new Float32Array(total);
  aggregateByUid(complete, specs, codec, total, a, { impl: 'ts' });
  aggregateByUid(complete, specs, codec, total, b);
  assert.equal(fingerprint(a), fingerprint(b));
});

test('two stages claiming one tensor are refused', () => {
  const parts = groupPayloads(randomDelta('x'), new Float32Array(total), 2);
  assert.throws(() => mergeStagePayloads([parts[0]!, { ...parts[0]!, stage: 1 }], T), /claimed by two stages/);
});

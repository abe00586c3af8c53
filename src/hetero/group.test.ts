// Pipeline groups in the network (docs/hetero.md "Groups in the network"): group records, the stage
// payloads a group uploads against a full replica's, and the Gauntlet scoring a group as one contributor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyAggregate, CODEC_DEFAULTS, compress, decodePayload, encodePayload } from '../compress/index.js';
import { getBackend } from '../engine/select.js';
import { emptyState } from '../gauntlet/state.js';
import { effectiveShares, evalPlan, GAUNTLET_DEFAULTS, makeEvaluator, measureLosses, ownLossAfter, scoreWindow, splitGroupWeights, spreadGroups, updateNorm, type MinerInput } from '../gauntlet/index.js';
import { createLlama, getPreset, initParams } from '../model/index.js';
import { makeRng } from '../util/rng.js';
import { declaredGroups, groupRecordOf, groupShares, holdsExactly, mergeHeld, parseGroupRecord, stageTensorIndices, type GroupRecord } from './group.js';
import { stageUpdate } from './stage-node.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adamwInit, ADAMW_DEFAULTS } from '../optim/index.js';
import { FsStore } from '../storage/fs.js';
import { makeActivationCodec } from '../bench/hetero.js';
import { groupStep, splitLayers, Stage } from './stages.js';
import { connectToNext, listenForPrevious } from './transport.js';
import { runStageSteps } from './pipeline.js';

/** A block hash standing in for the evaluation beacon (chaintime.ts evalBeacon). */
const BEACON = '0x' + 'ab'.repeat(32);

const cfg = { ...getPreset('tiny'), nLayers: 3 };

test('group records: a group counts when every member is registered and holds the same record; shares follow the parameters', () => {
  const m = createLlama(cfg), specs = m.layout.specs;
  const hk = ['hA', 'hB', 'hC'], mg = { uids: [0, 1, 2, 3], hotkeys: ['val', ...hk] };
  const rec = groupRecordOf({ group: 'g1', stage: 0, members: hk.slice(0, 2), codec: 'int8', rank: 8, micro: 2 });
  assert.deepEqual(parseGroupRecord(new TextEncoder().encode(JSON.stringify(rec))), rec);
  assert.equal(parseGroupRecord(new TextEncoder().encode('{"format":"tessera-group","version":1}')), null);
  const recs = (r: Record<number, GroupRecord | null>) => new Map(Object.entries(r).map(([k, v]) => [Number(k), v]));
  const g = declaredGroups(recs({ 1: rec, 2: rec, 3: null }), mg, specs, cfg.nLayers);
  assert.equal(g.length, 1);
  assert.deepEqual(g[0]!.members, [1, 2]);
  // Stage 0: embedding + layers 0..1 (splitLayers gives earlier stages the extra layer); stage 1: layer 2 + norm + output.
  const sizes = [0, 1].map((s) => stageTensorIndices(specs, cfg.nLayers, 2, s).reduce((a, i) => a + specs[i]!.size, 0));
  assert.equal(sizes[0]! + sizes[1]!, m.layout.total, 'the stages hold every parameter once');
  assert.deepEqual(g[0]!.shares, sizes.map((n) => n / m.layout.total));
  assert.deepEqual(groupShares(specs, cfg.nLayers, 2), g[0]!.shares);
  // A member that holds another record, has none, or is not registered: no group.
  assert.equal(declaredGroups(recs({ 1: rec, 2: { ...rec, codec: 'dense' } }), mg, specs, cfg.nLayers).length, 0);
  assert.equal(declaredGroups(recs({ 1: rec, 2: null }), mg, specs, cfg.nLayers).length, 0);
  assert.equal(declaredGroups(recs({ 1: rec, 2: rec }), { uids: [0, 1], hotkeys: ['val', 'hA'] }, specs, cfg.nLayers).length, 0);
  // The lead is members[0]: a record found only under another uid does not make a group led by it.
  assert.equal(declaredGroups(recs({ 2: rec }), mg, specs, cfg.nLayers).length, 0);
});

test('stage payloads: merged, a complete group is bit-identical to one full replica\'s payload and measures the same losses', () => {
  const m = createLlama(cfg), specs = m.layout.specs, T = specs.length, n = m.layout.total, codec = CODEC_DEFAULTS;
  initParams(cfg, m.layout, m.params, 3);
  const rng = makeRng('stage-delta'), delta = Float32Array.from({ length: n }, () => (rng.nextFloat() - 0.5) * 1e-2);
  const ef0 = Float32Array.from({ length: n }, () => (rng.nextFloat() - 0.5) * 1e-3);
  const efFull = ef0.slice(), full = compress(delta, efFull, specs, codec);
  const efStage = ef0.slice();
  const parts = [0, 1].map((s) => {
    const at = stageTensorIndices(specs, cfg.nLayers, 2, s), mine = at.map((i) => specs[i]!);
    return stageUpdate(compress(delta, efStage, mine, codec), at, T);
  });
  assert.deepEqual(efStage, efFull, 'the stages\' error feedback together is the replica\'s');
  // Through the wire: each stage's partial payload decodes to exactly its tensors.
  const shapes = specs.map((p) => p.shape), hash = 'ab'.repeat(32);
  const decoded = parts.map((u, s) => {
    const r = decodePayload(encodePayload({ update: u, modelHash: hash, window: 4, uid: 10 + s, indexMode: 'entropy', shapes, cfg: codec, steps: 8 }), { shapes, cfg: codec, modelHash: hash });
    assert.ok(r.ok, JSON.stringify(r));
    assert.ok(holdsExactly(r.payload.update, stageTensorIndices(specs, cfg.nLayers, 2, s)));
    assert.ok(!holdsExactly(r.payload.update, stageTensorIndices(specs, cfg.nLayers, 2, 1 - s)));
    return r.payload.update;
  });
  const merged = mergeHeld(decoded, T);
  assert.equal(merged.held, undefined, 'a complete group holds every tensor');
  merged.tensors.forEach((t, i) => assert.deepEqual([t.idx, t.codes, t.table], [full.tensors[i]!.idx, full.tensors[i]!.codes, full.tensors[i]!.table], `tensor ${i}`));
  assert.equal(updateNorm(merged), updateNorm(full));
  assert.throws(() => mergeHeld([decoded[0]!, decoded[0]!], T), /held by two stages/);
  const half = mergeHeld([decoded[1]!], T);
  assert.deepEqual(half.held, specs.map((_, i) => stageTensorIndices(specs, cfg.nLayers, 2, 1).includes(i)));
  // The Gauntlet's measurement of the merged update is the full replica's; as aggregate senders the stages give the replica's step.
  const tokens = Uint16Array.from({ length: 20_000 }, () => rng.nextInt(cfg.vocabSize));
  const run = { alpha: 1, batch: 2, seq: 16, codec, seed: 1, innerSteps: 4 };
  const ev = makeEvaluator(getBackend(), m, tokens, run), plan = evalPlan(run, 4, 10, 'hk', BEACON, tokens.length, 2);
  assert.deepEqual(measureLosses(ev, merged, plan, 1, 1), measureLosses(ev, full, plan, 1, 1));
  // Leave-one-out: a lazy stage (its tensors' values all 0) contributes exactly nothing; the other stage's removal changes the loss.
  const zero = (u: typeof decoded[number]) => ({ ...u, tensors: u.tensors.map((t) => ({ ...t, table: new Float32Array(4) })) });
  const lazyMerged = mergeHeld([decoded[0]!, zero(decoded[1]!)], T), after = ownLossAfter(ev, lazyMerged, plan, 1, 1);
  assert.equal(ownLossAfter(ev, mergeHeld([decoded[0]!], T), plan, 1, 1) - after, 0, 'without the lazy stage: the same loss');
  assert.notEqual(ownLossAfter(ev, mergeHeld([zero(decoded[1]!)], T), plan, 1, 1) - after, 0);
  assert.equal(after, measureLosses(ev, lazyMerged, plan, 1, 1).own.after);
  const a = m.params.slice(), b = m.params.slice();
  applyAggregate(a, [full], specs, codec, 1);
  applyAggregate(b, decoded, specs, codec, 1);
  assert.deepEqual(b, a, 'two stage senders = one full sender');
});

test('the Gauntlet scores a group once under its lead, splits its weight by shares and lists every member as a peer', () => {
  const losses = (own: number, rnd: number) => ({ own: { before: 5, after: 5 - own }, random: { before: 5, after: 5 - rnd } });
  const plan = { seed: 's', steps: 8, own: [1], random: [2] };
  const input = (uid: number, own: number): MinerInput => ({ uid, status: 'ok', landedAt: 1, seen: uid, steps: 8, norm: 1, sketch: [uid * 7 + 1, uid * 7 + 2],
    measured: { plan, clipScale: 1, losses: losses(own, own / 4), behind: 0 } });
  const shares = [0.7, 0.3];
  const inputs = { window: 3, validator: { uid: 0, hotkey: 'v' }, maxPeers: 4, reserves: 2, miners: [input(1, 0.2), input(2, 0.4)], groups: [{ group: 'g1', members: [2, 3], shares }] };
  const { result, state } = scoreWindow(emptyState(), inputs, GAUNTLET_DEFAULTS);
  assert.deepEqual(result.miners.map((r) => r.uid), [1, 2], 'the group is one contributor (uid 3 has no result of its own)');
  assert.equal(state.miners[3], undefined);
  assert.deepEqual(result.peers, [1, 2, 3]);
  const w = new Map(result.weights.uids.map((u, i) => [u, result.weights.weights[i]!]));
  const alone = scoreWindow(emptyState(), { ...inputs, groups: undefined }, GAUNTLET_DEFAULTS).result.weights;
  const leadAlone = alone.weights[alone.uids.indexOf(2)]!;
  assert.ok(Math.abs(w.get(2)! - leadAlone * 0.7) < 1e-12 && Math.abs(w.get(3)! - leadAlone * 0.3) < 1e-12, JSON.stringify(result.weights));
  assert.ok(Math.abs([...w.values()].reduce((a, b) => a + b, 0) - 1) < 1e-12, 'weights still sum to 1');
  // A lazy stage (contribution ≤ 0) gets no share; the group's weight goes to its other stages.
  const lazy = scoreWindow(emptyState(), { ...inputs, groups: [{ ...inputs.groups[0]!, contributions: [0.01, 0] }] }, GAUNTLET_DEFAULTS).result.weights;
  assert.deepEqual(lazy.uids, [1, 2]);
  assert.ok(Math.abs(lazy.weights[1]! - leadAlone) < 1e-12);
  assert.deepEqual(effectiveShares({ group: 'g', members: [1, 2, 3], shares: [0.5, 0.25, 0.25], contributions: [0.1, NaN, 0.2] }), [2 / 3, 0, 1 / 3]);
  assert.deepEqual(effectiveShares({ group: 'g', members: [1, 2], shares: [0.5, 0.5], contributions: [-1, 0] }), [0, 0]);
  // Split and spread on their own.
  assert.deepEqual(splitGroupWeights({ uids: [1, 2], weights: [0.5, 0.5] }, [{ group: 'g', members: [2, 5, 6], shares: [0.5, 0.25, 0.25] }]), { uids: [1, 2, 5, 6], weights: [0.5, 0.25, 0.125, 0.125] });
  const finals = new Map([[1, 0.9], [2, 0.5], [7, 0.7]]);
  // maxPeers 3: the group (2 slots) and uids 7, 1 do not all fit; the lowest final (the group) moves to the reserves.
  assert.deepEqual(spreadGroups([1, 2, 7], [9], [{ group: 'g', members: [2, 5], shares: [0.5, 0.5] }], 3, 2, finals), { peers: [1, 7], reserves: [2, 5] });
  assert.deepEqual(spreadGroups([1, 2], [], [{ group: 'g', members: [2, 5], shares: [0.5, 0.5] }], 3, 2, finals), { peers: [1, 2, 5], reserves: [] });
});

test('the step budget: the first stage stops the group after `more` says no; every stage of 3 ends with the same steps and the in-process losses', async () => {
  const model = { vocabSize: 97, dim: 64, nLayers: 3, nHeads: 4, nKvHeads: 2, ffnHidden: 96, maxSeqLen: 16, normEps: 1e-5, ropeTheta: 10000, tiedEmbeddings: false };
  const dir = mkdtempSync(join(tmpdir(), 'tessera-budget-'));
  try {
    const be = getBackend(), ranges = splitLayers(model.nLayers, 3), m0 = createLlama(model);
    initParams(model, m0.layout, m0.params, 5);
    const make = () => ranges.map((_, s) => new Stage({ be, model: createLlama(model, m0.params.slice()), s, ranges, codec: makeActivationCodec('int8', model, 8, 'g'), micro: 2,
      adamw: ADAMW_DEFAULTS, clip: 1 }, adamwInit(m0.layout.total)));
    const batch = (step: number) => { const r = makeRng(`budget:${step}`); return { inputs: Int32Array.from({ length: 64 }, () => r.nextInt(97)), targets: Int32Array.from({ length: 64 }, () => r.nextInt(97)) }; };
    const stages = make(), stores = [0, 1, 2].map((s) => new FsStore(join(dir, `b${s}`)));
    for (const st of stores) await st.ensureBucket();
    const links = await Promise.all(stages.map(async (_, s) => Promise.all([
      s > 0 ? listenForPrevious(stores[s]!, 'g', s, 1, {}, { timeoutMs: 20_000 }) : Promise.resolve(null),
      s < 2 ? connectToNext(stores[s + 1]!, 'g', s, 1, {}, { timeoutMs: 20_000 }) : Promise.resolve(null)])));
    const asked: number[] = [];
    const res = await Promise.all(stages.map((stage, s) => runStageSteps({ stage, prev: links[s]![0], next: links[s]![1], steps: 6, B: 4, T: 16, batchOf: batch, lrOf: () => 1e-3,
      more: (done) => { asked.push(done); return done < 2; } })));
    for (const l of links.flat()) l?.close();
    assert.deepEqual(asked, [1, 2], 'only the first stage is asked, before steps 2 and 3');
    assert.deepEqual(res.map((r) => r.losses.length), [2, 2, 2]);
    const ref = make(), want = [0, 1].map((k) => { const b = batch(k); return groupStep(ref, b.inputs, b.targets, 4, 16, 1e-3).loss; });
    assert.deepEqual(res[2]!.losses, want);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

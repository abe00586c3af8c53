// Replay audits (audit.ts) on the tiny model: a window replayed from the same state gives the miner's
// update exactly (cosine 1) through the miner's own trainWindow code path's arithmetic (replayUpdate vs a
// hand-run of the same steps); half a training on other data, fewer steps than declared, or another error
// feedback give another update (cosine below the tolerance); the reveal round-trips and its commitment
// binds every part of the state; the beacon's pick is deterministic and near its rate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compress, CODEC_DEFAULTS, decodePayload, encodePayload } from '../compress/index.js';
import { getBackend } from '../engine/index.js';
import { createLlama, getPreset, initParams } from '../model/index.js';
import { ADAMW_DEFAULTS, adamwInit } from '../optim/index.js';
import { makeBatch } from '../data/index.js';
import type { RunConfig } from '../protocol/index.js';
import { makeTrainable, trainStep } from '../train/step.js';
import { makeRng } from '../util/rng.js';
import {
  AUDIT_RATE, AUDIT_TOLERANCE, auditChosen, decodeReveal, encodeReveal, INNER_CLIP, innerLr, paramsDigest, replayUpdate, stateCommitment, updateCosine, type Reveal,
} from './audit.js';

const model = { ...getPreset('tiny'), vocabSize: 64 };
const run = { runId: 'audit-test', model, innerSteps: 6, batch: 2, seq: 16, innerLr: 3e-3, warmup: 2, alpha: 0.7, codec: { ...CODEC_DEFAULTS } } as unknown as RunConfig;
const rng = makeRng('audit-test');
const tokens = Uint16Array.from({ length: 6000 }, (_, i) => (i % 5 === 0 ? rng.nextInt(64) : (i * 7) % 64));
const own = Array.from({ length: 6 }, (_, s) => [s * 40, s * 40 + 17]);
const other = Array.from({ length: 6 }, (_, s) => [3000 + s * 40, 3000 + s * 40 + 17]);

/** A miner's window by hand: `steps` AdamW steps from θ with a state that has already trained two windows, compressed with its error feedback. */
function setup(): { theta: Float32Array; state: Reveal } {
  const be = getBackend(), llama = createLlama(model);
  initParams(model, llama.layout, llama.params, 5);
  const opt = adamwInit(llama.params.length), t = makeTrainable(be, llama, opt, { ...ADAMW_DEFAULTS }, INNER_CLIP);
  for (const o of other.slice(0, 3)) { const b = makeBatch(tokens, o, run.seq); trainStep(t, b.inputs, b.targets, run.batch, run.seq, innerLr(run, opt.step)); }
  const theta = Float32Array.from(llama.params), ef = Float32Array.from({ length: theta.length }, () => 1e-4 * rng.normal());
  return { theta, state: { window: 7, uid: 3, step: opt.step, m: Float32Array.from(opt.m), v: Float32Array.from(opt.v), ef, base: paramsDigest(theta), baseLess: null } };
}

function trainByHand(theta: Float32Array, s: Reveal, batches: number[][]): ReturnType<typeof compress> {
  const llama = createLlama(model, Float32Array.from(theta)), opt = { m: Float32Array.from(s.m), v: Float32Array.from(s.v), step: s.step };
  const t = makeTrainable(getBackend(), llama, opt, { ...ADAMW_DEFAULTS }, INNER_CLIP);
  for (const o of batches) { const b = makeBatch(tokens, o, run.seq); trainStep(t, b.inputs, b.targets, run.batch, run.seq, innerLr(run, opt.step)); }
  return compress(Float32Array.from(theta, (x, i) => x - llama.params[i]!), Float32Array.from(s.ef), llama.layout.specs, run.codec);
}

test('replay audit: the same state and data give the upload; other data, fewer steps or another error feedback do not', () => {
  const { theta, state } = setup(), specs = createLlama(model).layout.specs, n = theta.length, be = getBackend();
  const honest = trainByHand(theta, state, own);
  const replay = replayUpdate(be, run, specs, theta, state, tokens, own)!;
  assert.deepEqual(replay, honest, 'bit-identical');
  assert.equal(updateCosine(replay, honest, specs, run.codec, n), 1);
  const cheats = {
    'half on other data': trainByHand(theta, state, [...own.slice(0, 3), ...other.slice(0, 3)]),
    "a victim's assignment": trainByHand(theta, state, other),
    'one step of six': trainByHand(theta, state, own.slice(0, 1)),
    'another error feedback': trainByHand(theta, { ...state, ef: new Float32Array(n) }, own),
  };
  for (const [what, u] of Object.entries(cheats)) {
    const c = updateCosine(replay, u, specs, run.codec, n);
    if (process.env.AUDIT_COSINES) console.log(`${what}: cosine ${c.toFixed(4)}`);
    assert.ok(c < AUDIT_TOLERANCE, `${what}: cosine ${c} must be below ${AUDIT_TOLERANCE}`);
  }
  const again = setup().theta;
  assert.ok(theta.every((x, i) => x === again[i]), 'the base is not modified');
});

test('reveal: round trip, and the commitment binds the step, base, moments and error feedback', () => {
  const { state } = setup(), n = state.m.length;
  const back = decodeReveal(encodeReveal(state), n);
  assert.ok(typeof back !== 'string');
  assert.deepEqual(back, state);
  const c = stateCommitment(state);
  assert.equal(stateCommitment(back), c);
  const flip = (a: Float32Array): Float32Array => { const b = Float32Array.from(a); b[n >> 1] = b[n >> 1]! + 1e-3; return b; };
  for (const changed of [{ ...state, step: state.step + 1 }, { ...state, m: flip(state.m) }, { ...state, v: flip(state.v) }, { ...state, ef: flip(state.ef) },
    { ...state, base: '0'.repeat(64) }, { ...state, baseLess: 'f'.repeat(64) }]) assert.notEqual(stateCommitment(changed), c);
  assert.match(String(decodeReveal(encodeReveal(state).subarray(0, 100), n)), /bytes/);
  assert.match(String(decodeReveal(new Uint8Array(12 * n + 40), n)), /TSAR/);
  // The payload carries the commitment (wire.ts flag bit 2) and still decodes without one.
  const llama = createLlama(model), shapes = llama.layout.specs.map((s) => s.shape);
  const update = compress(new Float32Array(n).map(() => rng.normal()), new Float32Array(n), llama.layout.specs, run.codec);
  const base = { update, modelHash: 'a'.repeat(64), window: 7, uid: 3, indexMode: 'entropy' as const, shapes, cfg: run.codec, steps: 6 };
  const withC = decodePayload(encodePayload({ ...base, stateCommitment: c }), { shapes, cfg: run.codec });
  const without = decodePayload(encodePayload(base), { shapes, cfg: run.codec });
  assert.ok(withC.ok && without.ok);
  assert.equal(withC.payload.stateCommitment, c);
  assert.equal(without.payload.stateCommitment, null);
  assert.deepEqual(withC.payload.update, without.payload.update);
});

test('audit pick: deterministic per (run, window, uid, beacon), near its rate, never at rate 0', () => {
  let picked = 0;
  for (let w = 0; w < 400; w++) {
    const a = auditChosen(run, w, 4, `beacon-${w}`);
    assert.equal(auditChosen(run, w, 4, `beacon-${w}`), a);
    if (a) picked++;
    assert.equal(auditChosen({ ...run, auditRate: 0 }, w, 4, `beacon-${w}`), false);
    assert.equal(auditChosen({ ...run, auditRate: 1 }, w, 4, `beacon-${w}`), true);
  }
  assert.ok(picked > 160 && picked < 240, `${picked} of 400 picked at the default rate ${AUDIT_RATE}`);
});

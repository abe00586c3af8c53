// The Gauntlet's scalar pieces on hand-computed cases: LossScore and the own-data indicator, its
// bias-corrected moving average and warm-up, the seeded evaluation plan, the sync score, OpenSkill
// ranks and updates, final scores and the weight schedule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ordinal, rate, rating } from 'openskill';
import { trainingOffsets } from '../protocol/index.js';
import {
  biasCorrected, clampSteps, eligibleFinals, evalPlan, finalScore, foldChange, foldIndicator, GAUNTLET_DEFAULTS, lossScore, matchRanks, newRating, ordinalOf,
  ownDataOk, provenMiners, rateMatch, readableTimes, recentlyPenalized, relImprovement, selectPeers, shapeWeights, syncScore, tiers, windowsBehind,
} from './index.js';

/** A block hash standing in for the evaluation beacon (chaintime.ts evalBeacon). */
const BEACON = '0x' + 'ab'.repeat(32);

const close = (a: number, b: number, eps = 1e-12): void => assert.ok(Math.abs(a - b) <= eps, `${a} ≠ ${b}`);

test('LossScore: relative improvements and the own-vs-random indicator', () => {
  close(relImprovement({ before: 4, after: 3 }), 0.25);
  close(relImprovement({ before: 2, after: 2.5 }), -0.25);
  assert.equal(relImprovement({ before: 0, after: 1 }), 0);
  assert.equal(relImprovement({ before: NaN, after: 1 }), 0);
  const honest = lossScore({ own: { before: 5, after: 4 }, random: { before: 5, after: 4.5 } });
  close(honest.score, 0.1); close(honest.ownImprovement, 0.2);
  assert.equal(honest.indicator, 1);
  const lazy = lossScore({ own: { before: 5, after: 4.6 }, random: { before: 4, after: 3.6 } });
  close(lazy.score, 0.1);
  assert.equal(lazy.indicator, -1, 'equal relative improvements do not beat random');
});

test('indicator moving average: α 0.05 from 0, bias correction and the warm-up gate', () => {
  const a = 0.05;
  let ma = 0;
  ma = foldIndicator(ma, 1, a); close(ma, 0.05);
  ma = foldIndicator(ma, 1, a); close(ma, 0.0975);
  close(biasCorrected(ma, 2, a), 1, 1e-12);
  ma = foldIndicator(ma, -1, a); close(ma, 0.0975 * 0.95 - 0.05);
  close(biasCorrected(ma, 3, a), (0.0975 * 0.95 - 0.05) / (1 - 0.95 ** 3));
  assert.equal(biasCorrected(0.3, 0, a), 0);
  const p = { indicatorAlpha: a, indicatorWarmup: 3, indicatorThreshold: 0.5 };
  assert.equal(ownDataOk(-0.05, 1, p), true, 'no verdict during warm-up');
  assert.equal(ownDataOk(foldIndicator(foldIndicator(foldIndicator(0, 1, a), 1, a), 1, a), 3, p), true);
  // +1, +1, −1: bias-corrected (0.05·0.95² + 0.05·0.95 − 0.05) / (1 − 0.95³) ≈ 0.316 < 0.5.
  assert.equal(ownDataOk(foldIndicator(foldIndicator(foldIndicator(0, 1, a), 1, a), -1, a), 3, p), false);
});

test('evaluation plan: seeded by (window, uid, validator hotkey), assigned batches are the miner\'s own', () => {
  const run = { seed: 7, innerSteps: 6, batch: 3, seq: 16 }, N = 50_000;
  const a = evalPlan(run, 12, 4, 'hk-A', BEACON, N, 2);
  assert.deepEqual(evalPlan(run, 12, 4, 'hk-A', BEACON, N, 2), a, 'deterministic');
  assert.equal(a.own.length, 6);
  assert.equal(a.random.length, 6);
  const assigned = trainingOffsets(run, 4, 12, N);
  for (let i = 0; i < a.own.length; i += 3) assert.ok(assigned.some((b) => b.join() === a.own.slice(i, i + 3).join()), 'whole assigned batches');
  assert.ok(a.random.every((o) => Number.isInteger(o) && o >= 0 && o < N - run.seq));
  for (const other of [evalPlan(run, 12, 4, 'hk-B', BEACON, N, 2), evalPlan(run, 13, 4, 'hk-A', BEACON, N, 2), evalPlan(run, 12, 5, 'hk-A', BEACON, N, 2),
    evalPlan(run, 12, 4, 'hk-A', '0x' + 'cd'.repeat(32), N, 2)]) { // the last: another beacon (block hash after the deadline)
    assert.notDeepEqual(other.random, a.random);
  }
  assert.equal(evalPlan(run, 12, 4, 'hk-A', BEACON, N, 99).own.length, 18, 'all batches when H ≤ batches');
  assert.equal(a.steps, 6, 'default steps: innerSteps');
  assert.deepEqual(evalPlan(run, 12, 4, 'hk-A', BEACON, N, 2, 6), a, 'steps = H: the plan as without steps');
});

test('evaluation plan steps: clamped to 1..innerSteps, batches among the first `steps` assigned ones', () => {
  const run = { seed: 7, innerSteps: 6, batch: 3, seq: 16 }, N = 50_000;
  assert.deepEqual([0, 1, 2.7, 6, 99, -3, NaN, Infinity].map((x) => clampSteps(x, 6)), [1, 1, 2, 6, 6, 1, 6, 6]);
  const assigned = trainingOffsets(run, 4, 12, N);
  for (const [steps, want] of [[0, 1], [1, 1], [2.7, 2], [99, 6]] as const) {
    const p = evalPlan(run, 12, 4, 'hk-A', BEACON, N, 8, steps);
    assert.equal(p.steps, want);
    assert.deepEqual(p.own, assigned.slice(0, want).flat(), `steps ${steps}: all of the first ${want} batches`);
    assert.equal(p.random.length, p.own.length);
  }
  const p4 = evalPlan(run, 12, 4, 'hk-A', BEACON, N, 2, 4);
  assert.equal(p4.own.length, 6);
  assert.deepEqual(evalPlan(run, 12, 4, 'hk-A', BEACON, N, 2, 4), p4, 'deterministic');
  assert.equal(p4.seed, evalPlan(run, 12, 4, 'hk-A', BEACON, N, 2).seed, 'the same seed');
});

test('peer selection: eligible finals only (unbarred, positive), peers then reserves by score, ascending', () => {
  assert.equal(recentlyPenalized(-1, 0, 2), false, 'never penalized: never barred');
  assert.equal(recentlyPenalized(-1, 0, 1e6), false);
  assert.equal(recentlyPenalized(4, 4, 2), true); assert.equal(recentlyPenalized(4, 5, 2), true); assert.equal(recentlyPenalized(4, 6, 2), false);
  assert.equal(recentlyPenalized(4, 4, 0), false, 'penaltyMemory 0 bars nothing');
  const f = eligibleFinals({ 1: { final: 3, lastPenalty: -1 }, 2: { final: 5, lastPenalty: 9 }, 3: { final: 2, lastPenalty: 7 }, 4: { final: 0, lastPenalty: -1 } }, 9, 2);
  assert.deepEqual([...f].sort((a, b) => a[0] - b[0]), [[1, 3], [2, 0], [3, 2], [4, 0]]);
  const finals = new Map([[9, 1], [2, 7], [5, 3], [7, 7], [11, 0], [3, -2], [4, 2], [6, NaN]]);
  assert.deepEqual(selectPeers(finals, 2, 2), { peers: [2, 7], reserves: [4, 5] });
  assert.deepEqual(selectPeers(finals, 3, 9), { peers: [2, 5, 7], reserves: [4, 9] }, 'never a zero, negative or non-finite score');
  assert.deepEqual(selectPeers(new Map([[1, 0]]), 3, 2), { peers: [], reserves: [] });
  const w = shapeWeights(finals, 3, 9, { ...GAUNTLET_DEFAULTS, peerShare: 0.75 }), s = selectPeers(finals, 3, 9);
  assert.deepEqual(w.uids, [...s.peers, ...s.reserves].sort((a, b) => a - b), 'with a reserve share: weighted = listed');
  assert.deepEqual(shapeWeights(finals, 3, 9, GAUNTLET_DEFAULTS).uids, s.peers, 'by default: weighted = the peers');
});

test('reserves are proven miners: past the own-data warm-up; peers need not be', () => {
  const proven = provenMiners({ 2: { evals: 8 }, 5: { evals: 3 }, 7: { evals: 1 }, 4: { evals: 9 }, 9: { evals: 12 } }, 8);
  assert.deepEqual([...proven].sort((a, b) => a - b), [2, 4, 9]);
  const finals = new Map([[9, 1], [2, 7], [5, 3], [7, 7], [4, 2]]);
  // Ranked 2, 7, 5, 4, 9: peers are the best two whatever their evaluations; reserves skip unproven 5.
  assert.deepEqual(tiers(finals, 2, 2, proven), { peers: [2, 7], reserves: [4, 9] });
  assert.deepEqual(selectPeers(finals, 2, 2, proven), { peers: [2, 7], reserves: [4, 9] });
  assert.deepEqual(selectPeers(finals, 2, 2), { peers: [2, 7], reserves: [4, 5] }, 'without a proven set every positive uid may be a reserve');
  const w = shapeWeights(finals, 2, 2, { ...GAUNTLET_DEFAULTS, peerShare: 0.75 }, proven);
  assert.deepEqual(w.uids, [2, 4, 7, 9], 'an unproven newcomer outside the top peers gets no weight');
  const young = shapeWeights(finals, 2, 2, GAUNTLET_DEFAULTS, new Set());
  assert.deepEqual(young.uids, [2, 7], 'a young network pays its peers only');
  assert.ok(Math.abs(young.weights.reduce((a, b) => a + b, 0) - 1) < 1e-12);
});

test('readable times: epoch milliseconds after a time word become ISO-8601; durations and other numbers stay', () => {
  const ms = Date.UTC(2025, 0, 2, 3, 4, 5, 6);
  assert.equal(readableTimes(`landed at ${ms}, 4000 ms after the deadline`), 'landed at 2025-01-02T03:04:05.006Z, 4000 ms after the deadline');
  assert.equal(readableTimes(`deadline=${ms} landedAt: ${ms + 1}`), 'deadline=2025-01-02T03:04:05.006Z landedAt: 2025-01-02T03:04:05.007Z');
  assert.equal(readableTimes('hash_mismatch: sha 1234567890123456 at offset 12'), 'hash_mismatch: sha 1234567890123456 at offset 12');
  assert.equal(readableTimes(`after ${ms} ms`), `after ${ms} ms`, 'a duration in ms stays');
  assert.equal(readableTimes(`seen at ${ms}.`), 'seen at 2025-01-02T03:04:05.006Z.');
  assert.equal(readableTimes(`at ${ms}.5`), `at ${ms}.5`, 'not an integer instant');
});

test('sync score: windows behind in units of a typical change; 3 behind → 0', () => {
  assert.equal(windowsBehind([1, 2, 3], [1, 2, 3], 0), 0, 'identical is 0 behind even with no change');
  close(windowsBehind([1, 2, 3], [1.3, 2, 2.7], 0.1)!, 2);
  assert.equal(windowsBehind([1, 2], [1, 2.5], 0), null);
  assert.equal(windowsBehind([1, 2], [1], 0.1), null, 'malformed probe');
  close(syncScore(0, 3), 1); close(syncScore(1.5, 3), 0.5); assert.equal(syncScore(3, 3), 0); assert.equal(syncScore(7, 3), 0);
  assert.equal(syncScore(null, 3), 0);
  close(foldChange(null, 0.4), 0.4); close(foldChange(0.4, 0.9), 0.5);
});

test('OpenSkill: competition ranks from scores (nulls last) and Plackett-Luce updates as the library computes them', () => {
  const ranks = matchRanks([{ uid: 4, score: 0.1 }, { uid: 2, score: null }, { uid: 9, score: 0.3 }, { uid: 1, score: 0.1 }, { uid: 3, score: null }]);
  assert.deepEqual([...ranks].sort((a, b) => a[0] - b[0]), [[1, 2], [2, 4], [3, 4], [4, 2], [9, 1]]);
  close(ordinalOf(newRating()), 0, 1e-9);
  const r = rateMatch(new Map(), new Map([[1, 1], [2, 2], [3, 3]]), GAUNTLET_DEFAULTS);
  const direct = rate([[rating()], [rating()], [rating()]], { rank: [1, 2, 3], beta: 7, tau: 0.1 });
  for (const [i, u] of [1, 2, 3].entries()) assert.deepEqual(r.get(u), { mu: direct[i]![0]!.mu, sigma: direct[i]![0]!.sigma });
  assert.ok(r.get(1)!.mu > 25 && r.get(3)!.mu < 25 && ordinal(r.get(1)!) > ordinal(r.get(2)!));
  const tied = rateMatch(new Map(), new Map([[5, 1], [6, 1]]), GAUNTLET_DEFAULTS);
  close(tied.get(5)!.mu, tied.get(6)!.mu);
  assert.deepEqual(rateMatch(new Map([[8, { mu: 30, sigma: 2 }]]), new Map([[8, 1]]), GAUNTLET_DEFAULTS).get(8), { mu: 30, sigma: 2 }, 'one player: no match');
});

test('final score: negative ordinal or average gives 0, never a positive product of negatives', () => {
  close(finalScore(10, 0.5, 0.8), 4);
  assert.equal(finalScore(-10, -0.5, 1), 0);
  assert.equal(finalScore(10, -0.5, 1), 0);
  assert.equal(finalScore(-3, 0.5, 1), 0);
  assert.equal(finalScore(10, 0.5, 0), 0);
  close(finalScore(-3, 0.5, 1, 25), 11, 1e-12);
  assert.equal(finalScore(-30, 0.5, 1, 25), 0);
});

test('weights (Templar\'s shape, peerShare 0.75): peers on a 2:1 ramp share 75%, reserves decay 0.75 and share 25%, the rest 0', () => {
  const finals = new Map([[1, 9], [2, 7], [3, 5], [4, 3], [5, 2], [6, 1], [7, 0], [8, -4]]);
  const { uids, weights } = shapeWeights(finals, 3, 2, { ...GAUNTLET_DEFAULTS, peerShare: 0.75 });
  assert.deepEqual(uids, [1, 2, 3, 4, 5]);
  const want = [0.75 * 2 / 4.5, 0.75 * 1.5 / 4.5, 0.75 * 1 / 4.5, 0.25 / 1.75, 0.25 * 0.75 / 1.75];
  weights.forEach((w, i) => close(w, want[i]!, 1e-12));
  close(weights.reduce((a, b) => a + b, 0), 1, 1e-12);
  // Reserves never outweigh the weakest peer: with one peer and ramp, a big reserve share is capped.
  const capped = shapeWeights(new Map([[1, 5], [2, 4]]), 1, 1, { peerShare: 0.3, peerTopRatio: 2, reserveDecay: 0.75 });
  assert.ok(capped.weights[1]! < capped.weights[0]!);
  assert.deepEqual(shapeWeights(new Map([[1, 0], [2, -1]]), 3, 2, GAUNTLET_DEFAULTS), { uids: [], weights: [] });
});

test('weights (tessera\'s default, peerShare 1): only the top maxPeers are paid; reserves stand by unpaid', () => {
  const finals = new Map([[1, 9], [2, 7], [3, 5], [4, 3], [5, 2]]);
  const { uids, weights } = shapeWeights(finals, 3, 2, GAUNTLET_DEFAULTS);
  assert.deepEqual(uids, [1, 2, 3], 'no zero weights listed');
  [2 / 4.5, 1.5 / 4.5, 1 / 4.5].forEach((w, i) => close(weights[i]!, w, 1e-12));
  // A peer missing this window (paid 0 by the caller) lets the first reserve into the paid tier: it fills the failed slot.
  const filled = shapeWeights(new Map([[1, 9], [2, 0], [3, 5], [4, 3], [5, 2]]), 3, 2, GAUNTLET_DEFAULTS);
  assert.deepEqual(filled.uids, [1, 3, 4]);
});

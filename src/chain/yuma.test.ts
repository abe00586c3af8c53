// Yuma consensus: hand-computed cases, and expected numbers taken from subtensor's own tests
// (opentensor/subtensor pallets/subtensor/src/tests/math.rs and tests/epoch.rs), re-run in float64.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { yumaEpoch, type YumaInput, type MatrixRow } from './yuma.js';
import { weightedMedian, weightedMedianCol, isTopkNonzero, toU16Proportion } from './yuma-math.js';

const close = (got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void => {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= tol, `${what}[${i}]: got ${got[i]}, want ${want[i]} (±${tol})`);
};
const base = (over: Partial<YumaInput> & Pick<YumaInput, 'stake' | 'weights'>): YumaInput =>
  ({ validatorPermit: over.stake.map((s) => s > 0), emission: 100, ...over });

test('1 validator, 2 miners: incentive = its weights, all dividends to it, 18% owner cut then 50/50', () => {
  const r = yumaEpoch(base({ stake: [100, 0, 0], weights: [[[1, 1], [2, 3]]] }));
  close(r.Consensus, [0, 0.25, 0.75], 1e-12, 'C');
  close(r.Incentive, [0, 0.25, 0.75], 1e-12, 'I');
  close(r.ValidatorTrust, [1, 0, 0], 1e-12, 'Tv');
  close(r.Dividends, [1, 0, 0], 1e-12, 'D');
  close(r.Emission, [41, 10.25, 30.75], 1e-9, 'E');
  assert.equal(r.OwnerEmission, 18);
  assert.deepEqual(r.Bonds[0], [[1, 1], [2, 1]]);
  assert.equal('Trust' in r, false); // subtensor dropped Trust
});

test('2 validators agreeing: dividends follow stake, incentive follows the shared weights', () => {
  const r = yumaEpoch(base({ stake: [30, 70, 0, 0], weights: [[[2, 1], [3, 1]], [[2, 5], [3, 5]]] }));
  close(r.Incentive, [0, 0, 0.5, 0.5], 1e-12, 'I');
  close(r.Dividends, [0.3, 0.7, 0, 0], 1e-8, 'D'); // stake fractions are I32F32-truncated (2^-32)
  close(r.Emission, [12.3, 28.7, 20.5, 20.5], 1e-7, 'E');
});

test('2 validators disagreeing: the 60% majority sets consensus, the minority vote is clipped to 0', () => {
  const r = yumaEpoch(base({ stake: [60, 40, 0, 0], weights: [[[2, 1]], [[3, 1]]] }));
  close(r.Consensus, [0, 0, 1, 0], 1e-12, 'C');
  close(r.Incentive, [0, 0, 1, 0], 1e-12, 'I');
  close(r.ValidatorTrust, [1, 0, 0, 0], 1e-12, 'Tv');
  close(r.Dividends, [1, 0, 0, 0], 1e-12, 'D');
});

test('a validator voting alone for an outlier is clipped and earns nothing', () => {
  // Three equal validators: two put everything on miner 3, one puts everything on miner 4.
  const r = yumaEpoch(base({ stake: [1, 1, 1, 0, 0], weights: [[[3, 1]], [[3, 1]], [[4, 1]]] }));
  close(r.Consensus, [0, 0, 0, 1, 0], 1e-12, 'C');
  close(r.Incentive, [0, 0, 0, 1, 0], 1e-12, 'I');
  close(r.ValidatorTrust, [1, 1, 0, 0, 0], 1e-12, 'Tv');
  close(r.Dividends, [0.5, 0.5, 0, 0, 0], 1e-12, 'D');
  assert.equal(r.Emission[4], 0);
});

test('zero weights: no incentive, emission follows active validator stake', () => {
  const r = yumaEpoch(base({ stake: [3, 1, 0], weights: [] }));
  close(r.Incentive, [0, 0, 0], 0, 'I');
  close(r.Dividends, [0, 0, 0], 0, 'D');
  close(r.Emission, [61.5, 20.5, 0], 1e-9, 'E');
});

test('no permits: weights are ignored, emission follows stake, the next permits are the top-k stake', () => {
  const r = yumaEpoch({ stake: [3, 1, 0], validatorPermit: [false, false, false], weights: [[[2, 1]]], emission: 100, maxAllowedValidators: 1 });
  close(r.Incentive, [0, 0, 0], 0, 'I');
  close(r.Emission, [61.5, 20.5, 0], 1e-9, 'E');
  assert.deepEqual(r.ValidatorPermit, [true, false, false]);
});

test('self-weights are masked; dense and sparse rows agree', () => {
  const sparse = yumaEpoch(base({ stake: [1, 1, 0], weights: [[[0, 9], [2, 1]], [[2, 1]]] }));
  const dense = yumaEpoch(base({ stake: [1, 1, 0], weights: [[9, 0, 1], [0, 0, 1]] as MatrixRow[] }));
  close(sparse.Incentive, [0, 0, 1], 1e-12, 'I');
  assert.deepEqual(sparse, dense);
});

test('weighted median matches subtensor tests/math.rs test_math_weighted_median{,_col}', () => {
  const m = (stake: number[], score: number[], majority: number): number =>
    weightedMedian(stake, score, stake.reduce((a, b) => a + b, 0) - majority);
  assert.equal(m([], [], 0.51), 0);
  assert.equal(m([1], [1], 0.51), 1);
  assert.equal(m([0.49, 0.51], [0.5, 1], 0.51), 1);
  assert.equal(m([0.51, 0.49], [0.5, 1], 0.51), 0.5);
  assert.equal(m([0.49, 0.01, 0.5], [0.5, 0.7, 1], 0.51), 0.7);
  assert.equal(m([0.49, 0.51, 0], [0.5, 0.7, 1], 0.51), 0.7);
  assert.equal(m([0.2, 0.2, 0.2, 0.2, 0.2], [0.8, 0.2, 1, 0.6, 0.4], 0.51), 0.6);
  assert.equal(m(Array(10).fill(0.1), [0.8, 0.8, 0.2, 0.2, 1, 1, 0.6, 0.6, 0.4, 0.4], 0.51), 0.6);
  const w = [0, 0.1, 0, 0, 0.2, 0.4, 0, 0.3, 0.1, 0, 0.4, 0.5]; // 4 rows × 3 cols
  close(weightedMedianCol([0, 0.75, 0.25, 0], w, 3, 0.24), [0, 0.3, 0.4], 0, 'col .24');
  close(weightedMedianCol([0, 0.75, 0.25, 0], w, 3, 0.26), [0, 0.2, 0.4], 0, 'col .26');
  close(weightedMedianCol([0, 0.75, 0.25, 0], w, 3, 0.76), [0, 0.2, 0.1], 0, 'col .76');
  const w2 = [0, 0.1, 0, 0, 0.2, 0.4, 0, 0.3, 0.1, 0, 0, 0.5];
  close(weightedMedianCol([0, 0.3, 0.2, 0.5], w2, 3, 0.51), [0, 0, 0.4], 0, 'col .51');
  close(weightedMedianCol([0, 0], [0, 0, 0, 0], 2, 0.5), [0, 0], 0, 'zero stake');
  assert.deepEqual(isTopkNonzero([0, 2, 1, 2], 2), [false, true, false, true]);
});

// subtensor tests/epoch.rs `test_bonds` (no liquid alpha): 4 validators with stake 1,2,3,4 and 4
// servers; the validators drop out one by one (self-weight only), then val3 backs server 7 alone.
// Each epoch starts from the Bonds subtensor stored (u16, from the test's trace) so the float64
// result can be compared epoch by epoch; D and E come from the trace, Bonds from its asserts.
const FULL: Array<[number, number]> = [[4, 16383], [5, 32767], [6, 49149], [7, 65535]];
const self = (u: number): Array<[number, number]> => [[u, 65535]];
const bondRows = (c456: number[], c7: number[]): Array<Array<[number, number]>> =>
  c456.map((b, i) => [[4, b / 65535], [5, b / 65535], [6, b / 65535], [7, c7[i] / 65535]]); // stored u16 as proportions
const EPOCHS: Array<{ w: Array<Array<[number, number]>>; b?: number[][]; d: number[]; e: number[]; out: [number, number[]] }> = [
  { w: [FULL, FULL, FULL, FULL], d: [0.0999999978, 0.1999999983, 0.3000000012, 0.4000000022],
    e: [49999998, 99999999, 150000000, 200000001, 49998779, 100000610, 149996337, 200004272], out: [4, [16383, 32767, 49151, 65535]] },
  { w: [self(0), FULL, FULL, FULL], b: [[16383, 32767, 49151, 65535], [16383, 32767, 49151, 65535]], d: [0.0899967032, 0.2022211233, 0.303334432, 0.404447741],
    e: [44998351, 101110561, 151667215, 202223870, 49998779, 100000610, 149996337, 200004272], out: [4, [14582, 32767, 49151, 65535]] },
  { w: [self(0), self(1), FULL, FULL], b: [[14582, 32767, 49151, 65535], [14582, 32767, 49151, 65535]], d: [0.0809936118, 0.1819995677, 0.3158592721, 0.421147548],
    e: [40496805, 90999783, 157929636, 210573773, 49998779, 100000610, 149996337, 200004272], out: [4, [12603, 28321, 49151, 65535]] },
  { w: [self(0), self(1), self(2), FULL], b: [[12603, 28321, 49151, 65535], [12603, 28321, 49151, 65535]], d: [0, 0, 0, 0],
    e: [99999999, 199999999, 299999999, 399999999, 0, 0, 0, 0], out: [7, [12602, 28320, 49150, 65535]] },
  { w: [self(0), self(1), [[7, 65535]], FULL], b: [[12602, 28320, 49150, 65535], [12602, 28320, 49150, 65535]], d: [0.0728874663, 0.1637972582, 0.3271309866, 0.4361842885],
    e: [36443733, 81898628, 163565493, 218092144, 0, 0, 0, 500000000], out: [7, [10951, 24609, 49150, 65535]] },
  { w: [self(0), self(1), [[7, 65535]], FULL], b: [[12601, 28319, 49149, 65535], [10951, 24609, 49150, 65535]], d: [0.0655988548, 0.1474132247, 0.3372762585, 0.4497116616],
    e: [32799427, 73706612, 168638129, 224855830, 0, 0, 0, 500000000], out: [7, [9559, 21482, 49150, 65535]] },
  { w: [self(0), self(1), [[7, 65535]], FULL], b: [[12600, 28318, 49148, 65535], [9559, 21482, 49150, 65535]], d: [0.0590361361, 0.1326722752, 0.3464062694, 0.4618853189],
    e: [29518068, 66336137, 173203134, 230942659, 0, 0, 0, 500000000], out: [7, [8376, 18824, 49150, 65535]] },
];

test('subtensor test_bonds: dividends, emission and stored bonds epoch by epoch', () => {
  EPOCHS.forEach((ep, k) => {
    const r = yumaEpoch({
      stake: [1, 2, 3, 4, 0, 0, 0, 0], validatorPermit: Array(8).fill(true), maxAllowedValidators: 8,
      weights: ep.w, bonds: ep.b ? bondRows(ep.b[0], ep.b[1]) : undefined,
      kappa: 32767 / 65535, bondsMovingAverage: 0.9, bondsPenalty: 1, emission: 1e9, ownerCut: 0,
    });
    close(r.Dividends.slice(0, 4), ep.d, 1e-8, `epoch ${k + 1} D`);
    close(r.Emission, ep.e, 10, `epoch ${k + 1} E (rao)`);
    const [col, u16] = ep.out;
    const stored = r.Bonds.slice(0, 4).map((row) => toU16Proportion(row.find(([j]) => j === col)?.[1] ?? 0));
    close(stored, u16, 1, `epoch ${k + 1} Bonds[·][${col}] (u16)`);
    if (k === 4) {
      close([r.Consensus[7], r.Incentive[7]], [0.400008545, 1], 1e-8, 'epoch 5 C/I');
      close(r.ValidatorTrust.slice(0, 4), [0, 0, 0.400008545, 0.400008545], 1e-8, 'epoch 5 Tv');
    }
  });
});

test('subtensor test_512_graph: 64 equal validators, 448 servers, 3 epochs', () => {
  const n = 512, v = 64;
  const stake = Array.from({ length: n }, (_, i) => (i < v ? 328_125_000_000_000 : 0));
  const row: Array<[number, number]> = Array.from({ length: n - v }, (_, k) => [v + k, Math.floor(65535 / n)]);
  const weights = Array.from({ length: n }, (_, i) => (i < v ? row : [[i, 65535] as [number, number]]));
  const common = { stake, weights, maxAllowedValidators: v, emission: 1e9, ownerCut: 0, kappa: 32767 / 65535 };
  let r = yumaEpoch({ ...common, validatorPermit: Array(n).fill(false) }); // sets the permits
  for (let e = 0; e < 3; e++) r = yumaEpoch({ ...common, validatorPermit: r.ValidatorPermit, bonds: r.Bonds });
  for (const uid of [0, 63]) {
    assert.equal(toU16Proportion(r.Dividends[uid]), 1023);
    assert.equal(Math.floor(r.Emission[uid]), 7812500);
    assert.equal(toU16Proportion(r.Incentive[uid]), 0);
    assert.equal(toU16Proportion(r.Bonds[uid].find(([j]) => j === v)![1]), 65535);
  }
  for (const uid of [64, 511]) {
    for (const x of [r.Rank, r.Consensus, r.Incentive]) assert.equal(toU16Proportion(x[uid]), 146);
    assert.equal(Math.floor(r.Emission[uid]), 1116071);
    assert.deepEqual(r.Bonds[uid], []);
  }
});

test('inactive validators lose their stake weight; bad input names the field', () => {
  const r = yumaEpoch({ ...base({ stake: [1, 1, 0, 0], weights: [[[2, 1]], [[3, 1]]] }), currentBlock: 10000, lastUpdate: [9999, 1, 0, 0], activityCutoff: 5000 });
  close(r.Incentive, [0, 0, 1, 0], 1e-12, 'I');
  assert.throws(() => yumaEpoch(base({ stake: [1, 0], weights: [[[5, 1]]] })), /weights\[0\] names uid 5/);
  assert.throws(() => yumaEpoch(base({ stake: [1, 0], weights: [], kappa: 2 })), /kappa must be in \[0, 1\]/);
});

// The devnet's Yuma against subtensor's epoch (opentensor/subtensor 14bc6f9, pallets/subtensor/src/epoch/
// run_epoch.rs and math.rs): one test per rule the two used to differ on. Expected numbers come from
// subtensor's tests (tests/epoch.rs, named per test) or, where a test there does not pin the case, from
// the arithmetic subtensor's code performs (named per test: the function and the comparison used).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { activityCutoffBlocks, DEFAULT_KAPPA, yumaEpoch, type YumaInput, type YumaOutput } from './yuma.js';
import { FIXED_ONE, toU16Proportion, weightedMedian } from './yuma-math.js';
import { applyCall, DEFAULT_PARAMS, DEFAULT_REVEAL_PERIOD_EPOCHS, genesis, metagraphOf, permits, produceBlock, type DevnetState } from './devnet/state.js';
import type { UnsignedCall, WriteMethod } from './devnet/call.js';
import { ChainError } from './types.js';
import { DevnetChainClient, startDevnetChainServer } from './index.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const close = (got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void => {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= tol, `${what}[${i}]: got ${got[i]}, want ${want[i]} (±${tol})`);
};
const permitted = (stake: number[]): boolean[] => stake.map((s) => s > 0);

test('default kappa is 32767/65535 (lib.rs DefaultKappa = InitialKappa 32_767): a 50% vote supports the higher score', () => {
  assert.equal(DEFAULT_KAPPA, 32767 / 65535);
  assert.equal(DEFAULT_PARAMS.kappa, 32767 / 65535);
  // Two validators of equal stake (0.5 each in I32F32: exactly 2^31) score miner 2 with 0.2 and 0.8.
  // get_float_kappa: 32767 / 65535 in I32F32 = 2147450879 / 2^32, so minority = 1 − kappa > 0.5 and the
  // 0.2 group (0.5) does not exceed it: weighted_median returns 0.8. Kappa 0.5 exactly (u16 32768 after
  // rounding, 2147516416 / 2^32) puts minority under 0.5: the median drops to 0.2.
  const input: YumaInput = { stake: [1, 1, 0, 0], validatorPermit: [true, true, false, false], weights: [[[2, 1], [3, 4]], [[2, 4], [3, 1]]] };
  assert.deepEqual(yumaEpoch(input).Consensus, [0, 0, 0.8, 0.8].map((x) => Math.floor(x * FIXED_ONE) / FIXED_ONE));
  assert.deepEqual(yumaEpoch({ ...input, kappa: 0.5 }).Consensus.slice(2), [0.2, 0.2].map((x) => Math.floor(x * FIXED_ONE) / FIXED_ONE));
  // the default and an explicit 32767/65535 are the same epoch
  assert.deepEqual(yumaEpoch(input), yumaEpoch({ ...input, kappa: 32767 / 65535 }));
});

test('bonds are stored as u16 proportions: test_bonds chained on its own stored bonds matches subtensor epoch by epoch', () => {
  // tests/epoch.rs test_bonds (BondsPenalty u16::MAX, moving average 900_000, 4 validators of stake 1..4, 4
  // servers). Here each epoch reads the Bonds the previous one stored (not the trace's): the stored values
  // must be exact u16 / 65535 and reproduce, exactly, the test's asserted u16 bonds (bonds[i][4] after
  // epoch 1 = 16383, 32767, 49151, 65535; then its trace) and its dividends to 1e-8.
  const FULL: Array<[number, number]> = [[4, 16383], [5, 32767], [6, 49149], [7, 65535]];
  const self = (u: number): Array<[number, number]> => [[u, 65535]];
  const schedule: Array<Array<Array<[number, number]>>> = [
    [FULL, FULL, FULL, FULL], [self(0), FULL, FULL, FULL], [self(0), self(1), FULL, FULL], [self(0), self(1), self(2), FULL],
    [self(0), self(1), [[7, 65535]], FULL], [self(0), self(1), [[7, 65535]], FULL], [self(0), self(1), [[7, 65535]], FULL],
  ];
  const want: Array<[number, number[], number[]]> = [ // column, stored u16 bonds of validators 0..3, dividends 0..3
    [4, [16383, 32767, 49151, 65535], [0.0999999978, 0.1999999983, 0.3000000012, 0.4000000022]],
    [4, [14582, 32767, 49151, 65535], [0.0899967032, 0.2022211233, 0.303334432, 0.404447741]],
    [4, [12603, 28321, 49151, 65535], [0.0809936118, 0.1819995677, 0.3158592721, 0.421147548]],
    [7, [12602, 28320, 49150, 65535], [0, 0, 0, 0]],
    [7, [10951, 24609, 49150, 65535], [0.0728874663, 0.1637972582, 0.3271309866, 0.4361842885]],
    [7, [9559, 21482, 49150, 65535], [0.0655988548, 0.1474132247, 0.3372762585, 0.4497116616]],
    [7, [8376, 18824, 49150, 65535], [0.0590361361, 0.1326722752, 0.3464062694, 0.4618853189]],
  ];
  let bonds: YumaOutput['Bonds'] | undefined;
  schedule.forEach((weights, k) => {
    const r = yumaEpoch({
      stake: [1, 2, 3, 4, 0, 0, 0, 0], validatorPermit: Array(8).fill(true), maxAllowedValidators: 8, weights, bonds,
      bondsMovingAverage: 0.9, bondsPenalty: 1, emission: 1e9, ownerCut: 0,
    });
    for (const row of r.Bonds) for (const [, v] of row) assert.equal(Math.round(v * 65535) / 65535, v, `epoch ${k + 1}: bond ${v} is not a u16 proportion`);
    const [col, u16, d] = want[k];
    const stored = r.Bonds.slice(0, 4).map((row) => Math.round((row.find(([j]) => j === col)?.[1] ?? 0) * 65535));
    assert.deepEqual(stored, u16, `epoch ${k + 1} Bonds[·][${col}] (u16)`);
    close(r.Dividends.slice(0, 4), d, 1e-8, `epoch ${k + 1} D`);
    // the trace's next input: bonds on servers 4..6 decay by one u16 an epoch from epoch 5 on (I32F32 truncation)
    if (k >= 3) assert.deepEqual(r.Bonds.slice(0, 3).map((row) => Math.round(row[0][1] * 65535)), [12602 - (k - 3), 28320 - (k - 3), 49150 - (k - 3)], `epoch ${k + 1} Bonds[·][4]`);
    bonds = r.Bonds;
  });
});

test('stake fractions below 2^-32 are zero (I64F64 → I32F32 truncation): no permit, no active stake', () => {
  // run_epoch.rs: stake is normalized in I64F64 and converted to I32F32 (fixed64_to_fixed32 drops the low
  // 32 fraction bits); is_topk_nonzero then skips zeros. 1 / (2^33 + 1) < 2^-32 truncates to 0.
  const r = yumaEpoch({ stake: [2 ** 33, 1, 0], validatorPermit: [true, true, false], weights: [[[2, 1]], [[2, 1]]] });
  assert.deepEqual(r.StakeWeight, [Math.floor((2 ** 33 / (2 ** 33 + 1)) * FIXED_ONE) / FIXED_ONE, 0, 0]);
  assert.deepEqual(r.ValidatorPermit, [true, false, false]);
  assert.equal(r.ActiveStake[1], 0);
  assert.equal(r.Dividends[1], 0);
  // 1 / 2^32 exactly is the smallest fraction that counts
  assert.deepEqual(yumaEpoch({ stake: [2 ** 32 - 1, 1, 0], validatorPermit: [false, false, false], weights: [] }).ValidatorPermit, [true, true, false]);
});

test('an exact tie at the kappa boundary breaks as subtensor breaks it (to the higher score)', () => {
  // Stake 0.4 / 0.4 / 0.2, kappa 26214/65535 = 0.4. Miner 3 gets 0.5, 0.75, 0.5 from the row-normalized
  // weights. In I32F32 the 0.5 group holds 1717986918 + 858993459 = 2576980377, exactly the minority
  // (Σ 4294967295 − kappa 1717986918); math.rs weighted_median goes below the pivot only when
  // `minority < lo + lo_stake` (strict), so 0.75 — backed by exactly kappa of the stake — is the consensus.
  // The float64 sum 0.4 + 0.2 = 0.6000000000000001 > 0.6 used to give 0.5.
  const r = yumaEpoch({
    stake: [4, 4, 2, 0, 0], validatorPermit: [true, true, true, false, false], kappa: 26214 / 65535,
    weights: [[[3, 1], [4, 1]], [[3, 3], [4, 1]], [[3, 1], [4, 1]]],
  });
  assert.equal(r.Consensus[3], 0.75);
  // the same rule on raw I32F32 integers: a group equal to the minority is passed over
  assert.equal(weightedMedian([1717986918, 1717986918, 858993459], [2147483648, 3221225472, 2147483648], 2576980377), 3221225472);
  assert.equal(weightedMedian([1717986918, 1717986918, 858993459], [2147483648, 3221225472, 2147483648], 2576980376), 2147483648);
});

test('subnet owner: exempt from the stake threshold, always permitted, keeps its self-weight (test_can_set_self_weight_as_subnet_owner)', () => {
  // tests/epoch.rs test_can_set_self_weight_as_subnet_owner: the owner (uid 0, 5000 TAO, the only permit)
  // weighs itself and uid 1 at u16::MAX / 2 each; both get incentive, and equal incentive.
  const input: YumaInput = {
    stake: [5e12, 0], validatorPermit: [true, false], weights: [[[0, 32767], [1, 32767]]], emission: 1e9, ownerCut: 0, ownerUid: 0,
  };
  const r = yumaEpoch(input);
  assert.ok(r.ServerEmission[0] > 0 && r.ServerEmission[1] > 0);
  assert.equal(r.ServerEmission[0], r.ServerEmission[1]);
  close(r.Incentive, [0.5, 0.5], 1e-9, 'I');
  // without an owner the self-weight is masked (mask_diag_sparse): all incentive to uid 1
  close(yumaEpoch({ ...input, ownerUid: undefined }).Incentive, [0, 1], 1e-9, 'I (no owner)');
  // run_epoch.rs: the owner's stake is never filtered by StakeThreshold and its permit is forced, old and new
  const t = yumaEpoch({ stake: [10, 100, 0], validatorPermit: [false, true, false], weights: [[[2, 1]]], stakeThreshold: 50, ownerUid: 0, maxAllowedValidators: 1 });
  assert.deepEqual(t.ValidatorPermit, [true, true, false]);
  close(t.StakeWeight, [10 / 110, 100 / 110, 0], 1e-9, 'S (owner below threshold)');
  assert.ok(t.ActiveStake[0] > 0, 'the owner\'s stake counts for consensus (its permit is forced)');
  const noOwner = yumaEpoch({ stake: [10, 100, 0], validatorPermit: [false, true, false], weights: [[[2, 1]]], stakeThreshold: 50, maxAllowedValidators: 1 });
  assert.deepEqual(noOwner.ValidatorPermit, [false, true, false]);
  assert.equal(noOwner.StakeWeight[0], 0);
  assert.equal(noOwner.ActiveStake[0], 0);
});

test('activity cutoff = ActivityCutoffFactorMilli (13 889) × tempo / 1000 blocks, at least 1 (misc.rs get_activity_cutoff_blocks)', () => {
  // lib.rs: "13_889 * 360 / 1000 = 5_000" at subtensor's default tempo 360
  assert.equal(activityCutoffBlocks(360), 5000);
  assert.equal(activityCutoffBlocks(10), 138);
  assert.equal(activityCutoffBlocks(1, 500), 1);
  assert.equal(DEFAULT_PARAMS.activityCutoff, 138);
  // inactive when last_update + cutoff < current_block (strict): at tempo 10 the cutoff is 138 blocks
  const at = (lastUpdate0: number): number[] => yumaEpoch({
    stake: [1, 1, 0, 0], validatorPermit: [true, true, false, false], weights: [[[2, 1]], [[3, 1]]],
    currentBlock: 1000, tempo: 10, lastUpdate: [lastUpdate0, 1000, 0, 0],
  }).Incentive;
  close(at(1000 - 138), [0, 0, 0.5, 0.5], 1e-9, 'I (uid 0 at the cutoff: active)');
  close(at(1000 - 139), [0, 0, 0, 1], 1e-9, 'I (uid 0 past the cutoff: inactive)');
});

test('bond mask: bonds to uids registered since LastMechansimStepBlock + 1 are dropped (currentBlock − tempo before the first step)', () => {
  // run_epoch.rs: last_tempo = LastMechansimStepBlock + 1 (or current_block − tempo while it is 0);
  // scalar_vec_mask_sparse_matrix drops b_ij when last_tempo <= block_at_registration[j].
  // Two validators of equal stake back miner 2; their old bonds on it are 1 and 0.5. The previous step was
  // block 85: a uid registered at 85 keeps its bonds, one registered at 86 loses them.
  const keep = yumaEpoch({ stake: [1, 1, 0], validatorPermit: [true, true, false], weights: [[[2, 1]], [[2, 1]]], bonds: [[[2, 1]], [[2, 0.5]]],
    currentBlock: 100, tempo: 10, blockAtRegistration: [0, 0, 85], lastUpdate: [99, 99, 0], lastMechanismStepBlock: 85 }).Bonds;
  const drop = yumaEpoch({ stake: [1, 1, 0], validatorPermit: [true, true, false], weights: [[[2, 1]], [[2, 1]]], bonds: [[[2, 1]], [[2, 0.5]]],
    currentBlock: 100, tempo: 10, blockAtRegistration: [0, 0, 86], lastUpdate: [99, 99, 0], lastMechanismStepBlock: 85 }).Bonds;
  // kept: EMA 0.9·(2/3, 1/3) + 0.1·(1/2, 1/2) = (0.65, 0.35), upscaled (1, 0.538…); dropped: ΔB (1/2, 1/2) → (1, 1)
  assert.deepEqual(keep.slice(0, 2).map((row) => Math.round(row[0][1] * 65535)), [65535, toU16Proportion(0.35 / 0.65)]);
  assert.deepEqual(drop.slice(0, 2).map((row) => Math.round(row[0][1] * 65535)), [65535, 65535]);
  // with no step yet (0), the mask starts at current_block − tempo = 90: registered at 90 is masked, 89 kept
  const first = (reg: number): YumaOutput['Bonds'] => yumaEpoch({ stake: [1, 1, 0], validatorPermit: [true, true, false], weights: [[[2, 1]], [[2, 1]]],
    bonds: [[[2, 1]], [[2, 0.5]]], currentBlock: 100, tempo: 10, blockAtRegistration: [0, 0, reg], lastUpdate: [99, 99, 0], lastMechanismStepBlock: 0 }).Bonds;
  assert.deepEqual(first(89), keep);
  assert.deepEqual(first(90), drop);
});

test('Trust is no longer output (subtensor dropped it); Rank equals Incentive', () => {
  const r = yumaEpoch({ stake: [1, 0, 0], validatorPermit: [true, false, false], weights: [[[1, 1], [2, 3]]] });
  assert.equal('Trust' in r, false);
  assert.deepEqual(r.Rank, r.Incentive);
});

// tests/epoch.rs setup_yuma_3_scenario: 3 validators + 2 servers, MaxAllowedValidators 3, BondsPenalty 0,
// BondsMovingAverage 975_000, kappa u16::MAX / 2, AlphaSigmoidSteepness 1000, liquid alpha (0.1, 0.3), Yuma3 on;
// a first epoch without weights hands out the permits. run_epoch_and_check_bonds_dividends compares the
// dividends within 1e-3 (its bond comparison skips 3 entries of 2- or 3-long rows, so it compares none; the
// bonds below are checked against the targets written there, column 3 and 4, within the same 1e-3).
function yuma3Scenario(stake: number[], liquid: boolean, schedule: (epoch: number) => number[][], targets: { bonds: number[][][]; dividends: number[][] }): void {
  const common = {
    stake, maxAllowedValidators: 3, bondsPenalty: 0, bondsMovingAverage: 0.975, kappa: 32767 / 65535, yuma3: true,
    liquidAlpha: liquid ? { alphaLow: 0.1, alphaHigh: 0.3, steepness: 1000 } : false, emission: 1e9, ownerCut: 0,
  };
  let r = yumaEpoch({ ...common, validatorPermit: Array(5).fill(false), weights: [] });
  targets.dividends.forEach((dividends, epoch) => {
    const w = schedule(epoch);
    const weights = w.map((row) => [[3, row[0]], [4, row[1]]] as Array<[number, number]>);
    r = yumaEpoch({ ...common, validatorPermit: r.ValidatorPermit, weights, bonds: r.Bonds });
    close(r.Dividends.map((d) => toU16Proportion(d) / 65535), dividends, 1e-3, `epoch ${epoch} D`);
    targets.bonds[epoch].forEach((want, i) => {
      const got = [3, 4].map((j) => r.Bonds[i].find(([k]) => k === j)?.[1] ?? 0);
      close(got, want.slice(-2), 1e-3, `epoch ${epoch} B[${i}]`);
    });
  });
}

test('Yuma3 with liquid alpha: test_yuma_3_kappa_moves_first', () => {
  const M = 65535;
  yuma3Scenario([8, 1, 1, 0, 0], true, (e) => (e === 0 ? [[M, 0], [M, 0], [M, 0]] : e === 1 ? [[0, M], [M, 0], [M, 0]] : e === 2 ? [[0, M], [0, M], [M, 0]] : [[0, M], [0, M], [0, M]]), {
    bonds: [
      [[0.1013, 0], [0.1013, 0], [0.1013, 0]], [[0.0908, 0.1013], [0.3697, 0], [0.3697, 0]], [[0.0815, 0.1924], [0.317, 0.1013], [0.558, 0]],
      [[0.0731, 0.2742], [0.2765, 0.1924], [0.4306, 0.1013]], [[0.0656, 0.3478], [0.2435, 0.2742], [0.3589, 0.1924]], [[0.0588, 0.4139], [0.2157, 0.3478], [0.3089, 0.2742]],
    ],
    dividends: [
      [0.8, 0.1, 0.1, 0, 0], [1, 0, 0, 0, 0], [0.9382, 0.0618, 0, 0, 0], [0.8819, 0.0773, 0.0407, 0, 0], [0.8564, 0.0844, 0.0592, 0, 0], [0.8418, 0.0884, 0.0697, 0, 0],
    ],
  });
});

test('Yuma3 without liquid alpha: test_yuma_3_liquid_alpha_disabled', () => {
  const M = 65535;
  yuma3Scenario([33, 33, 34, 0, 0], false, (e) => (e === 2 ? [[M, 0], [M, 0], [0, M]] : [[M, 0], [M, 0], [M, 0]]), {
    bonds: [
      [[0.025, 0], [0.025, 0], [0.025, 0]], [[0.0494, 0], [0.0494, 0], [0.0494, 0]], [[0.0731, 0], [0.0731, 0], [0.0481, 0.025]],
      [[0.0963, 0], [0.0963, 0], [0.0719, 0.0244]], [[0.1189, 0], [0.1189, 0], [0.0951, 0.0238]], [[0.1409, 0], [0.1409, 0], [0.1178, 0.0232]],
    ],
    dividends: [
      [0.33, 0.33, 0.34, 0, 0], [0.33, 0.33, 0.34, 0, 0], [0.3734, 0.3734, 0.2532, 0, 0], [0.3611, 0.3611, 0.2779, 0, 0], [0.3541, 0.3541, 0.2919, 0, 0], [0.3495, 0.3495, 0.3009, 0, 0],
    ],
  });
});

test('Yuma3 and liquid alpha are off by default (lib.rs DefaultYuma3 / DefaultLiquidAlpha = false); liquid alpha alone changes nothing', () => {
  const input: YumaInput = { stake: [3, 1, 0, 0], validatorPermit: [true, true, false, false], weights: [[[2, 1], [3, 1]], [[2, 1]]], bonds: [[[2, 1]], [[3, 1]]] };
  const classic = yumaEpoch(input);
  assert.deepEqual(yumaEpoch({ ...input, yuma3: false, liquidAlpha: false }), classic);
  // run_epoch.rs calls compute_bonds (the liquid alpha path) from the Yuma3 branch only
  assert.deepEqual(yumaEpoch({ ...input, liquidAlpha: true }), classic);
  assert.notDeepEqual(yumaEpoch({ ...input, yuma3: true }).Bonds, classic.Bonds);
});

test('commit-reveal column mask: weights to a uid registered after the validator\'s commit are dropped (test_epoch_does_not_mask_outside_window_but_masks_inside)', () => {
  // tests/epoch.rs: the validator's live commit (block 41) predates the registrations of uids 2 and 3 (42):
  // their incentive is 0; uid 1, registered before it, keeps incentive > 0 (run_epoch.rs: mask if commit_block < registered).
  const input: YumaInput = {
    stake: [10_000, 1_000, 1_000, 1_000], validatorPermit: [true, false, false, false], weights: [[[1, 21845], [2, 21845], [3, 21845]]],
    currentBlock: 44, lastUpdate: [43, 10, 42, 42], blockAtRegistration: [0, 10, 42, 42],
  };
  const r = yumaEpoch({ ...input, commitBlocks: [41, undefined, undefined, undefined] });
  assert.ok(r.Incentive[1] > 0);
  assert.equal(r.Incentive[2], 0);
  assert.equal(r.Incentive[3], 0);
  // no live commit (or commit-reveal off: commitBlocks not given): nothing is masked (test_epoch_no_mask_when_commit_reveal_disabled)
  close(yumaEpoch(input).Incentive.slice(1), [1 / 3, 1 / 3, 1 / 3], 1e-9, 'I (no mask)');
  close(yumaEpoch({ ...input, commitBlocks: [undefined, undefined, undefined, undefined] }).Incentive.slice(1), [1 / 3, 1 / 3, 1 / 3], 1e-9, 'I (no commit)');
});

// The devnet chain applies the same rules.
test('devnet: a hotkey holding under 2^-32 of the stake gets no permit (setWeights answers no_permit)', () => {
  let s = genesis('0xchain', { ...DEFAULT_PARAMS, maxAllowedValidators: 8 }, 0);
  let nonce = 0;
  const call = (hotkey: string, method: WriteMethod, params: Record<string, unknown> = {}): UnsignedCall => ({ method, hotkey, nonce: ++nonce, params: { hotkey, ...params } });
  for (const h of ['big', 'tiny', 'miner']) s = applyCall(s, call(h, 'register')).state;
  s = applyCall(s, call('big', 'addStake', { amount: 1e12 })).state;
  s = applyCall(s, call('tiny', 'addStake', { amount: 1e-4 })).state; // 1e-16 of the total
  assert.deepEqual(permits(s), [true, false, false]);
  assert.throws(() => applyCall(s, call('tiny', 'setWeights', { uids: [2], weights: [1] })), (e: unknown) => e instanceof ChainError && e.code === 'no_permit');
  s = applyCall(s, call('tiny', 'addStake', { amount: 1e3 })).state; // 1e-9 of the total: above 2^-32
  assert.deepEqual(permits(s), [true, true, false]);
});

test('devnet: a new chain\'s activity cutoff follows its tempo unless given', async () => {
  for (const [opts, want] of [[{ tempo: 360 }, 5000], [{ tempo: 4 }, 55], [{ tempo: 4, activityCutoff: 9 }, 9]] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-yuma-'));
    const server = await startDevnetChainServer({ dir, blockMs: 1000, ...opts });
    try {
      const m = await new DevnetChainClient({ url: server.url }).metagraph();
      assert.equal(m.activityCutoff, want, JSON.stringify(opts));
      assert.equal(m.kappa, 32767 / 65535);
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('devnet commit-reveal (on by default, 1 epoch, as subtensor): weights land at the epoch RevealPeriodEpochs after their own, LastUpdate = that block', async () => {
  let nonce = 0;
  const call = (hotkey: string, method: WriteMethod, params: Record<string, unknown> = {}): UnsignedCall => ({ method, hotkey, nonce: ++nonce, params: { hotkey, ...params } });
  const start = (cr: boolean): DevnetState => {
    let s = genesis('0xchain', { ...DEFAULT_PARAMS, tempo: 5, maxAllowedValidators: 1 }, 0);
    if (cr) s = { ...s, commitReveal: { revealPeriodEpochs: 1 } };
    for (const h of ['val', 'm1', 'm2']) s = applyCall(s, call(h, 'register')).state;
    s = applyCall(s, call('val', 'addStake', { amount: 10 })).state;
    s = produceBlock(s, 1); // block 1 registered them; weights go in block 2 (epoch 0)
    return applyCall(s, call('val', 'setWeights', { uids: [1, 2], weights: [1, 3] })).state;
  };
  const to = (s: DevnetState, h: number): DevnetState => { while (s.height < h) s = produceBlock(s, s.height + 1); return s; };
  // off (a bare state, or a chain created with --commit-reveal 0): in Weights at once, paid at the first epoch (block 5)
  const off = to(start(false), 5);
  assert.equal(genesis('0xchain', DEFAULT_PARAMS, 0).commitReveal, undefined);
  assert.deepEqual(metagraphOf(off).Weights[0], [[1, 1], [2, 3]]);
  close(metagraphOf(off).Incentive, [0, 0.25, 0.75], 1e-9, 'I (off)');
  // on, 1 epoch: held at block 2 (epoch 0), revealed by the epoch at block 5 (epoch 1), which pays at once
  let on = start(true);
  assert.deepEqual(metagraphOf(on).Weights[0], []);
  assert.equal(on.neurons[0].pendingWeights?.length, 1);
  on = to(on, 4);
  assert.deepEqual(metagraphOf(on).Weights[0], []);
  on = to(on, 5);
  assert.deepEqual(metagraphOf(on).Weights[0], [[1, 1], [2, 3]]);
  assert.equal(metagraphOf(on).lastUpdate[0], 5);
  assert.equal(on.neurons[0].pendingWeights, undefined);
  close(metagraphOf(on).Incentive, [0, 0.25, 0.75], 1e-9, 'I (on)');
  // a commit in the epoch-1 block range (block 6) waits for the epoch at block 10; the revealed row stays meanwhile
  on = applyCall(on, call('val', 'setWeights', { uids: [1], weights: [1] })).state;
  on = to(on, 9);
  assert.deepEqual(metagraphOf(on).Weights[0], [[1, 1], [2, 3]]);
  on = to(on, 10);
  assert.deepEqual(metagraphOf(on).Weights[0], [[1, 1]]);
  close(metagraphOf(on).Incentive, [0, 1, 0], 1e-9, 'I (second reveal)');
  // a new chain has it on with 1 epoch unless told otherwise (subtensor's CommitRevealWeightsEnabled, RevealPeriodEpochs 1);
  // the server refuses another value on resume
  const dir = mkdtempSync(join(tmpdir(), 'tessera-yuma-')), dirOff = mkdtempSync(join(tmpdir(), 'tessera-yuma-'));
  try {
    const server = await startDevnetChainServer({ dir, blockMs: 1000 });
    assert.equal(DEFAULT_REVEAL_PERIOD_EPOCHS, 1);
    assert.equal((await new DevnetChainClient({ url: server.url }).metagraph()).revealPeriodEpochs, 1);
    await server.close();
    await assert.rejects(startDevnetChainServer({ dir, blockMs: 1000, commitRevealEpochs: 0 }), /created with commit-reveal over 1 epochs, not 0/);
    const again = await startDevnetChainServer({ dir, blockMs: 1000, commitRevealEpochs: 1 });
    await again.close();
    const off = await startDevnetChainServer({ dir: dirOff, blockMs: 1000, commitRevealEpochs: 0 });
    assert.equal((await new DevnetChainClient({ url: off.url }).metagraph()).revealPeriodEpochs, 0);
    await off.close();
    await assert.rejects(startDevnetChainServer({ dir: dirOff, blockMs: 1000, commitRevealEpochs: 1 }), /created with commit-reveal off, not 1/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(dirOff, { recursive: true, force: true });
  }
});

test('devnet options: the owner hotkey gets the exemption (test_can_set_self_weight_as_subnet_owner on the chain); Yuma3 and liquid alpha are off unless chosen', async () => {
  let nonce = 0;
  const call = (hotkey: string, method: WriteMethod, params: Record<string, unknown> = {}): UnsignedCall => ({ method, hotkey, nonce: ++nonce, params: { hotkey, ...params } });
  const run = (yuma: DevnetState['yuma']): DevnetState => {
    let s: DevnetState = { ...genesis('0xchain', { ...DEFAULT_PARAMS, tempo: 5, maxAllowedValidators: 1 }, 0), ...(yuma ? { yuma } : {}) };
    for (const h of ['owner', 'other', 'idle']) s = applyCall(s, call(h, 'register')).state;
    s = applyCall(s, call('owner', 'addStake', { amount: 5000 })).state;
    s = produceBlock(s, 1);
    s = applyCall(s, call('owner', 'setWeights', { uids: [0, 1], weights: [32767, 32767] })).state;
    while (s.height < 5) s = produceBlock(s, s.height + 1);
    return s;
  };
  close(metagraphOf(run({ ownerHotkey: 'owner' })).Incentive, [0.5, 0.5, 0], 1e-9, 'I (owner keeps its self-weight)');
  close(metagraphOf(run(undefined)).Incentive, [0, 1, 0], 1e-9, 'I (no owner)');
  // an owner without stake still holds a permit and may set weights
  let s: DevnetState = { ...genesis('0xchain', { ...DEFAULT_PARAMS, maxAllowedValidators: 1 }, 0), yuma: { ownerHotkey: 'owner' } };
  for (const h of ['val', 'owner', 'm']) s = applyCall(s, call(h, 'register')).state;
  s = applyCall(s, call('val', 'addStake', { amount: 10 })).state;
  assert.deepEqual(permits(s), [true, true, false]);
  s = produceBlock(s, 1);
  applyCall(s, call('owner', 'setWeights', { uids: [2], weights: [1] }));
  // a full subnet of two: the usual order would replace uid 0, the owner's; it is immune (lib.rs DefaultImmuneOwnerUidsLimit 1), so uid 1 goes
  let full: DevnetState = { ...genesis('0xchain', { ...DEFAULT_PARAMS, maxAllowedUids: 2 }, 0), yuma: { ownerHotkey: 'owner' } };
  for (const h of ['owner', 'other']) full = applyCall(full, call(h, 'register')).state;
  full = produceBlock(full, 1);
  assert.equal(applyCall(full, call('newcomer', 'register')).result, 1);
  assert.equal(applyCall({ ...full, yuma: undefined }, call('newcomer', 'register')).result, 0);
  // the server stores the options with a new chain and refuses other values on resume
  const dir = mkdtempSync(join(tmpdir(), 'tessera-yuma-'));
  try {
    const owner = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY';
    const server = await startDevnetChainServer({ dir, blockMs: 1000, ownerHotkey: owner, yuma3: true });
    await server.close();
    await assert.rejects(startDevnetChainServer({ dir, blockMs: 1000, yuma3: false }), /created with yuma3 = true, not false/);
    await (await startDevnetChainServer({ dir, blockMs: 1000, ownerHotkey: owner })).close();
    const fresh = mkdtempSync(join(tmpdir(), 'tessera-yuma-'));
    await (await startDevnetChainServer({ dir: fresh, blockMs: 1000 })).close();
    assert.equal(JSON.parse(readFileSync(join(fresh, 'chain-state.json'), 'utf8')).yuma, undefined, 'all off by default');
    rmSync(fresh, { recursive: true, force: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

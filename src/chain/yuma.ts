// Yuma consensus as one pure function, re-derived from subtensor's `epoch_mechanism` in
// pallets/subtensor/src/epoch/run_epoch.rs (commit 14bc6f9): classic Yuma by default, Yuma3 and liquid
// alpha as options. What decides permits and consensus (normalized stake, active stake, row-normalized
// weights, kappa, the weighted median) is computed in subtensor's I32F32 fixed point exactly; the rest
// is float64 and agrees with subtensor to ~1e-9. Bonds come out quantized to u16 as subtensor stores them.
// docs/chain.md "The devnet's Yuma epoch" lists each rule and where it comes from.
import { TesseraError } from '../util/errors.js';
import { colNormalizeFixed, divFixed, FIXED_ONE, fixedFraction, isTopkNonzero, mulFixed, normalize, normalizeFixed, u16Quantize, weightedMedianCol } from './yuma-math.js';

/** One row of Weights or Bonds: dense (length n) or sparse [[uid, value], ...] like subtensor's Vec<(u16, u16)>. */
export type MatrixRow = ReadonlyArray<number> | ReadonlyArray<readonly [number, number]>;
export type SparseRow = Array<[number, number]>;

/** subtensor's default Kappa: 32767 / 65535 (u16, lib.rs InitialKappa in the runtime and mock). */
export const DEFAULT_KAPPA = 32767 / 65535;
/** subtensor's default ActivityCutoffFactorMilli (lib.rs INITIAL_ACTIVITY_CUTOFF_FACTOR_MILLI): 13 889 ‰ of a tempo. */
export const DEFAULT_ACTIVITY_CUTOFF_FACTOR_MILLI = 13_889;
/** subtensor's default AlphaValues (0.7, 0.9) as u16 (lib.rs DefaultAlphaValues) and AlphaSigmoidSteepness (1000). */
export const DEFAULT_ALPHA_LOW = 45875 / 65535;
export const DEFAULT_ALPHA_HIGH = 58982 / 65535;
export const DEFAULT_ALPHA_SIGMOID_STEEPNESS = 1000;

/** The activity cutoff in blocks as subtensor derives it (misc.rs get_activity_cutoff_blocks): ⌊factor‰ × tempo⌋, at least 1. */
export function activityCutoffBlocks(tempo: number, factorMilli = DEFAULT_ACTIVITY_CUTOFF_FACTOR_MILLI): number {
  return Math.max(1, Math.floor((factorMilli * tempo) / 1000));
}

/** Liquid alpha (Yuma3 only, as in subtensor): a per-bond EMA rate between alphaLow and alphaHigh. */
export interface LiquidAlpha {
  /** AlphaValues as fractions; default 0.7 / 0.9 (subtensor's (45875, 58982) / 65535). */
  alphaLow?: number;
  alphaHigh?: number;
  /** AlphaSigmoidSteepness (i16; the sigmoid uses steepness / 100). Default 1000. */
  steepness?: number;
}

export interface YumaInput {
  /** Stake per uid, any unit (subtensor: total stake per hotkey). Its length is n. */
  stake: readonly number[];
  /** ValidatorPermit as it stood before this epoch (only permitted rows count). */
  validatorPermit: readonly boolean[];
  /** Weights rows per uid, any positive scale (each row is normalized); missing/empty = none set. */
  weights: readonly (MatrixRow | undefined)[];
  /**
   * Previous Bonds rows as stored (see YumaOutput.Bonds). Classic Yuma: any per-column scale (columns are
   * normalized). Yuma3: proportions in [0, 1], read back as u16 / 65535 like subtensor. Default none.
   */
  bonds?: readonly (MatrixRow | undefined)[];
  /** Kappa, the consensus majority, as a fraction; quantized to u16 / 65535 like subtensor's. Default 32767/65535. */
  kappa?: number;
  /** BondsMovingAverage as a fraction (subtensor 900_000 / 1_000_000 = 0.9). Default 0.9. */
  bondsMovingAverage?: number;
  /** BondsPenalty in [0, 1]: 1 builds bonds from clipped weights (subtensor default u16::MAX). */
  bondsPenalty?: number;
  /** Total emission of this epoch (subtensor rao_emission). Default 1. */
  emission?: number;
  /** Fraction of the emission kept by the subnet owner before the miner/validator split. Default 0.18. */
  ownerCut?: number;
  /** MaxAllowedValidators: top-k stake gets the next ValidatorPermit. Default 64. */
  maxAllowedValidators?: number;
  /** Stake below this (in input units) counts as zero (subtensor StakeThreshold); the owner is exempt. Default 0. */
  stakeThreshold?: number;
  /**
   * The subnet owner's uid (subtensor SubnetOwnerHotkey's uid), if registered: exempt from stakeThreshold,
   * always holds a permit (before and after the epoch) and keeps its self-weight. Default none.
   */
  ownerUid?: number;
  /** Optional masks, applied only when their inputs are given (see run_epoch.rs): */
  currentBlock?: number;
  lastUpdate?: readonly number[];       // inactive if lastUpdate + activityCutoff < currentBlock
  /** ActivityCutoff in blocks; default activityCutoffBlocks(tempo) when tempo is given, else 5000. */
  activityCutoff?: number;
  blockAtRegistration?: readonly number[]; // weights set at/before j's registration are outdated
  /**
   * Bonds to uids registered since the last epoch are dropped: since LastMechansimStepBlock + 1, or since
   * currentBlock − tempo while LastMechansimStepBlock is 0 (no epoch yet).
   */
  tempo?: number;
  lastMechanismStepBlock?: number;
  /**
   * Commit-reveal column mask (only when given): the block of uid i's earliest unexpired weight commit
   * (undefined = none); w_ij is dropped when that block is before j's registration.
   */
  commitBlocks?: readonly (number | undefined)[];
  /** Yuma3 bonds (subtensor Yuma3On; default off). */
  yuma3?: boolean;
  /** Liquid alpha (subtensor LiquidAlphaOn; default off). Used by Yuma3 only, as in subtensor. */
  liquidAlpha?: boolean | LiquidAlpha;
}

export interface YumaOutput {
  n: number;
  /** Normalized stake S (I32F32-truncated, as subtensor's StakeWeight) and the active validator stake used for consensus. */
  StakeWeight: number[];
  ActiveStake: number[];
  Active: boolean[];
  /** Equal to Incentive (subtensor stopped storing Rank separately; kept for readers of the metagraph). */
  Rank: number[];
  Consensus: number[];
  Incentive: number[];
  Dividends: number[];
  ValidatorTrust: number[];
  /** Per uid emission this epoch (server part + validator part), owner cut excluded. */
  Emission: number[];
  ServerEmission: number[];
  ValidatorEmission: number[];
  OwnerEmission: number;
  /**
   * New Bonds as subtensor stores them: u16 proportions (value = u16 / 65535), zero entries dropped; rows only
   * for uids with the new permit. Classic Yuma stores them column max-upscaled; Yuma3 stores the EMA itself.
   */
  Bonds: SparseRow[];
  /** New ValidatorPermit: top-k non-zero stake. */
  ValidatorPermit: boolean[];
}

function fraction(name: string, v: number | undefined, dflt: number): number {
  const x = v ?? dflt;
  if (!(x >= 0 && x <= 1)) throw new TesseraError(`yuma: ${name} must be in [0, 1], got ${x}`, `pass ${name} as a fraction, e.g. ${dflt}`);
  return x;
}

/** Fill a dense row-major n×n matrix from per-uid rows, checking uids and values. */
export function denseMatrix(rows: readonly (MatrixRow | undefined)[] | undefined, n: number, what: string): Float64Array {
  const m = new Float64Array(n * n);
  if (!rows) return m;
  if (rows.length > n) throw new TesseraError(`yuma: ${what} has ${rows.length} rows but there are ${n} uids`, `pass one row per uid (index = uid)`);
  rows.forEach((row, i) => {
    if (!row || row.length === 0) return;
    const put = (j: number, v: number): void => {
      if (!Number.isInteger(j) || j < 0 || j >= n) throw new TesseraError(`yuma: ${what}[${i}] names uid ${j}, outside 0..${n - 1}`, 'drop entries for uids that do not exist');
      if (!(v >= 0) || !Number.isFinite(v)) throw new TesseraError(`yuma: ${what}[${i}][${j}] = ${v} is not a finite non-negative number`, 'weights and bonds are non-negative');
      m[i * n + j] = v;
    };
    if (typeof row[0] === 'number') {
      if (row.length !== n) throw new TesseraError(`yuma: dense ${what}[${i}] has length ${row.length}, expected ${n}`, 'use a sparse [[uid, value], ...] row instead');
      (row as ReadonlyArray<number>).forEach((v, j) => put(j, v));
    } else for (const [j, v] of row as ReadonlyArray<readonly [number, number]>) put(j, v);
  });
  return m;
}

function colNormalize(m: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += m[i * n + j];
    if (s !== 0) for (let i = 0; i < n; i++) m[i * n + j] /= s;
  }
}

/** An already-normalized [0, 1] value as an I32F32 raw integer (truncated). */
const toFixed = (x: number): number => Math.floor(x * FIXED_ONE);

/** Liquid alpha's per-bond rate (run_epoch.rs alpha_sigmoid). */
function alphaSigmoid(consensus: number, weight: number, bond: number, low: number, high: number, steepness: number): number {
  const clamp = (x: number, a: number, b: number): number => Math.min(b, Math.max(a, x));
  const diff = weight >= bond ? clamp(weight - consensus, 0, 1) : clamp(bond - weight, 0, 1);
  const sigmoid = 1 / (1 + Math.exp((-steepness / 100) * (diff - 0.5)));
  return clamp(low + sigmoid * (high - low), low, high);
}

export function yumaEpoch(input: YumaInput): YumaOutput {
  const n = input.stake.length;
  if (input.validatorPermit.length !== n) throw new TesseraError(`yuma: validatorPermit has ${input.validatorPermit.length} entries, stake has ${n}`, 'pass one entry per uid');
  input.stake.forEach((s, i) => { if (!(s >= 0) || !Number.isFinite(s)) throw new TesseraError(`yuma: stake[${i}] = ${s} is not a finite non-negative number`, 'stake must be >= 0'); });
  // Kappa is a u16 on subtensor; get_float_kappa divides it by 65535 in I32F32.
  const kappaU16 = Math.round(fraction('kappa', input.kappa, DEFAULT_KAPPA) * 65535);
  const kappaFixed = Number((BigInt(kappaU16) << 32n) / 65535n);
  const alpha = 1 - fraction('bondsMovingAverage', input.bondsMovingAverage, 0.9); // EMA weight of the new ΔB (Yuma3)
  const penalty = fraction('bondsPenalty', input.bondsPenalty, 1);
  const ownerCut = fraction('ownerCut', input.ownerCut, 0.18);
  const emission = input.emission ?? 1;
  const threshold = input.stakeThreshold ?? 0;
  const owner = input.ownerUid !== undefined && Number.isInteger(input.ownerUid) && input.ownerUid >= 0 && input.ownerUid < n ? input.ownerUid : -1;
  if (input.ownerUid !== undefined && owner < 0) throw new TesseraError(`yuma: ownerUid ${input.ownerUid} is not a uid (n = ${n})`, 'pass the owner hotkey\'s uid, or leave ownerUid out');
  const liquid: Required<LiquidAlpha> | null = input.liquidAlpha ? {
    alphaLow: fraction('alphaLow', (input.liquidAlpha as LiquidAlpha).alphaLow, DEFAULT_ALPHA_LOW),
    alphaHigh: fraction('alphaHigh', (input.liquidAlpha as LiquidAlpha).alphaHigh, DEFAULT_ALPHA_HIGH),
    steepness: (input.liquidAlpha as LiquidAlpha).steepness ?? DEFAULT_ALPHA_SIGMOID_STEEPNESS,
  } : null;

  // == Stake, permits, active stake (I32F32 as subtensor: a fraction below 2^-32 is zero) ==
  let total = 0;
  const filtered = input.stake.map((s, i) => (i !== owner && s < threshold ? 0 : s));
  for (const s of filtered) total += s;
  const stakeFixed = filtered.map((s) => fixedFraction(s, total));
  const S = stakeFixed.map((x) => x / FIXED_ONE);
  const permit = input.validatorPermit.map((p, i) => p || i === owner);
  const newPermit = isTopkNonzero(S, input.maxAllowedValidators ?? 64);
  if (owner >= 0) newPermit[owner] = true;
  const { currentBlock, lastUpdate, blockAtRegistration } = input;
  const cutoff = input.activityCutoff ?? (input.tempo !== undefined ? activityCutoffBlocks(input.tempo) : 5000);
  const active = Array.from({ length: n }, (_, i) =>
    currentBlock === undefined || !lastUpdate ? true : !(lastUpdate[i] + cutoff < currentBlock));
  const activeFixed = normalizeFixed(stakeFixed.map((x, i) => (active[i] && permit[i] ? x : 0)));
  const activeStake = Float64Array.from(activeFixed, (x) => x / FIXED_ONE);

  // == Weights: permitted rows, no self-weight (but the owner's), no outdated entries, rows sum to 1 (I32F32) ==
  const W = denseMatrix(input.weights, n, 'weights');
  const commit = input.commitBlocks;
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let j = 0; j < n; j++) {
      const k = i * n + j;
      const outdated = lastUpdate && blockAtRegistration ? lastUpdate[i] <= blockAtRegistration[j] : false;
      const c = commit?.[i];
      const sniped = c !== undefined && blockAtRegistration ? c < blockAtRegistration[j] : false;
      if (!permit[i] || (i === j && i !== owner) || outdated || sniped) W[k] = 0;
      sum += W[k];
    }
    if (sum !== 0) for (let j = 0; j < n; j++) if (W[i * n + j] !== 0) W[i * n + j] = fixedFraction(W[i * n + j], sum) / FIXED_ONE;
  }

  // == Consensus (stake-weighted median with kappa, exact in I32F32), clipping, validator trust ==
  const Wfixed = new Float64Array(n * n); // W holds multiples of 2^-32: exact
  for (let k = 0; k < n * n; k++) if (W[k] !== 0) Wfixed[k] = toFixed(W[k]);
  const consensusFixed = weightedMedianCol(activeFixed, Wfixed, n, kappaFixed, true);
  const consensus = consensusFixed.map((x) => x / FIXED_ONE);
  // Clipped weights, validator trust (row sums) and ranks (Σ_i c_ij · s_i) in I32F32: clipping takes the
  // smaller of two multiples of 2^-32, so everything here is exact integers of 2^-32.
  const clippedFixed = new Float64Array(n * n);
  const validatorTrust = new Float64Array(n);
  const ranksFixed = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    const k = i * n + j;
    const v = Math.min(Wfixed[k], consensusFixed[j]);
    if (v === 0) continue;
    clippedFixed[k] = v;
    validatorTrust[i] += v / FIXED_ONE;
    ranksFixed[j] += mulFixed(v, activeFixed[i]);
  }
  const clipped = new Float64Array(n * n);
  for (let k = 0; k < n * n; k++) if (clippedFixed[k] !== 0) clipped[k] = clippedFixed[k] / FIXED_ONE;

  // == Ranks = incentive (subtensor no longer computes Trust) ==
  const incentiveFixed = normalizeFixed(ranksFixed);
  const incentive = Float64Array.from(incentiveFixed, (x) => x / FIXED_ONE);

  // == Bonds: the stored u16 proportions, minus those to uids registered since the last epoch ==
  const B = denseMatrix(input.bonds, n, 'bonds');
  for (let k = 0; k < n * n; k++) {
    if (B[k] > 1) throw new TesseraError(`yuma: bonds[${Math.floor(k / n)}][${k % n}] = ${B[k]} is above 1`, 'pass Bonds as stored: u16 proportions in [0, 1] (YumaOutput.Bonds)');
    B[k] = Math.round(B[k] * 65535); // the u16 subtensor stores
  }
  if (currentBlock !== undefined && blockAtRegistration) {
    const lms = input.lastMechanismStepBlock ?? 0;
    const lastTempo = lms > 0 ? lms + 1 : input.tempo !== undefined ? Math.max(0, currentBlock - input.tempo) : undefined;
    if (lastTempo !== undefined) for (let j = 0; j < n; j++) if (lastTempo <= blockAtRegistration[j]) for (let i = 0; i < n; i++) B[i * n + j] = 0;
  }
  const ema = new Float64Array(n * n); // as stored: a [0, 1] proportion per bond
  const divRaw = new Float64Array(n);
  let dividends: Float64Array;
  if (input.yuma3) {
    // Yuma3 (float64): EMA of the weights themselves towards the bonds (read as u16 / 65535; no stake, no
    // normalization), a per-bond rate with liquid alpha; dividends weigh each validator's bonds by its stake.
    const useLiquid = liquid !== null && consensus.some((c) => c !== 0);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      const k = i * n + j;
      const b = B[k] / 65535, wb = W[k] + penalty * (clipped[k] - W[k]);
      if (useLiquid) {
        const a = alphaSigmoid(consensus[j], wb, b, liquid.alphaLow, liquid.alphaHigh, liquid.steepness);
        ema[k] = Math.min(1, (1 - a) * b + Math.max(0, a * wb));
      } else ema[k] = alpha * wb + (1 - alpha) * b;
    }
    const norm = Float64Array.from(ema);
    colNormalize(norm, n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) divRaw[i] += norm[i * n + j] * incentive[j];
      divRaw[i] *= activeStake[i];
    }
    dividends = normalize(divRaw);
  } else {
    // Classic Yuma in I32F32, step for step as subtensor: B column-normalized; ΔB = (W interpolated to the
    // clipped weights by bondsPenalty) ∘ S, column-normalized; EMA; column-normalized; d_i = Σ_j b_ij · I_j.
    // u16_to_fixed reads each bond as the I32F32 of its u16; normalizing those equals normalizing the
    // u16 integers themselves (the 2^32 factors cancel), which keeps the sums small.
    const Bf = Float64Array.from(B);
    colNormalizeFixed(Bf, n);
    const penaltyFixed = divFixed(Math.round(penalty * 65535) * FIXED_ONE, 65535 * FIXED_ONE);
    const delta = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      if (activeFixed[i] === 0) continue;
      for (let j = 0; j < n; j++) {
        const k = i * n + j;
        const wb = Wfixed[k] + mulFixed(penaltyFixed, clippedFixed[k] - Wfixed[k]);
        delta[k] = mulFixed(wb, activeFixed[i]);
      }
    }
    colNormalizeFixed(delta, n);
    // alpha = 1 − BondsMovingAverage / 10^6, the moving average truncated to I32F32
    const keep = Math.floor(fraction('bondsMovingAverage', input.bondsMovingAverage, 0.9) * FIXED_ONE);
    const alphaFixed = FIXED_ONE - keep;
    const e = new Float64Array(n * n);
    for (let k = 0; k < n * n; k++) e[k] = mulFixed(alphaFixed, delta[k]) + mulFixed(keep, Bf[k]);
    colNormalizeFixed(e, n);
    const divFixedRaw = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) divFixedRaw[i] += mulFixed(e[i * n + j], incentiveFixed[j]);
    dividends = Float64Array.from(normalizeFixed(divFixedRaw), (x) => x / FIXED_ONE);
    // stored column max-upscaled (inplace_col_max_upscale_sparse), then u16 (fixed_proportion_to_u16)
    const colMax = new Float64Array(n);
    for (let k = 0; k < n * n; k++) colMax[k % n] = Math.max(colMax[k % n], e[k]);
    for (let k = 0; k < n * n; k++) {
      if (e[k] === 0) continue;
      const up = divFixed(e[k], colMax[k % n]);
      ema[k] = Math.floor((up * 65535) / FIXED_ONE) / 65535;
    }
  }

  // == Emission: owner cut, then incentive and dividends normalized on their joint sum (½ / ½) ==
  const toSplit = emission * (1 - ownerCut);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += incentive[i] + dividends[i];
  let server = new Float64Array(n), validator = new Float64Array(n);
  if (sum > 0) {
    server = incentive.map((x) => (x / sum) * toSplit);
    validator = dividends.map((x) => (x / sum) * toSplit);
  } else {
    // No weights / all clipped: emission follows active stake, or stake if none is active.
    const share = activeStake.some((x) => x > 0) ? activeStake : Float64Array.from(S);
    validator = share.map((x) => x * toSplit);
  }
  const ownerEmission = emission * ownerCut;

  // == Bonds for storage: u16 proportions; cleared for uids without the new permit ==
  const bondsOut: SparseRow[] = [];
  for (let i = 0; i < n; i++) {
    const row: SparseRow = [];
    if (newPermit[i]) for (let j = 0; j < n; j++) { const v = input.yuma3 ? u16Quantize(ema[i * n + j]) : ema[i * n + j]; if (v > 0) row.push([j, v]); }
    bondsOut.push(row);
  }

  const arr = (x: ArrayLike<number>): number[] => Array.from(x);
  return {
    n,
    StakeWeight: S,
    ActiveStake: arr(activeStake),
    Active: active,
    Rank: arr(incentive), // subtensor stores the normalized ranks: Rank == Incentive
    Consensus: arr(consensus),
    Incentive: arr(incentive),
    Dividends: arr(dividends),
    ValidatorTrust: arr(validatorTrust),
    Emission: Array.from({ length: n }, (_, i) => server[i] + validator[i]),
    ServerEmission: arr(server),
    ValidatorEmission: arr(validator),
    OwnerEmission: ownerEmission,
    Bonds: bondsOut,
    ValidatorPermit: newPermit,
  };
}

// Yuma consensus as one pure function, re-derived from subtensor's `epoch` in
// pallets/subtensor/src/epoch/run_epoch.rs (original Yuma: liquid alpha / Yuma3 off). float64
// here, I32F32 fixed point there: results agree to ~1e-9 except exact ties at the kappa boundary.
import { TesseraError } from '../util/errors.js';
import { isTopkNonzero, normalize, vecdiv, weightedMedianCol } from './yuma-math.js';

/** One row of Weights or Bonds: dense (length n) or sparse [[uid, value], ...] like subtensor's Vec<(u16, u16)>. */
export type MatrixRow = ReadonlyArray<number> | ReadonlyArray<readonly [number, number]>;
export type SparseRow = Array<[number, number]>;

export interface YumaInput {
  /** Stake per uid, any unit (subtensor: total stake per hotkey). Its length is n. */
  stake: readonly number[];
  /** ValidatorPermit as it stood before this epoch (only permitted rows count). */
  validatorPermit: readonly boolean[];
  /** Weights rows per uid, any positive scale (each row is normalized); missing/empty = none set. */
  weights: readonly (MatrixRow | undefined)[];
  /** Previous Bonds rows (any per-column scale: columns are normalized); default none. */
  bonds?: readonly (MatrixRow | undefined)[];
  /** Kappa, the consensus majority (subtensor Kappa 32767/65535 ≈ 0.5). Default 0.5. */
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
  /** Stake below this (in input units) counts as zero (subtensor StakeThreshold). Default 0. */
  stakeThreshold?: number;
  /** Optional masks, applied only when their inputs are given (see run_epoch.rs): */
  currentBlock?: number;
  lastUpdate?: readonly number[];       // inactive if lastUpdate + activityCutoff < currentBlock
  activityCutoff?: number;              // default 5000
  blockAtRegistration?: readonly number[]; // weights set at/before j's registration are outdated
  tempo?: number;                       // bonds on uids registered within the last tempo are dropped
}

export interface YumaOutput {
  n: number;
  /** Normalized stake S and the active validator stake used for consensus. */
  StakeWeight: number[];
  ActiveStake: number[];
  Active: boolean[];
  Rank: number[];
  Trust: number[];
  Consensus: number[];
  Incentive: number[];
  Dividends: number[];
  ValidatorTrust: number[];
  /** Per uid emission this epoch (server part + validator part), owner cut excluded. */
  Emission: number[];
  ServerEmission: number[];
  ValidatorEmission: number[];
  OwnerEmission: number;
  /** New Bonds, column max-upscaled to [0, 1] as subtensor stores them (u16 / 65535); rows only for permitted uids. */
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

/** ranks_j = Σ_i m_ij · s_i (subtensor `matmul` / `matmul_sparse`). */
function colDot(m: Float64Array, s: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) if (s[i] !== 0) for (let j = 0; j < n; j++) out[j] += m[i * n + j] * s[i];
  return out;
}

export function yumaEpoch(input: YumaInput): YumaOutput {
  const n = input.stake.length;
  if (input.validatorPermit.length !== n) throw new TesseraError(`yuma: validatorPermit has ${input.validatorPermit.length} entries, stake has ${n}`, 'pass one entry per uid');
  input.stake.forEach((s, i) => { if (!(s >= 0) || !Number.isFinite(s)) throw new TesseraError(`yuma: stake[${i}] = ${s} is not a finite non-negative number`, 'stake must be >= 0'); });
  const kappa = fraction('kappa', input.kappa, 0.5);
  const alpha = 1 - fraction('bondsMovingAverage', input.bondsMovingAverage, 0.9); // EMA weight of the new ΔB
  const penalty = fraction('bondsPenalty', input.bondsPenalty, 1);
  const ownerCut = fraction('ownerCut', input.ownerCut, 0.18);
  const emission = input.emission ?? 1;
  const threshold = input.stakeThreshold ?? 0;

  // == Stake, permits, active stake ==
  const S = normalize(input.stake.map((s) => (s < threshold ? 0 : s)));
  const newPermit = isTopkNonzero(S, input.maxAllowedValidators ?? 64);
  const { currentBlock, lastUpdate, blockAtRegistration } = input;
  const cutoff = input.activityCutoff ?? 5000;
  const active = Array.from({ length: n }, (_, i) =>
    currentBlock === undefined || !lastUpdate ? true : !(lastUpdate[i] + cutoff < currentBlock));
  const activeStake = normalize(Array.from(S, (s, i) => (active[i] && input.validatorPermit[i] ? s : 0)));

  // == Weights: permitted rows, no self-weight, no outdated entries, rows sum to 1 ==
  const W = denseMatrix(input.weights, n, 'weights');
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let j = 0; j < n; j++) {
      const k = i * n + j;
      const outdated = lastUpdate && blockAtRegistration ? lastUpdate[i] <= blockAtRegistration[j] : false;
      if (!input.validatorPermit[i] || i === j || outdated) W[k] = 0;
      sum += W[k];
    }
    if (sum !== 0) for (let j = 0; j < n; j++) W[i * n + j] /= sum;
  }

  // == Consensus (stake-weighted median with kappa), clipping, validator trust ==
  const preranks = colDot(W, activeStake, n);
  const consensus = weightedMedianCol(activeStake, W, n, kappa);
  const clipped = new Float64Array(n * n);
  const validatorTrust = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    const v = Math.min(W[i * n + j], consensus[j]);
    clipped[i * n + j] = v;
    validatorTrust[i] += v;
  }

  // == Ranks, trust, incentive ==
  const ranksRaw = colDot(clipped, activeStake, n);
  const trust = vecdiv(ranksRaw, preranks);
  const incentive = normalize(ranksRaw);

  // == Bonds: ΔB = (W interpolated to clipped by bondsPenalty) ∘ S, column-normalized; EMA ==
  const B = denseMatrix(input.bonds, n, 'bonds');
  if (currentBlock !== undefined && input.tempo !== undefined && blockAtRegistration) {
    const lastTempo = Math.max(0, currentBlock - input.tempo);
    for (let j = 0; j < n; j++) if (lastTempo <= blockAtRegistration[j]) for (let i = 0; i < n; i++) B[i * n + j] = 0;
  }
  colNormalize(B, n);
  const delta = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    const k = i * n + j;
    delta[k] = (W[k] + penalty * (clipped[k] - W[k])) * activeStake[i];
  }
  colNormalize(delta, n);
  const ema = new Float64Array(n * n);
  for (let k = 0; k < n * n; k++) ema[k] = alpha * delta[k] + (1 - alpha) * B[k];
  colNormalize(ema, n);

  // == Dividends: d_i = Σ_j B_ij · I_j, normalized ==
  const divRaw = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) divRaw[i] += ema[i * n + j] * incentive[j];
  const dividends = normalize(divRaw);

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
    const share = activeStake.some((x) => x > 0) ? activeStake : S;
    validator = share.map((x) => x * toSplit);
  }
  const ownerEmission = emission * ownerCut;

  // == Bonds for storage: column max-upscaled; cleared for uids without the new permit ==
  const bondsOut: SparseRow[] = [];
  const colMax = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) colMax[j] = Math.max(colMax[j], ema[i * n + j]);
  for (let i = 0; i < n; i++) {
    const row: SparseRow = [];
    if (newPermit[i]) for (let j = 0; j < n; j++) { const v = ema[i * n + j]; if (v > 0) row.push([j, v / colMax[j]]); }
    bondsOut.push(row);
  }

  const arr = (x: ArrayLike<number>): number[] => Array.from(x);
  return {
    n,
    StakeWeight: arr(S),
    ActiveStake: arr(activeStake),
    Active: active,
    Rank: arr(incentive), // subtensor stores the normalized ranks: Rank == Incentive
    Trust: arr(trust),
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


// The devnet chain as a pure state machine: genesis, applyCall (a verified write lands in the
// block being built, height + 1) and produceBlock (advance height, run Yuma every `tempo` blocks).
// Inputs are never mutated; the server adds clocks, signatures, persistence and HTTP.
import { ChainError, type Anchor, type ChainParams, type Metagraph, type SparseRow } from '../types.js';
import { yumaEpoch } from '../yuma.js';
import { isTopkNonzero } from '../yuma-math.js';
import { callHash, type UnsignedCall } from './call.js';

export const STATE_FORMAT = 'tessera-devnet-state';
export const STATE_VERSION = 1;
/** Block timestamps kept for blockTimestamp(); older heights answer 'not_found'. */
export const TIMESTAMP_HISTORY = 4096;
export const MAX_COMMITMENT_CHARS = 4096;
/** Anchors kept per uid; anchoring more drops that uid's oldest (by block). */
export const ANCHORS_PER_UID = 64;

export const DEFAULT_PARAMS: ChainParams = {
  tempo: 10, kappa: 0.5, bondsMovingAverage: 0.9, bondsPenalty: 1, maxAllowedValidators: 64,
  maxAllowedUids: 256, weightsRateLimit: 1, activityCutoff: 5000, emissionPerBlock: 1, ownerCut: 0.18,
};

/** Checks chain parameters; the message names the bad one. */
export function checkParams(p: ChainParams): ChainParams {
  const int = (k: keyof ChainParams, min: number): void => {
    if (!Number.isSafeInteger(p[k]) || p[k] < min) throw new ChainError('bad_request', `chain parameter ${k} = ${p[k]} must be an integer >= ${min}`, `set ${k} to e.g. ${DEFAULT_PARAMS[k]}`);
  };
  const frac = (k: keyof ChainParams): void => {
    if (!(p[k] >= 0 && p[k] <= 1)) throw new ChainError('bad_request', `chain parameter ${k} = ${p[k]} must be in [0, 1]`, `set ${k} to e.g. ${DEFAULT_PARAMS[k]}`);
  };
  int('tempo', 1); int('maxAllowedValidators', 1); int('maxAllowedUids', 1); int('weightsRateLimit', 0); int('activityCutoff', 1);
  frac('kappa'); frac('bondsMovingAverage'); frac('bondsPenalty'); frac('ownerCut');
  if (!(p.emissionPerBlock >= 0) || !Number.isFinite(p.emissionPerBlock)) throw new ChainError('bad_request', `chain parameter emissionPerBlock = ${p.emissionPerBlock} must be >= 0`, 'set emissionPerBlock to e.g. 1');
  return p;
}

export interface Neuron {
  hotkey: string;
  stake: number;
  registeredAt: number;
  lastUpdate: number;            // LastUpdate: registration or last setWeights block
  weightsSetAt: number | null;   // for WeightsSetRateLimit
  weights: SparseRow;
  commitment: string | null;     // Commitments.CommitmentOf
  commitmentBlock: number | null;
  totalEmission: number;         // sum of this uid's Emission over epochs (kept apart from stake)
}

export interface EpochResult {
  block: number;
  Rank: number[]; Trust: number[]; Consensus: number[]; Incentive: number[]; Dividends: number[];
  ValidatorTrust: number[]; Emission: number[]; Bonds: SparseRow[]; ValidatorPermit: boolean[];
  OwnerEmission: number;
}

export interface DevnetState {
  format: typeof STATE_FORMAT;
  version: number;
  chainId: string;        // genesis hash: every signature covers it
  params: ChainParams;
  height: number;
  timestamp: number;
  history: { from: number; timestamps: number[] }; // timestamps of heights from .. height
  neurons: Neuron[];      // index = uid
  accounts: Record<string, { nonce: number; lastCall?: { hash: string; result: unknown } }>;
  epoch: EpochResult | null;
  ownerEmission: number;  // cumulative owner cut
  /** Anchors by window, then uid; absent in states written before anchors existed (read as empty). */
  anchors?: AnchorTable;
}

/** window → uid → the anchored digest and the block that included it. */
export type AnchorTable = Record<string, Record<string, { digest: string; block: number }>>;

export function genesis(chainId: string, params: ChainParams, timestamp: number): DevnetState {
  return {
    format: STATE_FORMAT, version: STATE_VERSION, chainId, params: checkParams({ ...params }), height: 0, timestamp,
    history: { from: 0, timestamps: [timestamp] }, neurons: [], accounts: {}, epoch: null, ownerEmission: 0, anchors: {},
  };
}

export const uidOf = (s: DevnetState, hotkey: string): number => s.neurons.findIndex((n) => n.hotkey === hotkey);

/** Live ValidatorPermit: top-K non-zero stake (subtensor recomputes it each epoch; the devnet uses it at once). */
export const permits = (s: DevnetState): boolean[] => isTopkNonzero(s.neurons.map((n) => n.stake), s.params.maxAllowedValidators);

function bad(message: string, hint: string): never {
  throw new ChainError('bad_request', message, hint);
}

function needUid(s: DevnetState, hotkey: string): number {
  const uid = uidOf(s, hotkey);
  if (uid < 0) throw new ChainError('not_registered', `hotkey ${hotkey} is not registered on this devnet`, 'call register(hotkey) first');
  return uid;
}

function checkWeights(s: DevnetState, uids: unknown, weights: unknown): SparseRow {
  if (!Array.isArray(uids) || !Array.isArray(weights)) bad('setWeights needs params.uids and params.weights arrays', 'pass uids: number[], weights: number[]');
  if (uids.length !== weights.length) bad(`setWeights: ${uids.length} uids but ${weights.length} weights`, 'pass one weight per uid');
  const n = s.neurons.length, seen = new Set<number>(), row: SparseRow = [];
  let sum = 0;
  uids.forEach((u, k) => {
    const w = weights[k];
    if (!Number.isInteger(u) || u < 0 || u >= n) bad(`setWeights: uid ${u} does not exist (n = ${n})`, 'read the metagraph for valid uids');
    if (seen.has(u)) bad(`setWeights: uid ${u} appears twice`, 'list each uid once');
    if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) bad(`setWeights: weight for uid ${u} is ${w}`, 'weights are finite and >= 0');
    seen.add(u); sum += w;
    if (w > 0) row.push([u, w]);
  });
  if (!(sum > 0)) bad('setWeights: all weights are zero', 'give at least one uid a positive weight');
  return row.sort((a, b) => a[0] - b[0]);
}

function checkAnchor(window: unknown, digest: unknown): { window: number; digest: string } {
  if (!Number.isSafeInteger(window) || (window as number) < 0) bad(`anchor: window ${String(window)} is not an integer >= 0`, 'pass the window number (params.window)');
  if (typeof digest !== 'string' || !/^[0-9a-f]{64}$/.test(digest)) bad(`anchor: digest ${JSON.stringify(digest)} is not 64 lowercase hex digits`, 'pass the sha256 of the payload as lowercase hex');
  return { window: window as number, digest };
}

/** Keeps `uid`'s newest ANCHORS_PER_UID anchors (by block, then window), never dropping `keep`; mutates `t`. */
function capAnchors(t: AnchorTable, uid: number, keep: number): void {
  const mine = Object.keys(t).filter((w) => t[w][uid] !== undefined && w !== String(keep));
  const excess = mine.length + 1 - ANCHORS_PER_UID;
  if (excess <= 0) return;
  mine.sort((a, b) => t[a][uid].block - t[b][uid].block || Number(a) - Number(b));
  for (const w of mine.slice(0, excess)) {
    delete t[w][uid];
    if (Object.keys(t[w]).length === 0) delete t[w];
  }
}

/** The table without anchors included before block `from` (whose timestamps are gone); the same object if none is. */
export function pruneAnchors(t: AnchorTable, from: number): AnchorTable {
  let out: AnchorTable | null = null;
  for (const [w, row] of Object.entries(t)) {
    if (Object.values(row).every((a) => a.block >= from)) continue;
    out ??= { ...t };
    const kept = Object.fromEntries(Object.entries(row).filter(([, a]) => a.block >= from));
    if (Object.keys(kept).length === 0) delete out[w]; else out[w] = kept;
  }
  return out ?? t;
}

/**
 * Applies one write whose signature the caller has verified. Returns the new state and the call's
 * result; throws ChainError (state untouched, nonce not consumed) when the call is not allowed.
 */
export function applyCall(state: DevnetState, call: UnsignedCall): { state: DevnetState; result: unknown } {
  const p = call.params;
  if (p.hotkey !== call.hotkey) {
    throw new ChainError('wrong_hotkey', `call signed by ${call.hotkey} acts for hotkey ${String(p.hotkey)}`, 'a hotkey can only act for itself: sign with the hotkey named in params.hotkey');
  }
  const account = state.accounts[call.hotkey];
  const hash = callHash(state.chainId, call);
  if (account && call.nonce <= account.nonce) {
    const duplicate = account.lastCall?.hash === hash;
    throw new ChainError('nonce_used', `nonce ${call.nonce} of ${call.hotkey} is already used (last nonce ${account.nonce})`,
      duplicate ? 'this exact call was already applied' : 'sign again with a nonce above the last one',
      { lastNonce: account.nonce, duplicate, result: duplicate ? account.lastCall?.result : undefined });
  }
  const s: DevnetState = structuredClone(state);
  const block = s.height + 1;
  let result: unknown = null;
  switch (call.method) {
    case 'register': {
      const existing = uidOf(s, call.hotkey);
      if (existing >= 0) { result = existing; break; }
      if (s.neurons.length >= s.params.maxAllowedUids) {
        throw new ChainError('full', `all ${s.params.maxAllowedUids} uids are taken`, 'start the devnet with a larger maxAllowedUids');
      }
      s.neurons.push({ hotkey: call.hotkey, stake: 0, registeredAt: block, lastUpdate: block, weightsSetAt: null, weights: [], commitment: null, commitmentBlock: null, totalEmission: 0 });
      result = s.neurons.length - 1;
      break;
    }
    case 'addStake': {
      const uid = needUid(s, call.hotkey);
      if (typeof p.amount !== 'number' || !Number.isFinite(p.amount) || p.amount <= 0) bad(`addStake: amount ${String(p.amount)} is not a positive number`, 'pass amount > 0');
      s.neurons[uid].stake += p.amount;
      result = s.neurons[uid].stake;
      break;
    }
    case 'commit': {
      const uid = needUid(s, call.hotkey);
      if (typeof p.data !== 'string') bad('commit: params.data must be a string', 'pass the commitment as a string (e.g. JSON)');
      if (p.data.length > MAX_COMMITMENT_CHARS) bad(`commit: data has ${p.data.length} chars, limit ${MAX_COMMITMENT_CHARS}`, 'commit a shorter string');
      s.neurons[uid].commitment = p.data;
      s.neurons[uid].commitmentBlock = block;
      break;
    }
    case 'setWeights': {
      const uid = needUid(s, call.hotkey);
      const row = checkWeights(s, p.uids, p.weights);
      if (!permits(s)[uid]) {
        throw new ChainError('no_permit', `uid ${uid} has no validator permit (top ${s.params.maxAllowedValidators} by stake)`, 'add stake (addStake) to enter the top-K, then set weights');
      }
      const last = s.neurons[uid].weightsSetAt;
      if (last !== null && block - last < s.params.weightsRateLimit) {
        throw new ChainError('rate_limited', `uid ${uid} set weights at block ${last}; the limit is one call per ${s.params.weightsRateLimit} blocks`,
          `wait until block ${last + s.params.weightsRateLimit}`, { nextBlock: last + s.params.weightsRateLimit });
      }
      Object.assign(s.neurons[uid], { weights: row, weightsSetAt: block, lastUpdate: block });
      break;
    }
    case 'anchor': {
      const uid = needUid(s, call.hotkey);
      const { window, digest } = checkAnchor(p.window, p.digest);
      const table = (s.anchors ??= {});
      const existing = table[window]?.[uid];
      if (existing && existing.digest !== digest) {
        throw new ChainError('anchored', `uid ${uid} already anchored another digest for window ${window} (in block ${existing.block})`,
          'anchors are immutable: one digest per hotkey and window', { window, block: existing.block, digest: existing.digest });
      }
      if (!existing) {
        (table[window] ??= {})[uid] = { digest, block };
        capAnchors(table, uid, window);
      }
      result = existing?.block ?? block;
      break;
    }
  }
  s.accounts[call.hotkey] = { nonce: call.nonce, lastCall: { hash, result } };
  return { state: s, result };
}

/** Seals block height + 1 at `timestamp` (kept non-decreasing) and runs the Yuma epoch when height % tempo = 0. */
export function produceBlock(state: DevnetState, timestamp: number): DevnetState {
  const height = state.height + 1;
  const ts = Math.max(timestamp, state.timestamp);
  let { from, timestamps } = state.history;
  timestamps = [...timestamps, ts];
  if (timestamps.length > TIMESTAMP_HISTORY) { const drop = timestamps.length - TIMESTAMP_HISTORY; timestamps = timestamps.slice(drop); from += drop; }
  const s: DevnetState = { ...state, height, timestamp: ts, history: { from, timestamps } };
  if (state.anchors && from > state.history.from) s.anchors = pruneAnchors(state.anchors, from);
  return height % s.params.tempo === 0 ? runEpoch(s) : s;
}

// blockAtRegistration is not passed to Yuma: the devnet never recycles uids, so subtensor's
// outdated-weights and recently-registered-bonds masks have nothing to remove.
function runEpoch(state: DevnetState): DevnetState {
  const p = state.params, n = state.neurons.length;
  const r = yumaEpoch({
    stake: state.neurons.map((x) => x.stake), validatorPermit: permits(state), weights: state.neurons.map((x) => x.weights),
    bonds: state.epoch?.Bonds, kappa: p.kappa, bondsMovingAverage: p.bondsMovingAverage, bondsPenalty: p.bondsPenalty,
    emission: p.emissionPerBlock * p.tempo, ownerCut: p.ownerCut, maxAllowedValidators: p.maxAllowedValidators,
    currentBlock: state.height, lastUpdate: state.neurons.map((x) => x.lastUpdate), activityCutoff: p.activityCutoff,
  });
  const neurons = state.neurons.map((x, i) => ({ ...x, totalEmission: x.totalEmission + r.Emission[i] }));
  const epoch: EpochResult = {
    block: state.height, Rank: r.Rank, Trust: r.Trust, Consensus: r.Consensus, Incentive: r.Incentive, Dividends: r.Dividends,
    ValidatorTrust: r.ValidatorTrust, Emission: r.Emission, Bonds: r.Bonds, ValidatorPermit: r.ValidatorPermit, OwnerEmission: r.OwnerEmission,
  };
  return n === 0 ? state : { ...state, neurons, epoch, ownerEmission: state.ownerEmission + r.OwnerEmission };
}

export function blockTimestampOf(s: DevnetState, height: number): number {
  if (!Number.isInteger(height) || height < 0 || height > s.height) {
    throw new ChainError('not_found', `block ${height} does not exist (head is ${s.height})`, 'ask for a height between 0 and the head');
  }
  if (height < s.history.from) {
    throw new ChainError('not_found', `block ${height} is older than the ${TIMESTAMP_HISTORY} blocks of timestamps the devnet keeps`, 'ask for a recent block');
  }
  return s.history.timestamps[height - s.history.from];
}

/** The anchors of a window, ascending uid (pruned windows read as none). */
export function anchorsOf(s: DevnetState, window: number): Anchor[] {
  const row = s.anchors?.[window] ?? {};
  return Object.entries(row).map(([uid, a]) => ({ uid: Number(uid), digest: a.digest, block: a.block })).sort((a, b) => a.uid - b.uid);
}

export function commitmentsOf(s: DevnetState): Record<number, string> {
  const out: Record<number, string> = {};
  s.neurons.forEach((x, uid) => { if (x.commitment !== null) out[uid] = x.commitment; });
  return out;
}

/** The metagraph under subtensor's names; epoch vectors are zero-padded for uids registered since. */
export function metagraphOf(s: DevnetState): Metagraph {
  const n = s.neurons.length, e = s.epoch;
  const vec = (v: number[] | undefined): number[] => Array.from({ length: n }, (_, i) => v?.[i] ?? 0);
  return {
    block: s.height, timestamp: s.timestamp, n, uids: Array.from({ length: n }, (_, i) => i),
    hotkeys: s.neurons.map((x) => x.hotkey), stake: s.neurons.map((x) => x.stake), validatorPermit: permits(s),
    lastUpdate: s.neurons.map((x) => x.lastUpdate), blockAtRegistration: s.neurons.map((x) => x.registeredAt),
    lastEpoch: e?.block ?? 0, Rank: vec(e?.Rank), Trust: vec(e?.Trust), Consensus: vec(e?.Consensus), Incentive: vec(e?.Incentive),
    Dividends: vec(e?.Dividends), ValidatorTrust: vec(e?.ValidatorTrust), Emission: vec(e?.Emission),
    Bonds: Array.from({ length: n }, (_, i) => e?.Bonds[i] ?? []), Weights: s.neurons.map((x) => x.weights),
    tempo: s.params.tempo, kappa: s.params.kappa, bondsMovingAverage: s.params.bondsMovingAverage,
    weightsRateLimit: s.params.weightsRateLimit, maxAllowedValidators: s.params.maxAllowedValidators, activityCutoff: s.params.activityCutoff,
  };
}

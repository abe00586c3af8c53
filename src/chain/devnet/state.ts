// The devnet chain as a pure state machine: genesis, applyCall (a verified write lands in the
// block being built, height + 1) and produceBlock (advance height, run Yuma every `tempo` blocks).
// Inputs are never mutated; the server adds clocks, signatures, persistence and HTTP.
import { createHash } from 'node:crypto';
import { ChainError, type Anchor, type ChainParams, type Metagraph, type SparseRow } from '../types.js';
import { activityCutoffBlocks, DEFAULT_KAPPA, yumaEpoch } from '../yuma.js';
import { fixedFraction, isTopkNonzero } from '../yuma-math.js';
import { callHash, type UnsignedCall } from './call.js';

export const STATE_FORMAT = 'tessera-devnet-state';
export const STATE_VERSION = 1;
/** Block timestamps kept for blockTimestamp(); older heights answer 'not_found'. */
export const TIMESTAMP_HISTORY = 4096;
export const MAX_COMMITMENT_CHARS = 4096;
/** Anchors kept per uid; anchoring more drops that uid's oldest (by block). */
export const ANCHORS_PER_UID = 64;

// Bounds on every number a call can put into the state (docs/security.md): stake, weights and totals stay
// finite and far from float64 overflow, so Yuma's sums and normalizations cannot turn into Infinity or NaN.
/** Most stake one hotkey can hold; addStake grants at most up to it. */
export const MAX_STAKE_PER_HOTKEY = 1e12;
/** Most stake all uids together can hold; addStake grants at most up to it. */
export const MAX_TOTAL_STAKE = 1e15;
/** Largest single weight setWeights accepts (Yuma normalizes each row, so the scale carries no meaning). */
export const MAX_WEIGHT = 1e12;
/** Largest maxAllowedUids a chain can be created with (an epoch keeps several n × n float64 matrices). */
export const MAX_UIDS_LIMIT = 4096;
/** Largest emissionPerBlock a chain can be created with (cumulative emission stays finite). */
export const MAX_EMISSION_PER_BLOCK = 1e9;
/** New registrations one block takes; more answer 'rate_limited' with details.nextBlock. */
export const REGISTRATIONS_PER_BLOCK = 3;
/**
 * Blocks after its registration during which a uid counts as immune: when the subnet is full, a new
 * registration replaces the uid with the lowest emission of the last epoch, a non-immune one before an
 * immune one of equal emission, then the oldest registration, then the lowest uid.
 */
export const IMMUNITY_PERIOD = 4096;
/** Per-hotkey faucet cap of `tessera chain` when none is given (the library default is MAX_STAKE_PER_HOTKEY). */
export const DEFAULT_FAUCET_CAP = 100;

/**
 * The devnet faucet (addStake): a hotkey's stake can be raised to `cap` at most, except for the `exempt`
 * hotkeys (the devnet's own validators, named by the operator), which are bound by MAX_STAKE_PER_HOTKEY
 * only and are never replaced by a registration. Absent: no cap but MAX_STAKE_PER_HOTKEY.
 */
export interface FaucetConfig {
  cap: number;
  exempt: string[];
}

/**
 * Defaults as subtensor's (14bc6f9) where it has one: kappa 32767/65535, bonds EMA 0.9, bonds penalty 1, and
 * the activity cutoff derived from the tempo (activityCutoffBlocks: 13 889 ‰ of a tempo; a new chain with
 * another tempo gets the cutoff of its tempo unless activityCutoff is given).
 */
export const DEFAULT_PARAMS: ChainParams = {
  tempo: 10, kappa: DEFAULT_KAPPA, bondsMovingAverage: 0.9, bondsPenalty: 1, maxAllowedValidators: 64,
  maxAllowedUids: 256, weightsRateLimit: 1, activityCutoff: activityCutoffBlocks(10), emissionPerBlock: 1, ownerCut: 0.18,
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
  if (!(p.emissionPerBlock >= 0 && p.emissionPerBlock <= MAX_EMISSION_PER_BLOCK)) {
    throw new ChainError('bad_request', `chain parameter emissionPerBlock = ${p.emissionPerBlock} must be in [0, ${MAX_EMISSION_PER_BLOCK}]`, 'set emissionPerBlock to e.g. 1');
  }
  if (p.maxAllowedUids > MAX_UIDS_LIMIT) throw new ChainError('bad_request', `chain parameter maxAllowedUids = ${p.maxAllowedUids} must be <= ${MAX_UIDS_LIMIT}`, 'set maxAllowedUids to e.g. 256');
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
  /** Commit-reveal (DevnetState.commitReveal): weights set but not yet revealed, oldest first; absent = none. */
  pendingWeights?: PendingWeights[];
}

/** A setWeights held back by commit-reveal: the row, the block that took it and that block's epoch index. */
export interface PendingWeights {
  weights: SparseRow;
  block: number;
  epoch: number;
}

/** Commits one hotkey may hold at once (subtensor's queue of weight commits per hotkey holds 10). */
export const MAX_PENDING_WEIGHTS = 10;
/** Longest reveal period a devnet takes, in epochs. */
export const MAX_REVEAL_PERIOD_EPOCHS = 100;
/** A new devnet chain's reveal period: commit-reveal on with 1 epoch, as subtensor defaults it (CommitRevealWeightsEnabled, RevealPeriodEpochs 1). */
export const DEFAULT_REVEAL_PERIOD_EPOCHS = 1;

export interface EpochResult {
  block: number;
  Rank: number[]; Consensus: number[]; Incentive: number[]; Dividends: number[];
  /** Legacy: written by devnets before subtensor's Trust was dropped; read by nothing. */
  Trust?: number[];
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
  history: { from: number; timestamps: number[]; hashes?: string[] }; // timestamps of heights from .. height; hashes of the newest hashes.length heights (absent in states written before block hashes)
  neurons: Neuron[];      // index = uid
  accounts: Record<string, { nonce: number; lastCall?: { hash: string; result: unknown } }>;
  epoch: EpochResult | null;
  ownerEmission: number;  // cumulative owner cut
  /** Anchors by window, then uid; absent in states written before anchors existed (read as empty). */
  anchors?: AnchorTable;
  /** Anchors included so far in the block being built (their `index` is the arrival order within it). */
  anchorCursor?: { block: number; count: number };
  /** New registrations in `block` so far (REGISTRATIONS_PER_BLOCK); absent = none yet. */
  registrations?: { block: number; count: number };
  /** Faucet cap and its exempt hotkeys; absent = no cap but MAX_STAKE_PER_HOTKEY. */
  faucet?: FaucetConfig;
  /**
   * Commit-reveal of weights (subtensor CommitRevealWeightsEnabled, RevealPeriodEpochs); absent = off. On:
   * a setWeights is held as a commit and lands in Weights (LastUpdate = that block) at the first epoch
   * `revealPeriodEpochs` or more epochs after the one it was set in, like subtensor's timelocked (v4) commits
   * that the chain reveals itself; the epoch masks w_ij where i's oldest unrevealed commit predates j's
   * registration (run_epoch.rs commit-reveal column mask).
   */
  commitReveal?: { revealPeriodEpochs: number };
  /**
   * The epoch's subtensor options, fixed at genesis; absent = all off (subtensor's defaults):
   * `ownerHotkey` (SubnetOwnerHotkey: its uid, once registered, gets the owner exemption: no stake
   * threshold, a permit, its self-weight kept), `yuma3` (Yuma3On) and `liquidAlpha` (LiquidAlphaOn, with
   * subtensor's default AlphaValues and steepness; used by Yuma3 only).
   */
  yuma?: { ownerHotkey?: string; yuma3?: boolean; liquidAlpha?: boolean };
}

/** window → uid → the anchored digest and the block that included it. */
export type AnchorTable = Record<string, Record<string, { digest: string; block: number; index?: number }>>;

export function genesis(chainId: string, params: ChainParams, timestamp: number): DevnetState {
  return {
    format: STATE_FORMAT, version: STATE_VERSION, chainId, params: checkParams({ ...params }), height: 0, timestamp,
    history: { from: 0, timestamps: [timestamp], hashes: [sealHash('', 0, timestamp, chainId)] }, neurons: [], accounts: {}, epoch: null, ownerEmission: 0, anchors: {},
  };
}

export const uidOf = (s: DevnetState, hotkey: string): number => s.neurons.findIndex((n) => n.hotkey === hotkey);

/**
 * Live ValidatorPermit: top-K non-zero stake (subtensor recomputes it each epoch; the devnet uses it at once).
 * Stake counts as subtensor's I32F32 fraction of the total: a hotkey holding under 2^-32 of it has none.
 */
export function permits(s: DevnetState): boolean[] {
  const total = totalStake(s);
  const p = isTopkNonzero(s.neurons.map((n) => fixedFraction(n.stake, total)), s.params.maxAllowedValidators);
  const owner = ownerUid(s);
  if (owner !== undefined) p[owner] = true; // run_epoch.rs: the owner's permit is always set
  return p;
}

/** The uid of the subnet owner hotkey (DevnetState.yuma.ownerHotkey) when it is registered. */
export function ownerUid(s: DevnetState): number | undefined {
  const h = s.yuma?.ownerHotkey;
  if (h === undefined) return undefined;
  const uid = s.neurons.findIndex((n) => n.hotkey === h);
  return uid >= 0 ? uid : undefined;
}

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
    if (typeof w !== 'number' || !(w >= 0 && w <= MAX_WEIGHT)) bad(`setWeights: weight for uid ${u} is ${w}`, `weights are numbers in [0, ${MAX_WEIGHT}]`);
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

/** Drops `uid`'s anchor of window `w` from `t` (a copy the caller owns; the rows are copied before they change). */
function dropAnchor(t: AnchorTable, w: string, uid: number): void {
  const row = { ...t[w] };
  delete row[uid];
  if (Object.keys(row).length === 0) delete t[w]; else t[w] = row;
}

/** Keeps `uid`'s newest ANCHORS_PER_UID anchors (by block, then window), never dropping `keep`; `t` is the caller's copy. */
function capAnchors(t: AnchorTable, uid: number, keep: number): void {
  const mine = Object.keys(t).filter((w) => t[w][uid] !== undefined && w !== String(keep));
  const excess = mine.length + 1 - ANCHORS_PER_UID;
  if (excess <= 0) return;
  mine.sort((a, b) => t[a][uid].block - t[b][uid].block || Number(a) - Number(b));
  for (const w of mine.slice(0, excess)) dropAnchor(t, w, uid);
}

export const totalStake = (s: DevnetState): number => s.neurons.reduce((sum, x) => sum + x.stake, 0);

/** The most stake `hotkey` can reach through the faucet: its cap (unless exempt), MAX_STAKE_PER_HOTKEY and MAX_TOTAL_STAKE. */
export function faucetLimit(s: DevnetState, hotkey: string): number {
  const uid = uidOf(s, hotkey);
  const own = uid >= 0 ? s.neurons[uid].stake : 0;
  const exempt = s.faucet?.exempt.includes(hotkey) ?? false;
  const cap = exempt || !s.faucet ? MAX_STAKE_PER_HOTKEY : Math.min(s.faucet.cap, MAX_STAKE_PER_HOTKEY);
  return Math.min(cap, own + (MAX_TOTAL_STAKE - totalStake(s)));
}

/**
 * The uid a registration into a full subnet replaces: lowest Emission of the last epoch, then non-immune
 * (registered IMMUNITY_PERIOD or more blocks before `block`) before immune, then the oldest registration,
 * then the lowest uid. Faucet-exempt hotkeys and the owner hotkey (DevnetState.yuma) are never replaced. -1 when every uid is exempt.
 */
export function uidToReplace(s: DevnetState, block: number): number {
  const exempt = new Set(s.faucet?.exempt ?? []);
  // subtensor keeps the owner's uids immune from pruning (ImmuneOwnerUidsLimit, default 1)
  if (s.yuma?.ownerHotkey !== undefined) exempt.add(s.yuma.ownerHotkey);
  let best = -1, bestKey: [number, number, number] | null = null;
  s.neurons.forEach((x, uid) => {
    if (exempt.has(x.hotkey)) return;
    const key: [number, number, number] = [s.epoch?.Emission[uid] ?? 0, block - x.registeredAt < IMMUNITY_PERIOD ? 1 : 0, x.registeredAt];
    if (bestKey === null || key[0] < bestKey[0] || (key[0] === bestKey[0] && (key[1] < bestKey[1] || (key[1] === bestKey[1] && key[2] < bestKey[2])))) {
      best = uid; bestKey = key;
    }
  });
  return best;
}

/** Gives `uid` to a new neuron in `s` (the caller's copy): the old hotkey's weights, bonds, epoch results and anchors go with it. */
function replaceUid(s: DevnetState, uid: number, neuron: Neuron): void {
  const drop = (row: SparseRow): SparseRow => row.filter(([j]) => j !== uid);
  const names = (row: SparseRow): boolean => row.some(([j]) => j === uid);
  s.neurons = s.neurons.map((x, i) => {
    if (i === uid) return neuron;
    let y = names(x.weights) ? { ...x, weights: drop(x.weights) } : x;
    // unrevealed commits lose the uid too (an empty one stays: its block still counts for the column mask)
    if (y.pendingWeights?.some((c) => names(c.weights))) y = { ...y, pendingWeights: y.pendingWeights.map((c) => ({ ...c, weights: drop(c.weights) })) };
    return y;
  });
  if (s.epoch) {
    const e: EpochResult = { ...s.epoch };
    for (const k of ['Rank', 'Consensus', 'Incentive', 'Dividends', 'ValidatorTrust', 'Emission'] as const) {
      if (uid < e[k].length) { e[k] = e[k].slice(); e[k][uid] = 0; }
    }
    if (uid < e.ValidatorPermit.length) { e.ValidatorPermit = e.ValidatorPermit.slice(); e.ValidatorPermit[uid] = false; }
    e.Bonds = e.Bonds.map((row, i) => (i === uid ? [] : row.some(([j]) => j === uid) ? row.filter(([j]) => j !== uid) : row));
    s.epoch = e;
  }
  if (s.anchors) {
    const t: AnchorTable = { ...s.anchors };
    for (const w of Object.keys(t)) if (t[w][uid] !== undefined) dropAnchor(t, w, uid);
    s.anchors = t;
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
  // Copy-on-write: the arrays and maps a call changes are copied, neurons and anchor rows only when they change.
  const s: DevnetState = { ...state, neurons: state.neurons.slice(), accounts: { ...state.accounts } };
  const block = s.height + 1;
  const set = (uid: number, change: Partial<Neuron>): void => { s.neurons[uid] = { ...s.neurons[uid], ...change }; };
  let result: unknown = null;
  switch (call.method) {
    case 'register': {
      const existing = uidOf(s, call.hotkey);
      if (existing >= 0) { result = existing; break; }
      const count = s.registrations?.block === block ? s.registrations.count : 0;
      if (count >= REGISTRATIONS_PER_BLOCK) {
        throw new ChainError('rate_limited', `block ${block} already takes ${REGISTRATIONS_PER_BLOCK} new registrations (the devnet limit per block)`,
          `register again in block ${block + 1}`, { nextBlock: block + 1 });
      }
      const neuron: Neuron = { hotkey: call.hotkey, stake: 0, registeredAt: block, lastUpdate: block, weightsSetAt: null, weights: [], commitment: null, commitmentBlock: null, totalEmission: 0 };
      if (s.neurons.length < s.params.maxAllowedUids) {
        s.neurons.push(neuron);
        result = s.neurons.length - 1;
      } else {
        const uid = uidToReplace(s, block);
        if (uid < 0) throw new ChainError('full', `all ${s.params.maxAllowedUids} uids are held by faucet-exempt hotkeys`, 'start the devnet with a larger maxAllowedUids');
        replaceUid(s, uid, neuron);
        result = uid;
      }
      s.registrations = { block, count: count + 1 };
      break;
    }
    case 'addStake': {
      const uid = needUid(s, call.hotkey);
      if (typeof p.amount !== 'number' || !Number.isFinite(p.amount) || p.amount <= 0) bad(`addStake: amount ${String(p.amount)} is not a positive finite number`, 'pass amount > 0');
      const have = s.neurons[uid].stake, limit = faucetLimit(s, call.hotkey);
      if (!(limit > have)) {
        bad(`addStake: ${call.hotkey} holds ${have}, the most the devnet faucet grants it (per-hotkey cap ${s.faucet && !s.faucet.exempt.includes(call.hotkey) ? s.faucet.cap : MAX_STAKE_PER_HOTKEY}, total ${MAX_TOTAL_STAKE})`,
          'the faucet is capped: a devnet operator can raise the cap (--faucet-cap) or exempt the hotkey (--faucet-exempt)');
      }
      set(uid, { stake: Math.min(have + p.amount, limit) });
      result = s.neurons[uid].stake;
      break;
    }
    case 'commit': {
      const uid = needUid(s, call.hotkey);
      if (typeof p.data !== 'string') bad('commit: params.data must be a string', 'pass the commitment as a string (e.g. JSON)');
      if (p.data.length > MAX_COMMITMENT_CHARS) bad(`commit: data has ${p.data.length} chars, limit ${MAX_COMMITMENT_CHARS}`, 'commit a shorter string');
      set(uid, { commitment: p.data, commitmentBlock: block });
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
      if (s.commitReveal) {
        const pending = s.neurons[uid].pendingWeights ?? [];
        if (pending.length >= MAX_PENDING_WEIGHTS) {
          throw new ChainError('rate_limited', `uid ${uid} holds ${MAX_PENDING_WEIGHTS} unrevealed weight commits (commit-reveal is on)`,
            `wait for the next epoch to reveal them (block ${(Math.floor(block / s.params.tempo) + 1) * s.params.tempo})`, { nextBlock: (Math.floor(block / s.params.tempo) + 1) * s.params.tempo });
        }
        set(uid, { pendingWeights: [...pending, { weights: row, block, epoch: epochIndex(s, block) }], weightsSetAt: block });
      } else set(uid, { weights: row, weightsSetAt: block, lastUpdate: block });
      break;
    }
    case 'anchor': {
      const uid = needUid(s, call.hotkey);
      const { window, digest } = checkAnchor(p.window, p.digest);
      const existing = s.anchors?.[window]?.[uid];
      if (existing && existing.digest !== digest) {
        throw new ChainError('anchored', `uid ${uid} already anchored another digest for window ${window} (in block ${existing.block})`,
          'anchors are immutable: one digest per hotkey and window', { window, block: existing.block, digest: existing.digest });
      }
      if (!existing) {
        const table: AnchorTable = { ...s.anchors };
        const index = s.anchorCursor?.block === block ? s.anchorCursor.count : 0;
        s.anchorCursor = { block, count: index + 1 };
        table[window] = { ...table[window], [uid]: { digest, block, index } };
        capAnchors(table, uid, window);
        s.anchors = table;
      }
      result = existing?.block ?? block;
      break;
    }
  }
  s.accounts[call.hotkey] = { nonce: call.nonce, lastCall: { hash, result } };
  return { state: s, result };
}

/** The epoch a block belongs to: epochs run at multiples of tempo, so block b is in epoch ⌊b / tempo⌋. */
export const epochIndex = (s: DevnetState, block: number): number => Math.floor(block / s.params.tempo);

/**
 * Commit-reveal at an epoch block: every commit set `revealPeriodEpochs` or more epochs ago lands (the newest
 * of them per uid; LastUpdate = this block); the rest stay. Returns the state and, per uid, the block of its
 * oldest commit still held (for the column mask). The same state when commit-reveal is off.
 */
export function revealWeights(s: DevnetState): { state: DevnetState; commitBlocks?: Array<number | undefined> } {
  if (!s.commitReveal) return { state: s };
  const now = epochIndex(s, s.height), period = s.commitReveal.revealPeriodEpochs;
  let changed = false;
  const neurons = s.neurons.map((x) => {
    const pending = x.pendingWeights ?? [];
    const due = pending.filter((c) => c.epoch + period <= now);
    if (due.length === 0) return x;
    changed = true;
    const rest = pending.filter((c) => c.epoch + period > now);
    const { pendingWeights: _p, ...plain } = x;
    return { ...plain, weights: due[due.length - 1].weights, lastUpdate: s.height, ...(rest.length > 0 ? { pendingWeights: rest } : {}) };
  });
  const state = changed ? { ...s, neurons } : s;
  return { state, commitBlocks: state.neurons.map((x) => x.pendingWeights?.[0]?.block) };
}

/**
 * Seals block height + 1 at `timestamp` (kept non-decreasing) and runs the Yuma epoch when height % tempo = 0.
 * An epoch that throws (or yields a non-finite number) is skipped: the block is sealed with the previous
 * epoch's results, and `onEpochError` hears why. Block production never stops on an epoch.
 */
export function produceBlock(state: DevnetState, timestamp: number, onEpochError?: (e: Error) => void, entropy = ''): DevnetState {
  if (!Number.isFinite(timestamp)) throw new ChainError('bad_request', `block timestamp ${timestamp} is not a finite number`, 'pass Date.now()');
  const height = state.height + 1;
  const ts = Math.max(timestamp, state.timestamp);
  let { from, timestamps } = state.history;
  const prevHash = state.history.hashes?.at(-1) ?? '';
  let hashes = [...(state.history.hashes ?? []), sealHash(prevHash, height, ts, entropy)];
  timestamps = [...timestamps, ts];
  if (timestamps.length > TIMESTAMP_HISTORY) { const drop = timestamps.length - TIMESTAMP_HISTORY; timestamps = timestamps.slice(drop); from += drop; }
  if (hashes.length > timestamps.length) hashes = hashes.slice(hashes.length - timestamps.length);
  const s: DevnetState = { ...state, height, timestamp: ts, history: { from, timestamps, hashes } };
  if (state.anchors && from > state.history.from) s.anchors = pruneAnchors(state.anchors, from);
  if (height % s.params.tempo !== 0) return s;
  try {
    const revealed = revealWeights(s);
    return runEpoch(revealed.state, revealed.commitBlocks);
  } catch (e) {
    onEpochError?.(e instanceof Error ? e : new Error(String(e)));
    return s;
  }
}

// The epoch gets what subtensor's reads: LastUpdate, BlockAtRegistration (outdated weights and the bonds to
// uids registered since the last epoch are masked; replaceUid also drops the old hotkey's weights and bonds),
// and the block of the last epoch as LastMechansimStepBlock (0 before the first), and the options of
// DevnetState.yuma (owner hotkey, Yuma3, liquid alpha: all off unless the chain was created with them).
function runEpoch(state: DevnetState, commitBlocks?: Array<number | undefined>): DevnetState {
  const p = state.params, n = state.neurons.length;
  const r = yumaEpoch({
    stake: state.neurons.map((x) => x.stake), validatorPermit: permits(state), weights: state.neurons.map((x) => x.weights),
    bonds: state.epoch?.Bonds, kappa: p.kappa, bondsMovingAverage: p.bondsMovingAverage, bondsPenalty: p.bondsPenalty,
    emission: p.emissionPerBlock * p.tempo, ownerCut: p.ownerCut, maxAllowedValidators: p.maxAllowedValidators,
    currentBlock: state.height, lastUpdate: state.neurons.map((x) => x.lastUpdate), activityCutoff: p.activityCutoff,
    blockAtRegistration: state.neurons.map((x) => x.registeredAt), tempo: p.tempo, lastMechanismStepBlock: state.epoch?.block ?? 0,
    commitBlocks, ownerUid: ownerUid(state), yuma3: state.yuma?.yuma3, liquidAlpha: state.yuma?.liquidAlpha,
  });
  const finite = (what: string, v: readonly number[]): void => {
    v.forEach((x, i) => { if (!Number.isFinite(x)) throw new Error(`epoch at block ${state.height}: ${what}[${i}] = ${x} is not finite`); });
  };
  for (const k of ['Rank', 'Consensus', 'Incentive', 'Dividends', 'ValidatorTrust', 'Emission'] as const) finite(k, r[k]);
  finite('OwnerEmission', [r.OwnerEmission]);
  r.Bonds.forEach((row, i) => finite(`Bonds[${i}]`, row.map(([, v]) => v)));
  const neurons = state.neurons.map((x, i) => ({ ...x, totalEmission: x.totalEmission + r.Emission[i] }));
  const epoch: EpochResult = {
    block: state.height, Rank: r.Rank, Consensus: r.Consensus, Incentive: r.Incentive, Dividends: r.Dividends,
    ValidatorTrust: r.ValidatorTrust, Emission: r.Emission, Bonds: r.Bonds, ValidatorPermit: r.ValidatorPermit, OwnerEmission: r.OwnerEmission,
  };
  return n === 0 ? state : { ...state, neurons, epoch, ownerEmission: state.ownerEmission + r.OwnerEmission };
}

/**
 * A devnet block's hash: sha256 over the previous block's hash, the height, the timestamp and the
 * sealer's entropy (32 random bytes the server draws per block; the journal keeps them for replay).
 * Nobody can know it before the block is sealed — what the Gauntlet's evaluation beacon needs.
 */
export function sealHash(prevHash: string, height: number, timestamp: number, entropy: string): string {
  return `0x${createHash('sha256').update(`tessera/devnet/block/v1:${prevHash}:${height}:${timestamp}:${entropy}`).digest('hex')}`;
}

/** Hash of a recent block (sealHash); not_found for one the devnet holds no hash of. */
export function blockHashOf(s: DevnetState, height: number): string {
  blockTimestampOf(s, height);
  const hashes = s.history.hashes ?? [], i = hashes.length - 1 - (s.height - height);
  if (i < 0) throw new ChainError('not_found', `block ${height} has no hash on this devnet (it was sealed before block hashes existed, or is older than the ${TIMESTAMP_HISTORY} kept)`, 'ask for a recent block');
  return hashes[i]!;
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
  return Object.entries(row).map(([uid, a]) => ({ uid: Number(uid), digest: a.digest, block: a.block, ...(a.index === undefined ? {} : { index: a.index }) })).sort((a, b) => a.uid - b.uid);
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
    lastEpoch: e?.block ?? 0, Rank: vec(e?.Rank), Trust: vec(undefined), Consensus: vec(e?.Consensus), Incentive: vec(e?.Incentive),
    Dividends: vec(e?.Dividends), ValidatorTrust: vec(e?.ValidatorTrust), Emission: vec(e?.Emission),
    Bonds: Array.from({ length: n }, (_, i) => e?.Bonds[i] ?? []), Weights: s.neurons.map((x) => x.weights),
    tempo: s.params.tempo, kappa: s.params.kappa, bondsMovingAverage: s.params.bondsMovingAverage,
    weightsRateLimit: s.params.weightsRateLimit, maxAllowedValidators: s.params.maxAllowedValidators, activityCutoff: s.params.activityCutoff,
    revealPeriodEpochs: s.commitReveal?.revealPeriodEpochs ?? 0,
  };
}

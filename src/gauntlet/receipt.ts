// The score receipt: per window, everything a validator's scores came from — parameters, the
// Gauntlet state before, the measured inputs (upload status and sighting order, norms, index sketches,
// evaluation seeds and offsets, losses, probe distances) — and everything it decided (penalties with
// reasons, the rating match, moving averages, final scores, weights, peers). recomputeFromReceipt
// re-runs the pure scoring on the receipt alone and must give the same numbers, bit for bit: anyone
// can audit a validator, and a validator's next receipt starts from this one's state.
// Version 2: the result has no `aggregate` (the nodes aggregate the published peer list's valid
// uploads); an input may state the inner steps the miner declared (MinerInput.steps), and every
// evaluation plan records the steps its batches were picked among (loss-score.ts evalPlan), so the
// plan can be re-derived from the run, the data and the receipt.
// Version 3: the plans are seeded by the evaluation beacon (loss-score.ts evalSeed), recorded as
// inputs.beacon (the height and hash of the first block stamped after the upload deadline); the
// measurements of an overlapping pair carry cross losses (window.ts Measured.cross), from which the
// origin of a copy is decided (copies.ts).
import { canonicalJson, sha256Hex } from '../protocol/hash.js';
import { checkParams, type GauntletParams } from './params.js';
import { parseState, type GauntletState } from './state.js';
import { scoreWindow, type WindowInputs, type WindowResult } from './window.js';

export const RECEIPT_FORMAT = 'tessera-score-receipt';
export const RECEIPT_VERSION = 3;

/** The fields of a WindowResult, exactly (a receipt with more or fewer is not this version's). */
const RESULT_KEYS = ['window', 'medianNorm', 'miners', 'peers', 'reserves', 'weights', 'dropped'].sort();

export interface ScoreReceipt {
  format: typeof RECEIPT_FORMAT;
  version: typeof RECEIPT_VERSION;
  window: number;
  /** The run the scores belong to (hash of the RunConfig). */
  runHash: string;
  validator: { uid: number; hotkey: string };
  params: GauntletParams;
  stateBefore: GauntletState;
  inputs: WindowInputs;
  result: WindowResult;
  /** sha256 of the canonical JSON of the state after: the next receipt's stateBefore hashes to it. */
  stateAfterSha256: string;
}

export const stateHash = (s: GauntletState): string => sha256Hex(canonicalJson(s));

/** Scores one window and writes its receipt; returns the new state with it. */
export function scoreWithReceipt(runHash: string, params: GauntletParams, stateBefore: GauntletState, inputs: WindowInputs): { receipt: ScoreReceipt; state: GauntletState } {
  checkParams(params);
  const { state, result } = scoreWindow(stateBefore, inputs, params);
  const receipt: ScoreReceipt = {
    format: RECEIPT_FORMAT, version: RECEIPT_VERSION, window: inputs.window, runHash, validator: { ...inputs.validator },
    params: { ...params }, stateBefore, inputs, result, stateAfterSha256: stateHash(state),
  };
  return { receipt, state };
}

/** Re-runs the scoring from the receipt's own parameters, state and inputs. */
export function recomputeFromReceipt(r: ScoreReceipt): { result: WindowResult; state: GauntletState; stateAfterSha256: string } {
  checkParams(r.params);
  const { state, result } = scoreWindow(r.stateBefore, r.inputs, r.params);
  return { result, state, stateAfterSha256: stateHash(state) };
}

/** ok when recomputing gives the recorded result and state hash; else the first differing field. */
export function verifyReceipt(r: ScoreReceipt): { ok: true } | { ok: false; mismatch: string } {
  let re: ReturnType<typeof recomputeFromReceipt>;
  try { re = recomputeFromReceipt(r); } catch (e) { return { ok: false, mismatch: `cannot recompute: ${(e as Error).message}` }; }
  if (re.stateAfterSha256 !== r.stateAfterSha256) return { ok: false, mismatch: 'state after differs' };
  const a = re.result as unknown as Record<string, unknown>, b = r.result as unknown as Record<string, unknown>;
  const extra = Object.keys(b).find((k) => !(k in a));
  if (extra !== undefined) return { ok: false, mismatch: `result.${extra} is not a result field` };
  for (const k of Object.keys(a)) if (canonicalJson(a[k]) !== canonicalJson(b[k])) return { ok: false, mismatch: `result.${k} differs` };
  return { ok: true };
}

export function encodeReceipt(r: ScoreReceipt): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(r));
}

/** Parses a receipt from untrusted bytes (shape only; verifyReceipt checks the numbers). Never throws. */
export function parseReceipt(bytes: Uint8Array | string): { ok: true; receipt: ScoreReceipt } | { ok: false; reason: string } {
  let v: Partial<ScoreReceipt>;
  try { v = JSON.parse(typeof bytes === 'string' ? bytes : new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as Partial<ScoreReceipt>; }
  catch (e) { return { ok: false, reason: `not JSON: ${(e as Error).message}` }; }
  if (!v || v.format !== RECEIPT_FORMAT || v.version !== RECEIPT_VERSION || !Number.isSafeInteger(v.window)) return { ok: false, reason: `not a version-${RECEIPT_VERSION} score receipt` };
  const st = parseState(JSON.stringify(v.stateBefore ?? null));
  if (!st.ok) return { ok: false, reason: `stateBefore: ${st.reason}` };
  try { checkParams(v.params as GauntletParams); } catch (e) { return { ok: false, reason: (e as Error).message }; }
  const i = v.inputs, res = v.result;
  if (!i || i.window !== v.window || !Array.isArray(i.miners) || !res || res.window !== v.window || !Array.isArray(res.miners)) return { ok: false, reason: 'inputs/result missing or of another window' };
  if (typeof res !== 'object' || Object.keys(res).sort().join() !== RESULT_KEYS.join()) return { ok: false, reason: `result must have exactly the fields ${RESULT_KEYS.join(', ')}` };
  if (!Array.isArray(res.peers) || !Array.isArray(res.reserves)) return { ok: false, reason: 'result peers/reserves must be uid lists' };
  const b = (i as { beacon?: unknown }).beacon as { height?: unknown; hash?: unknown } | undefined;
  if (b !== undefined && (b === null || typeof b !== 'object' || !Number.isSafeInteger(b.height) || typeof b.hash !== 'string')) return { ok: false, reason: 'inputs.beacon must be { height: integer, hash: string }' };
  const ref = (i as { normReference?: unknown }).normReference;
  if (ref !== undefined && !(Array.isArray(ref) && ref.every((u) => Number.isSafeInteger(u)))) return { ok: false, reason: 'inputs.normReference must be a list of uids' };
  const H = (i as { innerSteps?: unknown }).innerSteps;
  if (H !== undefined && !(Number.isSafeInteger(H) && (H as number) >= 1)) return { ok: false, reason: 'inputs.innerSteps must be an integer ≥ 1' };
  const auditing = (i as { auditing?: unknown }).auditing;
  if (auditing !== undefined && typeof auditing !== 'boolean') return { ok: false, reason: 'inputs.auditing must be a boolean' };
  const audits = (i as { audits?: unknown }).audits;
  if (audits !== undefined && !(Array.isArray(audits) && audits.every((a: { uid?: unknown; window?: unknown; outcome?: unknown; detail?: unknown } | null) =>
    a !== null && typeof a === 'object' && Number.isSafeInteger(a.uid) && Number.isSafeInteger(a.window) && (a.outcome === 'pass' || a.outcome === 'fail' || a.outcome === 'unrevealed') && typeof a.detail === 'string'))) {
    return { ok: false, reason: 'inputs.audits must be [{ uid, window, outcome: pass | fail | unrevealed, detail }]' };
  }
  for (const m of i.miners as unknown[]) {
    if (m === null || typeof m !== 'object') return { ok: false, reason: 'inputs.miners must be objects' };
    const { uid, measured, steps: declared } = m as { uid?: unknown; steps?: unknown; measured?: { plan?: { steps?: unknown } } };
    if (declared !== undefined && !Number.isSafeInteger(declared)) return { ok: false, reason: `inputs: uid ${String(uid)}: declared steps must be an integer` };
    const ts = (m as { tensorShare?: unknown }).tensorShare;
    if (ts !== undefined && (ts === null || typeof ts !== 'object' || Object.values(ts).some((x) => typeof x !== 'number'))) {
      return { ok: false, reason: `inputs: uid ${String(uid)}: tensor shares must map uids to numbers` };
    }
    const cross = (measured as { cross?: unknown } | undefined)?.cross;
    if (cross !== undefined && (cross === null || typeof cross !== 'object' || Object.values(cross).some((x) => x !== null && typeof x !== 'number'))) {
      return { ok: false, reason: `inputs: uid ${String(uid)}: cross losses must map uids to numbers (or null)` };
    }
    const steps = measured?.plan?.steps;
    if (measured !== undefined && !(Number.isSafeInteger(steps) && (steps as number) >= 1)) {
      return { ok: false, reason: `inputs: uid ${String(uid)}: evaluation plan without its inner steps (an integer ≥ 1)` };
    }
  }
  if (typeof v.stateAfterSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(v.stateAfterSha256)) return { ok: false, reason: 'stateAfterSha256 must be 64 hex digits' };
  return { ok: true, receipt: v as ScoreReceipt };
}

// The score receipt: per window, everything a validator's scores came from — parameters, the
// Gauntlet state before, the measured inputs (upload status and sighting order, norms, index sketches,
// evaluation seeds and offsets, losses, probe distances) — and everything it decided (penalties with
// reasons, the rating match, moving averages, final scores, weights, peers). recomputeFromReceipt
// re-runs the pure scoring on the receipt alone and must give the same numbers, bit for bit: anyone
// can audit a validator, and a validator's next receipt starts from this one's state.
import { canonicalJson, sha256Hex } from '../protocol/index.js';
import { checkParams, type GauntletParams } from './params.js';
import { parseState, type GauntletState } from './state.js';
import { scoreWindow, type WindowInputs, type WindowResult } from './window.js';

export const RECEIPT_FORMAT = 'tessera-score-receipt';

export interface ScoreReceipt {
  format: typeof RECEIPT_FORMAT;
  version: 1;
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
    format: RECEIPT_FORMAT, version: 1, window: inputs.window, runHash, validator: { ...inputs.validator },
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
  if (!v || v.format !== RECEIPT_FORMAT || v.version !== 1 || !Number.isSafeInteger(v.window)) return { ok: false, reason: 'not a version-1 score receipt' };
  const st = parseState(JSON.stringify(v.stateBefore ?? null));
  if (!st.ok) return { ok: false, reason: `stateBefore: ${st.reason}` };
  try { checkParams(v.params as GauntletParams); } catch (e) { return { ok: false, reason: (e as Error).message }; }
  const i = v.inputs, res = v.result;
  if (!i || i.window !== v.window || !Array.isArray(i.miners) || !res || res.window !== v.window || !Array.isArray(res.miners)) return { ok: false, reason: 'inputs/result missing or of another window' };
  if (typeof v.stateAfterSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(v.stateAfterSha256)) return { ok: false, reason: 'stateAfterSha256 must be 64 hex digits' };
  return { ok: true, receipt: v as ScoreReceipt };
}

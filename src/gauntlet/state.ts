// What the Gauntlet remembers between windows, per miner: the OpenSkill rating, the own-data
// indicator's moving average, the last sync and final scores, streak and penalty counters, and the
// index sketches of recent uploads (re-sent old updates are copies). Plain JSON: a validator that
// restarts reloads it and loses nothing; parseState treats the file as untrusted input.

/** Why a miner was penalized in a window (see window.ts for each one's effect). */
export type PenaltyKind = 'missing' | 'late' | 'invalid' | 'copied' | 'negative' | 'out_of_sync' | 'audit';
export const PENALTY_KINDS: readonly PenaltyKind[] = ['missing', 'late', 'invalid', 'copied', 'negative', 'out_of_sync', 'audit'];
/** Kinds a state saved before them may lack (counted from 0). */
const LATER_KINDS: readonly PenaltyKind[] = ['audit'];

export interface Rating { mu: number; sigma: number }

export interface MinerState {
  rating: Rating;
  /** Moving average of the own-vs-random indicator (±1), starting at 0. */
  ma: number;
  /** Indicator values folded into ma (bias correction and warm-up). */
  evals: number;
  /** Last sync score (0..1; 1 until first measured). */
  sync: number;
  /** Last final score (what weights are shaped from). */
  final: number;
  /** Consecutive evaluations with a negative main score. */
  negStreak: number;
  /** Penalties so far, by kind (a state saved before the 'audit' kind lacks it: 0). */
  penalties: Record<PenaltyKind, number>;
  /** Last window of the bar a failed replay audit set (GauntletParams.auditBan); absent: never failed one. */
  auditBanUntil?: number;
  /** Replay audits passed (absent: none); with WindowInputs.auditing, pay waits for the first. */
  auditPasses?: number;
  /** Last window with a penalty (−1: none — never barred by penaltyMemory, weights.ts recentlyPenalized). */
  lastPenalty: number;
  /** Last window with an upload seen (valid or not), and the last evaluated window. */
  lastSeen: number;
  lastEval: number;
  /** Moving average of the main score (qualityAlpha; the first evaluation sets it); absent until evaluated. */
  quality?: number;
  /** Moving average of the own-data depth (loss-score.ts ownDepth; qualityAlpha), and the evaluations folded into it; absent until measured. */
  depth?: number;
  depthEvals?: number;
  /** Last window whose aggregate held this miner's upload (WindowInputs.normReference); −1 or absent: none seen. */
  lastAggregated?: number;
  /** Sketches of this miner's own recent valid uploads, oldest first. */
  history: { window: number; sketch: number[] }[];
}

export interface GauntletState {
  version: 1;
  /** Last window scored (−1: none yet). */
  window: number;
  /** uid (decimal string, JSON object key) → state. */
  miners: Record<string, MinerState>;
}

export const emptyState = (): GauntletState => ({ version: 1, window: -1, miners: {} });

export function freshMiner(rating: Rating, window: number): MinerState {
  return {
    rating: { ...rating }, ma: 0, evals: 0, sync: 1, final: 0, negStreak: 0, // sync 1 until measured: a newcomer owes no probe
    penalties: { missing: 0, late: 0, invalid: 0, copied: 0, negative: 0, out_of_sync: 0, audit: 0 }, lastPenalty: -1, lastSeen: window, lastEval: -1, history: [],
  };
}

/** Deep copy (states are updated functionally: a window's input state is never mutated). */
export function cloneState(s: GauntletState): GauntletState {
  return JSON.parse(JSON.stringify(s)) as GauntletState;
}

export function serializeState(s: GauntletState): string {
  return JSON.stringify(s);
}

const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const int = (v: unknown): v is number => Number.isSafeInteger(v);

function minerError(m: unknown): string | null {
  if (typeof m !== 'object' || m === null) return 'not an object';
  const r = m as Record<string, unknown>, rt = r.rating as Record<string, unknown> | undefined;
  if (!rt || !num(rt.mu) || !num(rt.sigma) || !(rt.sigma > 0)) return 'rating must be {mu, sigma > 0}';
  for (const k of ['ma', 'sync', 'final'] as const) if (!num(r[k])) return `${k} must be a finite number`;
  for (const k of ['evals', 'negStreak', 'lastPenalty', 'lastSeen', 'lastEval'] as const) if (!int(r[k])) return `${k} must be an integer`;
  if (r.lastAggregated !== undefined && !int(r.lastAggregated)) return 'lastAggregated must be an integer';
  if (r.quality !== undefined && !num(r.quality)) return 'quality must be a finite number';
  if (r.depth !== undefined && !num(r.depth)) return 'depth must be a finite number';
  if (r.depthEvals !== undefined && !(int(r.depthEvals) && r.depthEvals >= 0)) return 'depthEvals must be a count';
  const p = r.penalties as Record<string, unknown> | undefined;
  if (!p || !PENALTY_KINDS.every((k) => int(p[k]) || (LATER_KINDS.includes(k) && p[k] === undefined))) return 'penalties must count every kind';
  if (r.auditBanUntil !== undefined && !int(r.auditBanUntil)) return 'auditBanUntil must be an integer';
  if (r.auditPasses !== undefined && !(int(r.auditPasses) && r.auditPasses >= 0)) return 'auditPasses must be a count';
  if (!Array.isArray(r.history) || !r.history.every((h: { window?: unknown; sketch?: unknown }) => int(h?.window) && Array.isArray(h.sketch) && h.sketch.every(int))) {
    return 'history must be [{window, sketch: integers}]';
  }
  return null;
}

/** Parses a saved state; {ok:false} with the reason for anything malformed (never throws). */
export function parseState(text: string): { ok: true; state: GauntletState } | { ok: false; reason: string } {
  let v: unknown;
  try { v = JSON.parse(text); } catch (e) { return { ok: false, reason: `not JSON: ${(e as Error).message}` }; }
  const s = v as Partial<GauntletState> | null;
  if (!s || s.version !== 1 || !int(s.window) || typeof s.miners !== 'object' || s.miners === null) return { ok: false, reason: 'not a version-1 gauntlet state' };
  for (const [uid, m] of Object.entries(s.miners)) {
    if (!/^(0|[1-9][0-9]*)$/.test(uid)) return { ok: false, reason: `miner key ${uid} is not a uid` };
    const err = minerError(m);
    if (err) return { ok: false, reason: `miner ${uid}: ${err}` };
  }
  return { ok: true, state: s as GauntletState };
}

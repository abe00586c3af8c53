// Replay audits (docs/protocol.md "Replay audits"). Training is deterministic: from the base θ, the inner
// AdamW state (m, v, step) and the error feedback, a window's inner steps on the assigned batches give
// exactly one payload. Every honest payload carries a state commitment (compress/wire.ts flag bit 2):
//   sha256("tessera/audit-state/v1", step, sha256(θ_base), baseLess, m, v, ef)
// of the state it was trained and compressed from. After the upload deadline, the window's evaluation
// beacon (a block hash nobody knew before the deadline) picks each upload with probability
// auditRateOf(run) (auditChosen); the picked miner reveals that state (encodeReveal, ≈ 12 bytes per
// parameter) in its own bucket at keys.auditState, and a validator re-runs the window from it
// (replayUpdate) and compares the result with the upload (decoded, cosine ≥ AUDIT_TOLERANCE).
// A miner that trained other data (its own half and somebody else's, a victim's assignment), fewer
// steps than it declares, or sends another update than its training gives fails: no commitment, no
// reveal, a reveal that does not hash to the commitment, another base, or a replay that differs.
// The Gauntlet penalizes a failed audit ('audit', window.ts) and bars the miner for auditBan windows.
import { createHash } from 'node:crypto';
import { compress, decompress, type CodecSpec, type SparseUpdate } from '../compress/index.js';
import { makeBatch } from '../data/index.js';
import type { Backend } from '../engine/backend.js';
import { createLlama } from '../model/index.js';
import { ADAMW_DEFAULTS, lrAt } from '../optim/index.js';
import type { RunConfig } from '../protocol/index.js';
import { makeTrainable, trainStep } from '../train/step.js';
import { TesseraError } from '../util/errors.js';

/**
 * Share of a window's uploads the beacon picks for a replay audit when the run does not say
 * (RunConfig.auditRate). At 0.25 a miner that trains other data than its assignment went unpicked
 * for 9 windows in one combined bench run (0.75⁹ ≈ 8%) and took 23.5% of the emission; at 0.5 it
 * survives k windows with probability 2⁻ᵏ. Validators run the picked audits that fit their spare time.
 */
export const AUDIT_RATE = 0.5;
/**
 * Cosine between the replayed and the uploaded update (both decoded) at or above which an audit passes.
 * On the same kernels a replay is bit-identical (cosine 1); the margin is for other kernels (a validator
 * on another machine, future non-deterministic GPU kernels). Half a training of other data measured 0.4–0.9.
 */
export const AUDIT_TOLERANCE = 0.99;
/** Inner-loop gradient clip (global norm): the miner's and the replay's. */
export const INNER_CLIP = 1.0;
const DOMAIN = 'tessera/audit-state/v1';
const MAGIC = 'TSAR';

/** The miner's state before a window's training: what the commitment covers besides the error feedback. */
export interface PreState {
  /** AdamW step count and moments at the first inner step. */
  step: number;
  m: Float32Array;
  v: Float32Array;
  /** Hex sha256 of θ the inner steps started from (the overlap base, when the run overlaps). */
  base: string;
  /** Overlap: hex sha256 of the miner's own payload of W − 1 whose update the base is θ of W − 1 less; null: θ itself. */
  baseLess: string | null;
}

/** What a picked miner reveals: its pre-state and the error feedback its payload was compressed with. */
export interface Reveal extends PreState { window: number; uid: number; ef: Float32Array }

export const auditRateOf = (run: Pick<RunConfig, 'auditRate'>): number => run.auditRate ?? AUDIT_RATE;

/** sha256 of θ's bytes (the base a window trains from). */
export function paramsDigest(params: Float32Array): string {
  return createHash('sha256').update(new Uint8Array(params.buffer, params.byteOffset, params.byteLength)).digest('hex');
}

/** The state commitment a payload carries (hex sha256). */
export function stateCommitment(s: PreState & { ef: Float32Array }): string {
  const h = createHash('sha256').update(`${DOMAIN}\n${s.step}\n${s.base}\n${s.baseLess ?? '-'}\n`);
  for (const a of [s.m, s.v, s.ef]) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return h.digest('hex');
}

/** Whether window W's beacon picks uid's upload for a replay audit (the same answer for the miner and every validator). */
export function auditChosen(run: Pick<RunConfig, 'runId' | 'auditRate'>, W: number, uid: number, beaconHash: string): boolean {
  const d = createHash('sha256').update(`tessera/audit-pick/v1\n${run.runId}\n${W}\n${uid}\n${beaconHash}`).digest();
  return d.readUIntBE(0, 6) / 2 ** 48 < auditRateOf(run);
}

/** Largest reveal for n parameters (a download cap). */
export const maxRevealBytes = (n: number): number => 12 * n + 4096;

/** The reveal's bytes: "TSAR", u32 header length, JSON header {window, uid, step, base, baseLess, n}, then m, v, ef as float32 little-endian. */
export function encodeReveal(r: Reveal): Uint8Array {
  const n = r.m.length;
  if (r.v.length !== n || r.ef.length !== n) throw new TesseraError('encodeReveal: m, v and ef must have one length');
  const head = Buffer.from(JSON.stringify({ window: r.window, uid: r.uid, step: r.step, base: r.base, baseLess: r.baseLess, n }));
  const pad = (4 - ((8 + head.length) % 4)) % 4, at = 8 + head.length + pad;
  const out = new Uint8Array(at + 12 * n);
  out.set(Buffer.from(MAGIC), 0);
  new DataView(out.buffer).setUint32(4, head.length + pad, true);
  out.set(head, 8);
  out.fill(0x20, 8 + head.length, at);
  [r.m, r.v, r.ef].forEach((a, i) => out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at + 4 * n * i));
  return out;
}

/** Parses a reveal for n parameters; a string says what is wrong (never throws). */
export function decodeReveal(bytes: Uint8Array, n: number): Reveal | string {
  if (bytes.length < 8 || Buffer.from(bytes.subarray(0, 4)).toString() !== MAGIC) return 'not a state reveal (no "TSAR")';
  const hl = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true), at = 8 + hl;
  if (hl > 4096 || at % 4 !== 0 || bytes.length !== at + 12 * n) return `a reveal for ${n} parameters is ${at + 12 * n} bytes, this one ${bytes.length}`;
  let h: { window?: unknown; uid?: unknown; step?: unknown; base?: unknown; baseLess?: unknown; n?: unknown };
  try { h = JSON.parse(Buffer.from(bytes.subarray(8, at)).toString()) as typeof h; } catch { return 'reveal header is not JSON'; }
  const hex = (x: unknown): x is string => typeof x === 'string' && /^[0-9a-f]{64}$/.test(x);
  if (!Number.isSafeInteger(h.window) || !Number.isSafeInteger(h.uid) || !Number.isSafeInteger(h.step) || (h.step as number) < 0 || h.n !== n || !hex(h.base) || !(h.baseLess === null || hex(h.baseLess))) {
    return 'reveal header lacks window, uid, step, base, baseLess or n';
  }
  const copy = (i: number): Float32Array => { const a = new Float32Array(n); new Uint8Array(a.buffer).set(bytes.subarray(at + 4 * n * i, at + 4 * n * (i + 1))); return a; };
  const [m, v, ef] = [copy(0), copy(1), copy(2)];
  return { window: h.window as number, uid: h.uid as number, step: h.step as number, base: h.base, baseLess: h.baseLess as string | null, m, v, ef };
}

/** The learning rate of inner step `step` (the miner's schedule: a linear warm-up over run.warmup steps, then flat). */
export function innerLr(run: Pick<RunConfig, 'innerLr' | 'warmup'>, step: number): number {
  return lrAt({ maxLr: run.innerLr, minLr: run.innerLr, warmupSteps: run.warmup, totalSteps: run.warmup + 1 }, step);
}

/**
 * The update a miner with this revealed state sends after training `batches` from `base`: the window
 * re-run (inner AdamW steps, Δ = base − θ_local, compression with the revealed error feedback). Null when
 * the training diverges (an honest miner sends nothing then).
 */
export function replayUpdate(be: Backend, run: RunConfig, specs: readonly CodecSpec[], base: Float32Array, r: Pick<Reveal, 'step' | 'm' | 'v' | 'ef'>,
  train: ArrayLike<number>, batches: readonly number[][]): SparseUpdate | null {
  const model = createLlama(run.model, Float32Array.from(base)), opt = { m: Float32Array.from(r.m), v: Float32Array.from(r.v), step: r.step };
  const t = makeTrainable(be, model, opt, { ...ADAMW_DEFAULTS }, INNER_CLIP);
  for (const offsets of batches) {
    const b = makeBatch(train, offsets, run.seq);
    trainStep(t, b.inputs, b.targets, run.batch, run.seq, innerLr(run, opt.step));
  }
  const delta = new Float32Array(base.length);
  for (let i = 0; i < base.length; i++) {
    delta[i] = base[i]! - model.params[i]!;
    if (!Number.isFinite(delta[i]!)) return null;
  }
  return compress(delta, Float32Array.from(r.ef), specs, run.codec);
}

/** Cosine of two sparse updates, decoded (1 when identical; 0 when either is zero). */
export function updateCosine(a: SparseUpdate, b: SparseUpdate, specs: readonly CodecSpec[], cfg: RunConfig['codec'], n: number): number {
  const x = new Float32Array(n), y = new Float32Array(n);
  decompress(a, specs, cfg, x);
  decompress(b, specs, cfg, y);
  let xy = 0, xx = 0, yy = 0;
  for (let i = 0; i < n; i++) { xy += x[i]! * y[i]!; xx += x[i]! * x[i]!; yy += y[i]! * y[i]!; }
  return xx > 0 && yy > 0 ? xy / Math.sqrt(xx * yy) : 0;
}

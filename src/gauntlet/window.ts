// One window of the Gauntlet as a pure function: (state, measured inputs, params) → (state, result).
// Inputs are what the validator observed and measured (upload status, sighting order, norms, index
// sketches, losses, probe distances); everything after that — penalties, the rating match, moving
// averages, final scores, weights, the next peer list — is decided here, so a receipt holding the
// inputs and the state before reproduces every number (receipt.ts).
//
// Penalties and their effect (the uid also takes the last place in the window's match unless noted):
//   missing      no upload seen by the deadline (miners the Gauntlet already knows)     final × missingSlash
//   late         landed after the deadline                                              final × missingSlash
//                (missing and late never touch the own-data indicator average ma or its count: a window
//                without data says nothing about whose data a miner trains on — only its own penalty:
//                the slash and no weight in that window; the miner stays eligible as a peer unless it
//                also had no upload in the window before)
//   invalid      payload rejected, non-finite trial loss, or norm > normOutlier × median (of the aggregated uploads, normReference)  ma × offenceSlash, final 0
//   copied       index overlap ≥ copyThreshold with an older upload, or with one of this window whose data
//                the shared direction improves more (copies.ts; the origin is never penalized) ma × offenceSlash, final 0
//   negative     main score < 0 in negativeStreak consecutive evaluations (ranked by score)      final 0
//   audit        a replay audit of an earlier upload failed (inputs.audits; neurons/audit.ts: no state
//                commitment, or re-running its window from the revealed state gives another update)
//                                                                            ma × offenceSlash, final 0, barred auditBan windows;
//                or found no reveal (unrevealed: a cut link or a restart looks the same)  ma × offenceSlash, final 0
//   out_of_sync  sync score 0: ≥ syncMaxBehind windows behind, or no usable probe of W − 1 from a miner
//                that uploaded in W − 1 (a newcomer owes none; its sync counts as 1 until measured) (ranked by score) final 0
// Not a penalty but also final 0: after warm-up, an own-data indicator average below the threshold.
// An evaluated final is scaled by the declared inner steps ÷ inputs.innerSteps (pay for the work; audits check the declaration).
// With inputs.auditing, weights go only to miners that have passed a replay audit (peers do not wait for it).
// Any penalty but missing and late also bars weight and peer selection in its window and the next penaltyMemory − 1 ones
// (weights.ts recentlyPenalized; a miner never penalized is never barred).
// Weights and the next window's peer list come from the eligible final scores: only positive, unbarred
// finals, of miners that pass the quality gate (qualityGate) and the own-data depth gate (depthGate) —
// neither is a penalty: the final stands, peers and pay wait. Weights go to the eligible miners whose uploads this window aggregates (normReference; all
// eligible when it is not given), less this window's missing and late, on the ramp of the best
// maxPeers — reserves are not paid for standing by (weights.ts). The peers are the best maxPeers, or,
// when more rotatable miners (proven, or from rotationMinEvals with a clean indicator; quality ≥
// rotationQualityFloor × the quality reference) than that stand within rotationBand × the best final, those of them
// aggregated longest ago (weights.ts rotatePeers); the reserves the next `reserves` among the miners
// past the own-data warm-up (provenMiners). The window's aggregate is not decided here: the nodes aggregate the
// valid uploads of the peer list the leader published for the window, reserves filling failed slots.
import { medianOf } from '../compress/aggregate.js';
import { detectCopies, type PastUpload } from './copies.js';
import { sketchOverlap } from './sketch.js';
import { biasCorrected, foldIndicator, lossScore, ownDataOk, ownDepth, relImprovement, type EvalPlan, type LossMeasure } from './loss-score.js';
import type { GauntletParams } from './params.js';
import { matchRanks, newRating, ordinalOf, rateMatch, type MatchEntry } from './ratings.js';
import { cloneState, freshMiner, type GauntletState, type MinerState, type PenaltyKind, type Rating } from './state.js';
import { syncScore } from './sync-score.js';
import { eligibleFinals, finalScore, provenMiners, rotatePeers, shapeWeights } from './weights.js';

export type UploadStatus = 'ok' | 'missing' | 'late' | 'invalid';

/** Trial-step measurements of one evaluated upload. */
export interface Measured {
  plan: EvalPlan;
  /** min(1, median norm / norm): the aggregator's clip, applied to the trial step. */
  clipScale: number;
  losses: LossMeasure;
  /** Windows behind from the miner's probe (sync-score.ts); null: no usable probe. */
  behind: number | null;
  /**
   * Cross losses, for uploads of this window that overlap this one above the copy threshold (copies.ts):
   * other uid → mean loss on that uid's assigned sequences (its plan.own) after this upload's trial step.
   * With the other's own losses they say whose data the pair's shared direction improves (originOf).
   * A pair found by whole tensors only measures just the shared tensors, and adds "<other>:own": this
   * uploader's own-data loss after its shared part.
   */
  cross?: Record<string, number | null>;
}

export interface MinerInput {
  uid: number;
  status: UploadStatus;
  /** Why the upload is not ok (the verifier's reason and detail). */
  detail?: string;
  /** Chain-time bound of the scan that first saw the upload, and that scan's number; null when not seen in time. */
  landedAt: number | null;
  seen: number | null;
  /**
   * ok uploads: the inner steps the payload declares it trained this window (its first `steps` assigned
   * batches). The evaluation plan picks its batches among those (loss-score.ts evalPlan; measured.plan.steps
   * is the declared count clamped to 1..innerSteps). Recorded for audit; the scoring reads the plan.
   */
  steps?: number;
  /** ok uploads: ‖update‖ and its index sketch (sketch.ts). */
  norm?: number;
  sketch?: number[];
  /**
   * ok uploads: other uid of the window → tensorCopyShare of this upload against that one (sketch.ts;
   * the share of kept positions in tensors that overlap ≥ tensorCopyOverlap), where it is above 0.05.
   */
  tensorShare?: Record<string, number>;
  /** ok uploads the validator could afford to evaluate this window. */
  measured?: Measured;
}

export interface WindowInputs {
  window: number;
  validator: { uid: number; hotkey: string };
  /**
   * The block whose hash seeds the evaluation plans (loss-score.ts evalSeed): the first one stamped after
   * the upload deadline. Recorded so anyone can re-derive the plans; absent only in hand-made inputs.
   */
  beacon?: { height: number; hash: string };
  maxPeers: number;
  reserves: number;
  /**
   * The run's inner steps per window (H). Given: an evaluated miner's final score is scaled by its
   * declared steps ÷ H (plan.steps; replay audits check the declaration), so half a training earns half
   * and a sybil pair splitting one training earns what the one would. Absent (receipts before it): unscaled.
   */
  innerSteps?: number;
  /**
   * The uids whose upload norms make the window's median norm (the clip and outlier reference): the
   * uploads the nodes aggregate in this window (the first maxPeers valid slots of the leader's list,
   * chosen by the scores of earlier windows), so uploaders outside it cannot move the reference. Absent
   * or matching no ok upload: every ok upload (the open start).
   */
  normReference?: number[];
  /** One entry per candidate miner (ascending uid). */
  miners: MinerInput[];
  /**
   * The validator runs replay audits (neurons/audit.ts): weights go only to miners that passed one (every
   * miner's first uploads are audited until one passes, so an honest newcomer is paid from its second
   * scored window; an attacker never is). Absent: no such condition (receipts before it, hand-made inputs).
   */
  auditing?: boolean;
  /** Replay audits (neurons/audit.ts) finished since the last receipt: uploads of an earlier window (its beacon picked them) re-run from their revealed state. */
  audits?: AuditInput[];
  /**
   * Pipeline groups (docs/hetero.md "Groups in the network"): each is scored as one contributor, the
   * MinerInput of its lead (members[0]) measuring the merged update of its stages; the other members
   * have no MinerInput. The lead's weight is split among the members by `shares` (summing to 1), and a
   * group in the peer list (or the reserves) is there with every member.
   */
  groups?: GroupInput[];
}

export interface GroupInput {
  group: string;
  members: number[];
  /** Reward share of each member by the parameters its stage trains (summing to 1). */
  shares: number[];
  /**
   * Per member, when the group was evaluated: the own-data loss of θ after the merged update without
   * that stage's tensors, less the loss after the whole merged update (> 0: the stage's tensors help).
   * A stage at ≤ 0 is lazy (or harmful) and gets no share of the group's weight (effectiveShares).
   */
  contributions?: number[];
}

/** A group's shares with its lazy stages (contribution ≤ 0 or not finite) at 0 and the others renormalized (all 0 when every stage is lazy). */
export function effectiveShares(g: GroupInput): number[] {
  const c = g.contributions;
  if (!c) return g.shares;
  const kept = g.shares.map((x, i) => (Number.isFinite(c[i]) && c[i]! > 0 ? x : 0)), sum = kept.reduce((a, b) => a + b, 0);
  return kept.map((x) => (sum > 0 ? x / sum : 0));
}

/** One replay audit: the picked upload re-run from its revealed state (neurons/audit.ts). */
export interface AuditInput {
  uid: number;
  /** The window of the audited upload (the receipt's window or an earlier one: audits run after a window is applied). */
  window: number;
  /**
   * pass: the replay gives the upload (cosine ≥ the tolerance); fail: no state commitment, a reveal that
   * is not the committed state, another base, or another update; unrevealed: no readable reveal by the
   * deadline (an honest miner cut off or restarted after its upload looks the same: an offence, not the long bar).
   */
  outcome: 'pass' | 'fail' | 'unrevealed';
  detail: string;
  /** Cosine of the replayed and the uploaded update, when the replay ran. */
  cosine?: number;
}

export interface Penalty { kind: PenaltyKind; reason: string }

export interface MinerResult {
  uid: number;
  status: UploadStatus;
  evaluated: boolean;
  score: number | null;
  ownImprovement: number | null;
  randomImprovement: number | null;
  indicator: 1 | -1 | null;
  /** Place in the window's match (1 = best); null when not in it. */
  rank: number | null;
  ratingBefore: Rating;
  ratingAfter: Rating;
  ordinal: number;
  ma: number;
  maCorrected: number;
  /** Moving average of the main score (null until evaluated): peers and pay need qualityFloor × the maxPeers-th best. */
  quality: number | null;
  /** Moving average of the own-data depth (present once measured: receipts with per-batch losses). */
  depth?: number;
  evals: number;
  /** Why the own-data check withholds the reward (null: it does not). */
  gate: string | null;
  sync: number;
  behind: number | null;
  maxOverlap: number | null;
  penalties: Penalty[];
  /** The replay audit of this upload, when one ran (passed or failed). */
  audit?: AuditInput;
  final: number;
}

export interface WindowResult {
  window: number;
  medianNorm: number;
  miners: MinerResult[];
  /**
   * The next window's peers and reserves (ascending uids): eligible miners only — evaluated, ungated,
   * not penalized within penaltyMemory windows, final score > 0 (selectPeers).
   */
  peers: number[];
  reserves: number[];
  weights: { uids: number[]; weights: number[] };
  /** Miners forgotten after inactiveReset windows without an upload. */
  dropped: number[];
}

const OFFENCES: readonly PenaltyKind[] = ['missing', 'late', 'invalid', 'copied', 'audit'];

/** The larger of the two uploads' recorded tensor copy shares against each other (0: none recorded). */
export function pairTensorShare(a: Pick<MinerInput, 'uid' | 'tensorShare'>, b: Pick<MinerInput, 'uid' | 'tensorShare'>): number {
  const x = a.tensorShare?.[String(b.uid)], y = b.tensorShare?.[String(a.uid)];
  return Math.max(typeof x === 'number' && Number.isFinite(x) ? x : 0, typeof y === 'number' && Number.isFinite(y) ? y : 0);
}

/**
 * The eligible miners (positive final) whose quality average is ≥ floor × the maxPeers-th best quality
 * among them: the ones that may be peers and be paid. Without a positive reference (no scores yet, or
 * none positive) every eligible miner passes.
 */
export function qualityGate(miners: Readonly<Record<string, Pick<MinerState, 'quality'>>>, finals: ReadonlyMap<number, number>, maxPeers: number, floor: number,
  ref = qualityReference(miners, finals, maxPeers)): Set<number> {
  const eligible = eligibleUids(finals);
  const q = (u: number): number => miners[u]?.quality ?? Number.NEGATIVE_INFINITY;
  return new Set(ref > 0 ? eligible.filter((u) => q(u) >= floor * ref) : eligible);
}

/** A moving average after one more value; the first value sets it. */
const emaFold = (prev: number | undefined, x: number, alpha: number): number => (prev === undefined ? x : (1 - alpha) * prev + alpha * x);
const eligibleUids = (finals: ReadonlyMap<number, number>): number[] => [...finals].filter(([, f]) => f > 0 && Number.isFinite(f)).map(([u]) => u);
/** The k-th largest of xs (k clamped to 1..length); 0 for none. */
const kthBest = (xs: number[], k: number): number => { const s = xs.filter(Number.isFinite).sort((a, b) => b - a); return s.length > 0 ? s[Math.min(s.length, Math.max(1, k)) - 1]! : 0; };

/** The quality gate's reference: the maxPeers-th best quality average among the eligible (0: none). */
export function qualityReference(miners: Readonly<Record<string, Pick<MinerState, 'quality'>>>, finals: ReadonlyMap<number, number>, maxPeers: number): number {
  return kthBest(eligibleUids(finals).map((u) => miners[u]?.quality ?? Number.NEGATIVE_INFINITY), maxPeers);
}

/**
 * The eligible miners (positive final) that pass the own-data depth test: all of them until the
 * maxPeers-th best depth average among the judged ones (≥ depthMinEvals depth values) is positive and ≥ depthActivation × |medianRandom| (the
 * window's median random improvement among them); then those with fewer than depthMinEvals depth
 * values or a depth average ≥ depthFloor × that reference. No depth parameters: everyone passes.
 */
export function depthGate(miners: Readonly<Record<string, Pick<MinerState, 'depth' | 'depthEvals'>>>, finals: ReadonlyMap<number, number>, maxPeers: number,
  p: Pick<GauntletParams, 'depthFloor' | 'depthActivation' | 'depthMinEvals'>, medianRandom: number): Set<number> {
  const eligible = eligibleUids(finals), ref = depthReference(miners, finals, maxPeers, p, medianRandom);
  if (ref === null) return new Set(eligible);
  const judged = (u: number): boolean => (miners[u]?.depthEvals ?? 0) >= p.depthMinEvals!;
  return new Set(eligible.filter((u) => !judged(u) || (miners[u]?.depth ?? Number.NEGATIVE_INFINITY) >= p.depthFloor! * ref));
}

/** The depth gate's reference (the maxPeers-th best depth average among judged eligible miners), or null while the gate is off. */
export function depthReference(miners: Readonly<Record<string, Pick<MinerState, 'depth' | 'depthEvals'>>>, finals: ReadonlyMap<number, number>, maxPeers: number,
  p: Pick<GauntletParams, 'depthFloor' | 'depthActivation' | 'depthMinEvals'>, medianRandom: number): number | null {
  if (p.depthFloor === undefined || p.depthActivation === undefined || p.depthMinEvals === undefined) return null;
  // The reference from judged miners only: a newcomer's one or two values are noise (1.8–2.1× an honest average seen).
  const judged = eligibleUids(finals).filter((u) => (miners[u]?.depthEvals ?? 0) >= p.depthMinEvals!);
  const ref = kthBest(judged.map((u) => miners[u]!.depth ?? Number.NaN), maxPeers);
  return ref > 0 && ref >= p.depthActivation * Math.abs(medianRandom) ? ref : null;
}

/** The median random improvement of this window's evaluated eligible miners (the depth gate's scale). */
export function eligibleMedianRandom(results: readonly Pick<MinerResult, 'uid' | 'evaluated' | 'randomImprovement'>[], finals: ReadonlyMap<number, number>): number {
  return medianOf(results.filter((r) => r.evaluated && (finals.get(r.uid) ?? 0) > 0).map((r) => r.randomImprovement!));
}

/** Median norm of the ok uploads of `reference` (all ok uploads when it names none of them). */
export function referenceMedian(ok: readonly Pick<MinerInput, 'uid' | 'norm'>[], reference?: readonly number[]): number {
  const ref = reference ? new Set(reference) : null;
  const norms = ok.filter((m) => m.norm !== undefined && (!ref || ref.has(m.uid))).map((m) => m.norm!);
  return medianOf(norms.length > 0 ? norms : ok.filter((m) => m.norm !== undefined).map((m) => m.norm!));
}

/**
 * The origin of an overlapping pair of this window by the data: Σ over the two uploads of the relative
 * improvement each gives on a's assigned data, against the same on b's; the uid whose data improves
 * more — measured on their shared tensors only, by at least `margin` of the larger sum. null when a
 * cross loss is missing or not finite, or the sums tie (or are within the margin).
 */
/** The share of originMargin that decides a pair measured on whole updates (window.ts originOf). */
export const WHOLE_MARGIN_FACTOR = 0.4;

export function originOf(a: MinerInput, b: MinerInput, margin = 0): number | null {
  const ma = a.measured, mb = b.measured;
  const ab = ma?.cross?.[String(b.uid)], ba = mb?.cross?.[String(a.uid)];
  if (!ma || !mb || typeof ab !== 'number' || typeof ba !== 'number') return null;
  // A pair measured by its shared tensors (a stitched upload): each side's own data after its shared part, not after its whole update.
  const aa = ma.cross?.[`${b.uid}:own`], bb = mb.cross?.[`${a.uid}:own`];
  const shared = typeof aa === 'number' && typeof bb === 'number';
  const aOwn = shared ? aa : ma.losses.own.after, bOwn = shared ? bb : mb.losses.own.after;
  const onA = relImprovement({ before: ma.losses.own.before, after: aOwn }) + relImprovement({ before: ma.losses.own.before, after: ba });
  const onB = relImprovement({ before: mb.losses.own.before, after: bOwn }) + relImprovement({ before: mb.losses.own.before, after: ab });
  if (!Number.isFinite(onA) || !Number.isFinite(onB)) return null;
  // Decided by a clear margin — a wrong call penalizes the origin. Shared tensors only: the full margin (a few tensors' trial step is
  // noisy); whole updates: WHOLE_MARGIN_FACTOR of it (a replay's copy carries the victim's own-data advantage whole, often by 15–30%).
  const m = shared ? margin : margin * WHOLE_MARGIN_FACTOR;
  if (Math.abs(onA - onB) < m * Math.max(Math.abs(onA), Math.abs(onB)) || onA === onB) return null;
  return onA > onB ? a.uid : b.uid;
}

/** Own-minus-random relative improvement of a measured upload: who trained it, when two tie in time. */
function evidenceOf(m: MinerInput): number | null {
  if (!m.measured) return null;
  const ls = lossScore(m.measured.losses);
  return ls.ownImprovement - ls.randomImprovement;
}
/**
 * A detail with chain-time instants written as ISO-8601: "landed at 1712345678901" → "landed at
 * 2024-04-05T19:34:38.901Z" (epoch milliseconds after a time word; durations like "N ms" stay).
 */
export function readableTimes(detail: string): string {
  return detail.replace(/\b(at|landed|landedAt|deadline|deadlineMs|until|since|before|after)(\s*[=:]?\s*)(\d{12,14})(?!\d|\.\d|\s*ms\b)/gi,
    (all, word: string, sep: string, ms: string) => {
      const t = Number(ms), d = new Date(t);
      return Number.isSafeInteger(t) && !Number.isNaN(d.getTime()) ? `${word}${sep}${d.toISOString()}` : all;
    });
}
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const COPY_ORDER = {
  origin: 'the pair\'s shared direction improves that uploader\'s assigned data more (each upload measured on both)',
  partners: 'this upload shares tensors with more uploads of the window (stitched from several)',
  history: 'the data did not decide; this uid\'s own-data indicator average is lower (its own data improves like random data)',
  time: 'that one was seen first', record: 'the data did not decide; this uid has more copy penalties',
  evidence: 'seen in the same scan; that one improves its own uploader\'s data more', uid: 'seen in the same scan, no other evidence: lower uid first',
} as const;

export function scoreWindow(prev: GauntletState, inp: WindowInputs, p: GauntletParams): { state: GauntletState; result: WindowResult } {
  const W = inp.window, s = cloneState(prev);
  if (prev.window >= W) throw new RangeError(`gauntlet: window ${W} scored after window ${prev.window}`);
  s.window = W;
  const ins = [...inp.miners].sort((a, b) => a.uid - b.uid);
  ins.forEach((m, i) => { if (i > 0 && ins[i - 1]!.uid === m.uid) throw new RangeError(`gauntlet: uid ${m.uid} listed twice`); });
  const ok = ins.filter((m) => m.status === 'ok' && m.norm !== undefined && m.sketch !== undefined);
  const medianNorm = referenceMedian(ok, inp.normReference);
  const past: PastUpload[] = Object.entries(prev.miners).flatMap(([u, m]) => m.history.filter((h) => h.window >= W - p.copyLookback).map((h) => ({ uid: Number(u), window: h.window, sketch: h.sketch })));
  const byUid = new Map(ok.map((m) => [m.uid, m]));
  const audits = new Map<number, AuditInput>();
  const severity = { pass: 0, unrevealed: 1, fail: 2 } as const;
  for (const a of inp.audits ?? []) if (!audits.has(a.uid) || severity[a.outcome] > severity[audits.get(a.uid)!.outcome]) audits.set(a.uid, a);
  // Copy partners in this window (whole overlap or whole tensors): an upload stitched from several others has more than any of its sources.
  const tensorsCopied = (a: number, b: number): boolean => pairTensorShare(byUid.get(a)!, byUid.get(b)!) >= p.tensorCopyShare;
  // Counted only when a pair reaches this fallback (an honest window has no copy pairs: no O(n²) pass for it).
  let partnersOf: Map<number, number> | null = null;
  const partners = (): Map<number, number> => (partnersOf ??= new Map(ok.map((m) => [m.uid, ok.filter((x) => x !== m && (sketchOverlap(m.sketch!, x.sketch!, p.sketchSize) >= p.copyThreshold || tensorsCopied(m.uid, x.uid))).length])));
  const origin = (a: number, b: number): { uid: number; by: 'origin' | 'partners' } | null => {
    const o = originOf(byUid.get(a)!, byUid.get(b)!, p.originMargin);
    if (o !== null) return { uid: o, by: 'origin' };
    const pa = partners().get(a)!, pb = partners().get(b)!;
    return pa === pb ? null : { uid: pa < pb ? a : b, by: 'partners' };
  };
  const copies = detectCopies(W, ok.map((m) => ({ uid: m.uid, seen: m.seen ?? Number.MAX_SAFE_INTEGER, sketch: m.sketch!, record: prev.miners[m.uid]?.penalties.copied ?? 0, evidence: evidenceOf(m),
    ...(prev.miners[m.uid] ? { ma: prev.miners[m.uid]!.ma } : {}) })), past, p.copyThreshold, p.sketchSize,
    origin, tensorsCopied);

  // 1. Per upload: penalties, LossScore, indicator, sync.
  const work: { m: MinerInput; st: MinerState; r: Partial<MinerResult> & { penalties: Penalty[] } }[] = [];
  for (const m of ins) {
    const known = s.miners[m.uid];
    if (!known && m.status === 'missing') continue;
    const st = known ?? (s.miners[m.uid] = freshMiner(newRating(), W));
    const r: Partial<MinerResult> & { penalties: Penalty[] } = { penalties: [], evaluated: false, score: null, ownImprovement: null, randomImprovement: null, indicator: null, behind: null };
    const pen = (kind: PenaltyKind, reason: string): void => { r.penalties.push({ kind, reason }); };
    if (m.status === 'missing') pen('missing', readableTimes(m.detail ?? 'no upload seen by the deadline'));
    else if (m.status === 'late') pen('late', readableTimes(m.detail ?? 'landed after the deadline'));
    else if (m.status === 'invalid') pen('invalid', readableTimes(m.detail ?? 'payload rejected'));
    const audit = audits.get(m.uid);
    if (audit?.outcome === 'pass') st.auditPasses = (st.auditPasses ?? 0) + 1;
    if (audit && audit.outcome !== 'pass' && p.auditBan !== undefined) pen('audit', `replay audit of its upload of window ${audit.window} ${audit.outcome === 'fail' ? 'failed' : 'found no state revealed'}: ${audit.detail}`);
    if (m.status !== 'missing') st.lastSeen = W;
    if (m.status === 'ok') {
      const c = copies.offenders.get(m.uid);
      r.maxOverlap = copies.maxOverlap.get(m.uid) ?? 0;
      if (m.norm === undefined || m.sketch === undefined) pen('invalid', 'no norm or sketch measured');
      else if (medianNorm > 0 && m.norm > p.normOutlier * medianNorm) pen('invalid', `norm ${m.norm.toPrecision(4)} is ${(m.norm / medianNorm).toFixed(1)}× the window median ${medianNorm.toPrecision(4)} (limit ${p.normOutlier}×)`);
      const tshare = c && c.sourceWindow === W && byUid.has(c.source) ? pairTensorShare(m, byUid.get(c.source)!) : 0;
      const tensors = tshare >= p.tensorCopyShare ? `, whole tensors holding ${pct(tshare)} of its kept positions` : '';
      if (c) pen('copied', c.source === m.uid ? `re-sends its own upload of window ${c.sourceWindow} (index overlap ${pct(c.overlap)})` : `copies uid ${c.source}'s upload of window ${c.sourceWindow} (index overlap ${pct(c.overlap)}${tensors}; ${COPY_ORDER[c.by]})`);
      if (m.measured && r.penalties.length === 0) {
        const { losses, behind } = m.measured, ls = lossScore(losses);
        const finite = [losses.own.before, losses.own.after, losses.random.before, losses.random.after].every(Number.isFinite);
        if (!finite) pen('invalid', 'the trial step makes the loss non-finite');
        else {
          Object.assign(r, { evaluated: true, score: ls.score, ownImprovement: ls.ownImprovement, randomImprovement: ls.randomImprovement, indicator: ls.indicator, behind });
          st.ma = foldIndicator(st.ma, ls.indicator, p.indicatorAlpha);
          st.quality = emaFold(st.quality, ls.score, p.qualityAlpha);
          const depth = ownDepth(losses);
          if (depth !== null) {
            st.depth = emaFold(st.depth, depth, p.qualityAlpha);
            st.depthEvals = (st.depthEvals ?? 0) + 1;
          }
          st.evals += 1;
          st.lastEval = W;
          st.negStreak = ls.score < 0 ? st.negStreak + 1 : 0;
          // A probe of W − 1 is owed only by a miner that uploaded in W − 1 (a newcomer has none yet).
          const owesProbe = prev.miners[m.uid] !== undefined && prev.miners[m.uid]!.lastSeen === W - 1;
          if (behind !== null || owesProbe) st.sync = syncScore(behind, p.syncMaxBehind);
          if (st.negStreak >= p.negativeStreak) pen('negative', `main score < 0 in ${st.negStreak} consecutive evaluations`);
          if (st.sync === 0 && (behind !== null || owesProbe)) pen('out_of_sync', behind === null ? 'no usable parameter probe of the previous window' : `probe ${behind.toFixed(2)} windows behind (limit ${p.syncMaxBehind})`);
        }
      }
      st.history = [...st.history, { window: W, sketch: m.sketch ?? [] }].filter((h) => h.window > W - p.copyLookback - 1).slice(-p.copyLookback);
    }
    work.push({ m, st, r });
  }

  // 2. One OpenSkill match: evaluated uploads by score, offenders last.
  const entries: MatchEntry[] = work.filter(({ r }) => r.evaluated || r.penalties.some((q) => OFFENCES.includes(q.kind)))
    .map(({ m, r }) => ({ uid: m.uid, score: r.penalties.some((q) => OFFENCES.includes(q.kind)) ? null : r.score! }));
  const ranks = matchRanks(entries);
  const rated = rateMatch(new Map(work.filter(({ m }) => ranks.has(m.uid)).map(({ m, st }) => [m.uid, st.rating])), ranks, p);

  // 3. Slashes, ratings, final scores.
  const results: MinerResult[] = [];
  for (const { m, st, r } of work) {
    const before = { ...st.rating }, kinds = new Set(r.penalties.map((q) => q.kind));
    if (rated.has(m.uid)) st.rating = rated.get(m.uid)!;
    // Missing/late: the window's own penalty only (final score, match, bar) — never the indicator average.
    if (kinds.has('missing') || kinds.has('late')) st.final *= p.missingSlash;
    if (kinds.has('invalid') || kinds.has('copied') || kinds.has('audit')) { st.ma *= p.offenceSlash; st.final = 0; }
    if (kinds.has('audit') && audits.get(m.uid)?.outcome === 'fail') st.auditBanUntil = W + p.auditBan! - 1;
    const ord = ordinalOf(st.rating), maHat = biasCorrected(st.ma, st.evals, p.indicatorAlpha);
    const gate = r.evaluated && !ownDataOk(st.ma, st.evals, p)
      ? `own data beat random data too rarely: bias-corrected indicator average ${maHat.toFixed(3)} < ${p.indicatorThreshold} after ${st.evals} evaluations` : null;
    // Scaled by the share of the window's inner steps it declares (audited): pay for the work done.
    const work = r.evaluated && inp.innerSteps ? Math.min(1, m.measured!.plan.steps / inp.innerSteps) : 1;
    if (r.evaluated) st.final = r.penalties.length > 0 || gate ? 0 : work * finalScore(ord, st.ma, st.sync, p.ordinalShift);
    for (const k of kinds) st.penalties[k] = (st.penalties[k] ?? 0) + 1;
    // Missing and late are punished by their slash alone: only offences bar weight and peer selection.
    if ([...kinds].some((k) => k !== 'missing' && k !== 'late')) st.lastPenalty = W;
    results.push({
      uid: m.uid, status: m.status, evaluated: r.evaluated ?? false, score: r.score ?? null, ownImprovement: r.ownImprovement ?? null,
      randomImprovement: r.randomImprovement ?? null, indicator: r.indicator ?? null, rank: ranks.get(m.uid) ?? null, ratingBefore: before,
      ratingAfter: { ...st.rating }, ordinal: ord, ma: st.ma, maCorrected: maHat, quality: st.quality ?? null, ...(st.depth !== undefined ? { depth: st.depth } : {}), evals: st.evals, gate, sync: st.sync, behind: r.behind ?? null,
      maxOverlap: r.maxOverlap ?? null, penalties: r.penalties, ...(audits.has(m.uid) ? { audit: audits.get(m.uid)! } : {}), final: st.final,
    });
  }

  // 4. Forget the long inactive; shape weights and pick the next peers from the same eligible finals.
  const dropped = Object.entries(s.miners).filter(([, m]) => W - m.lastSeen >= p.inactiveReset).map(([u]) => Number(u)).sort((a, b) => a - b);
  for (const u of dropped) delete s.miners[u];
  // Peers go to miners without a recent offence; weights too, and not to a miner missing or late in
  // this window (it earns nothing for it, but stays a peer: its next upload is aggregated as before).
  const finals = eligibleFinals(s.miners, W, p.penaltyMemory);
  const absent = new Set(results.filter((r) => r.penalties.some((q) => q.kind === 'missing' || q.kind === 'late')).map((r) => r.uid));
  // Paid: the eligible miners whose uploads the window aggregates (normReference), when it is known — pay for contribution.
  const aggregated = inp.normReference ? new Set(inp.normReference) : null;
  for (const u of aggregated ?? []) if (s.miners[u]) s.miners[u]!.lastAggregated = W;
  const deep = depthGate(s.miners, finals, inp.maxPeers, p, eligibleMedianRandom(results, finals));
  const qref = qualityReference(s.miners, finals, inp.maxPeers);
  const quality = qualityGate(s.miners, finals, inp.maxPeers, p.qualityFloor, qref), good = new Set([...quality].filter((u) => deep.has(u)));
  // Pipeline groups' partial uploads are not audited (their activations cross machines): their leads do not wait for a pass.
  const inGroup = new Set((inp.groups ?? []).flatMap((g) => g.members));
  const unaudited = (u: number): boolean => !!inp.auditing && !inGroup.has(u) && !((s.miners[u]!.auditPasses ?? 0) >= 1);
  const paid = new Map([...finals].map(([u, f]) => [u, absent.has(u) || (aggregated && !aggregated.has(u)) || !good.has(u) || unaudited(u) ? 0 : f]));
  const proven = provenMiners(s.miners, p.indicatorWarmup);
  const weights = shapeWeights(paid, inp.maxPeers, inp.reserves, p, proven);
  // A miner without an upload in this window and the one before is no peer until it uploads again.
  const present = new Map([...finals].map(([u, f]) => [u, s.miners[u]!.lastSeen >= W - 1 && good.has(u) ? f : 0]));
  const lastAgg = new Map(Object.entries(s.miners).filter(([, m]) => m.lastAggregated !== undefined).map(([u, m]) => [Number(u), m.lastAggregated!]));
  // Rotating before the own-data warm-up: only miners whose indicator average already clears the threshold (a coin-flipper does not);
  // and only comparable contributors: a quality average ≥ rotationQualityFloor × the quality gate's reference (rotation puts the
  // never-aggregated first, so half a training that passes the gate would otherwise take a slot ahead of the honest).
  const early = p.rotationMinEvals === undefined ? proven
    : new Set([...provenMiners(s.miners, p.rotationMinEvals)].filter((u) => proven.has(u) || biasCorrected(s.miners[u]!.ma, s.miners[u]!.evals, p.indicatorAlpha) >= p.indicatorThreshold));
  const rotatable = p.rotationQualityFloor === undefined || !(qref > 0) ? early
    : new Set([...early].filter((u) => (s.miners[u]!.quality ?? Number.NEGATIVE_INFINITY) >= p.rotationQualityFloor! * qref));
  const sel = rotatePeers(present, inp.maxPeers, inp.reserves, proven, lastAgg, p.rotationBand, rotatable);
  const { peers, reserves } = spreadGroups(sel.peers, sel.reserves, inp.groups ?? [], inp.maxPeers, inp.reserves, present);
  const result: WindowResult = { window: W, medianNorm, miners: results, peers, reserves, weights: splitGroupWeights(weights, inp.groups ?? []), dropped };
  return { state: s, result };
}

/**
 * A group's weight, split among its members by their effective shares (ascending uids; a member with
 * 0 weight is left out). Members other than the lead have no weight of their own.
 */
export function splitGroupWeights(w: { uids: number[]; weights: number[] }, groups: readonly GroupInput[]): { uids: number[]; weights: number[] } {
  if (groups.length === 0) return w;
  const out = new Map<number, number>(w.uids.map((u, i) => [u, w.weights[i]!]));
  for (const g of groups) {
    const lead = out.get(g.members[0]!);
    if (lead === undefined) continue;
    const shares = effectiveShares(g);
    g.members.forEach((u, i) => out.set(u, lead * shares[i]!));
  }
  const uids = [...out.keys()].filter((u) => out.get(u)! > 0).sort((a, b) => a - b);
  return { uids, weights: uids.map((u) => out.get(u)!) };
}

/**
 * The peer list and reserves with every selected group's lead replaced by all its members (each stage
 * takes a slot of the aggregate). When that makes more than maxPeers peers, the lowest-final entries
 * (a group counting as all its members) move to the front of the reserves until the peers fit; the
 * reserves are cut to maxReserves.
 */
export function spreadGroups(peers: number[], reserves: number[], groups: readonly GroupInput[], maxPeers: number, maxReserves: number,
  finals: ReadonlyMap<number, number>): { peers: number[]; reserves: number[] } {
  if (groups.length === 0) return { peers, reserves };
  const byLead = new Map(groups.map((g) => [g.members[0]!, g.members]));
  const size = (u: number): number => byLead.get(u)?.length ?? 1;
  const ranked = [...peers].sort((a, b) => (finals.get(b) ?? 0) - (finals.get(a) ?? 0) || a - b);
  const kept: number[] = [], moved: number[] = [];
  let slots = 0;
  for (const u of ranked) {
    if (slots + size(u) <= maxPeers) { kept.push(u); slots += size(u); } else moved.push(u);
  }
  const expand = (xs: number[]): number[] => xs.flatMap((u) => byLead.get(u) ?? [u]).sort((a, b) => a - b);
  return { peers: expand(kept), reserves: [...expand(moved), ...expand(reserves)].filter((u, i, a) => a.indexOf(u) === i).slice(0, maxReserves) };
}

// Copy detection: an upload whose top-k index set overlaps another upload above the threshold is a
// copy — of an upload of the last copyLookback windows (re-sending one's own or anyone else's old
// update), or of another upload of this window. Between two uploads of the same window the ORIGIN
// decides, not the arrival: honest training is deterministic and its inputs are public, so a copier
// can replay a miner's update and upload it first. For such a pair the validator measures each upload
// on the other's assigned data too (the pair's cross losses, window.ts originOf); the shared direction
// improves the data of the miner who trained it more than anyone else's, so the uploader whose data it
// improves more is the origin and the other the copier — being copied never costs the origin anything.
// The data decides only by a clear margin (originMargin); short of it, an upload that shares tensors
// with more uploads of the window than the other is the copier (stitched from several sources), then
// the copy record (more copy penalties so far: the copier), then the own-data history (the lower
// indicator average: the copier — a replayer's own data improves like random data). A pair none of
// that decides (a first window, two newcomers) penalizes nobody: the arrival is never the judge within
// a window, since a replay of deterministic training can land first. Honest updates overlap ~10%:
// they share the large-gradient coordinates, never the whole set. A pair also counts when whole
// tensors match (tensorsCopied: sketch.ts tensorCopyShare) — an upload stitched from the tensors of
// several others overlaps each of them little as a whole.
import { sketchOverlap } from './sketch.js';

export interface Sighting {
  uid: number;
  /** Number of the validator's scan that first saw the upload (smaller = earlier). */
  seen: number;
  sketch: readonly number[];
  /** Copy penalties of the uploader so far. */
  record?: number;
  /** Own-data minus random-data relative improvement of the upload (null: not measured). */
  evidence?: number | null;
  /** The uploader's own-data indicator average before this window (its history; absent: a newcomer). */
  ma?: number;
}

export interface PastUpload { uid: number; window: number; sketch: readonly number[] }

export interface CopyFinding {
  /** The earlier upload it copies: a uid and the window of that upload. */
  source: number;
  sourceWindow: number;
  /** Whole-upload overlap (a pair found by its tensors — a stitched upload — may show less than the threshold). */
  overlap: number;
  /** What made the source the original: its data (cross losses), an earlier scan or window, the copy record, the data's evidence, the uid. */
  by: 'origin' | 'partners' | 'record' | 'history' | 'time' | 'evidence' | 'uid';
}

export interface CopyReport {
  offenders: Map<number, CopyFinding>;
  /** Same-window pairs above the threshold that nothing decided (no data margin, equal records and histories): nobody is penalized for them. */
  undecided: [number, number][];
  /** Largest overlap of each upload with any other (for explanations), to 4 decimals. */
  maxOverlap: Map<number, number>;
}

const round4 = (x: number): number => Math.round(x * 1e4) / 1e4;

/**
 * Finds the copies among this window's sightings (window W) given the recent uploads of all miners.
 * origin(a, b): the pair's origin and what decided it (window.ts: the data by originOf, then tensor partners), or null.
 */
export function detectCopies(window: number, sightings: readonly Sighting[], past: readonly PastUpload[], threshold: number, sketchSize: number,
  origin: (a: number, b: number) => { uid: number; by: 'origin' | 'partners' } | null = () => null, tensorsCopied: (a: number, b: number) => boolean = () => false): CopyReport {
  const ev = (x: Sighting): number => (typeof x.evidence === 'number' && Number.isFinite(x.evidence) ? x.evidence : -Infinity);
  const rec = (x: Sighting): number => x.record ?? 0;
  const order = [...sightings].sort((a, b) => a.seen - b.seen || rec(a) - rec(b) || (ev(a) === ev(b) ? 0 : ev(b) > ev(a) ? 1 : -1) || a.uid - b.uid);
  const offenders = new Map<number, CopyFinding>(), maxOverlap = new Map<number, number>(), undecided: [number, number][] = [];
  const note = (uid: number, o: number): void => { maxOverlap.set(uid, Math.max(maxOverlap.get(uid) ?? 0, round4(o))); };
  const consider = (copier: number, f: CopyFinding): void => {
    const best = offenders.get(copier);
    if (!best || f.overlap > best.overlap) offenders.set(copier, f);
  };
  for (let i = 0; i < order.length; i++) {
    for (let j = i + 1; j < order.length; j++) {
      const e = order[i]!, s = order[j]!, o = sketchOverlap(s.sketch, e.sketch, sketchSize);
      note(s.uid, o); note(e.uid, o);
      if (o < threshold && !tensorsCopied(e.uid, s.uid)) continue;
      let by: { uid: number; by: CopyFinding['by'] } | null = origin(e.uid, s.uid);
      // Undecided by the data: the copy record, then the own-data history — never the arrival alone, which a replay wins.
      if (!by && rec(e) !== rec(s)) by = { uid: rec(e) < rec(s) ? e.uid : s.uid, by: 'record' };
      if (!by && e.ma !== undefined && s.ma !== undefined && Math.abs(e.ma - s.ma) > 1e-9) by = { uid: e.ma > s.ma ? e.uid : s.uid, by: 'history' };
      if (!by) { undecided.push([e.uid, s.uid]); continue; }
      if (by.uid === s.uid) consider(e.uid, { source: s.uid, sourceWindow: window, overlap: round4(o), by: by.by });
      else consider(s.uid, { source: e.uid, sourceWindow: window, overlap: round4(o), by: by.by });
    }
    const s = order[i]!;
    for (const p of past) {
      if (p.window >= window) continue;
      const o = sketchOverlap(s.sketch, p.sketch, sketchSize);
      note(s.uid, o);
      if (o >= threshold) consider(s.uid, { source: p.uid, sourceWindow: p.window, overlap: round4(o), by: 'time' });
    }
  }
  return { offenders, maxOverlap, undecided };
}

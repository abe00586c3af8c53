// Copy detection: an upload whose top-k index set overlaps an EARLIER upload above the threshold is a
// copy, and its uploader the offender. "Earlier" is the validator's own observation: this window's
// uploads in order of first sight (the number of the scan that first saw them; ties → lower uid
// first), then every upload of the last copyLookback windows — so re-sending one's own or anyone
// else's old update is caught too. Honest updates overlap ~10%: they share the large-gradient
// coordinates, never the whole set. Two uploads first seen in the same scan cannot be ordered by
// time (scans run several times per block to make that rare). Then the record decides — fewer copy
// penalties so far counts as earlier — and after it the data: an update improves the assigned data of
// the miner who trained it more than random data, the copier's not, so the larger own-minus-random
// improvement counts as earlier; without any of that evidence, the lower uid.
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
}

export interface PastUpload { uid: number; window: number; sketch: readonly number[] }

export interface CopyFinding {
  /** The earlier upload it copies: a uid and the window of that upload. */
  source: number;
  sourceWindow: number;
  overlap: number;
  /** What made the source the earlier one: an earlier scan or window, the copy record, the data's evidence, the uid. */
  by: 'time' | 'record' | 'evidence' | 'uid';
}

export interface CopyReport {
  offenders: Map<number, CopyFinding>;
  /** Largest overlap of each upload with any other (for explanations), to 4 decimals. */
  maxOverlap: Map<number, number>;
}

const round4 = (x: number): number => Math.round(x * 1e4) / 1e4;

/** Finds the copies among this window's sightings (window W) given the recent uploads of all miners. */
export function detectCopies(window: number, sightings: readonly Sighting[], past: readonly PastUpload[], threshold: number, sketchSize: number): CopyReport {
  const ev = (x: Sighting): number => (typeof x.evidence === 'number' && Number.isFinite(x.evidence) ? x.evidence : -Infinity);
  const rec = (x: Sighting): number => x.record ?? 0;
  const order = [...sightings].sort((a, b) => a.seen - b.seen || rec(a) - rec(b) || (ev(a) === ev(b) ? 0 : ev(b) > ev(a) ? 1 : -1) || a.uid - b.uid);
  const offenders = new Map<number, CopyFinding>(), maxOverlap = new Map<number, number>();
  const note = (uid: number, o: number): void => { maxOverlap.set(uid, Math.max(maxOverlap.get(uid) ?? 0, round4(o))); };
  order.forEach((s, i) => {
    let best: CopyFinding | null = null;
    const consider = (uid: number, w: number, sketch: readonly number[], by: CopyFinding['by']): void => {
      const o = sketchOverlap(s.sketch, sketch, sketchSize);
      note(s.uid, o);
      if (o >= threshold && (best === null || o > best.overlap)) best = { source: uid, sourceWindow: w, overlap: round4(o), by };
    };
    for (let j = 0; j < i; j++) {
      const e = order[j]!;
      consider(e.uid, window, e.sketch, e.seen < s.seen ? 'time' : rec(e) < rec(s) ? 'record' : ev(e) !== ev(s) ? 'evidence' : 'uid');
    }
    for (const p of past) if (p.window < window) consider(p.uid, p.window, p.sketch, 'time');
    for (let j = i + 1; j < order.length; j++) note(s.uid, sketchOverlap(s.sketch, order[j]!.sketch, sketchSize));
    if (best) offenders.set(s.uid, best);
  });
  return { offenders, maxOverlap };
}

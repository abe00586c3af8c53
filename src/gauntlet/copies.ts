// Copy detection: an upload whose top-k index set overlaps an EARLIER upload above the threshold is a
// copy, and its uploader the offender. "Earlier" is the validator's own observation: this window's
// uploads in order of first sight (the chain-time bound of the scan that saw them; ties → lower uid
// first), then every upload of the last copyLookback windows — so re-sending one's own or anyone
// else's old update is caught too. Honest updates overlap ~10%: they share the large-gradient
// coordinates, never the whole set.
import { sketchOverlap } from './sketch.js';

export interface Sighting {
  uid: number;
  /** Chain-time bound of the first scan that saw the upload (smaller = earlier). */
  landedAt: number;
  sketch: readonly number[];
}

export interface PastUpload { uid: number; window: number; sketch: readonly number[] }

export interface CopyFinding {
  /** The earlier upload it copies: a uid and the window of that upload. */
  source: number;
  sourceWindow: number;
  overlap: number;
}

export interface CopyReport {
  offenders: Map<number, CopyFinding>;
  /** Largest overlap of each upload with any other (for explanations), to 4 decimals. */
  maxOverlap: Map<number, number>;
}

const round4 = (x: number): number => Math.round(x * 1e4) / 1e4;

/** Finds the copies among this window's sightings (window W) given the recent uploads of all miners. */
export function detectCopies(window: number, sightings: readonly Sighting[], past: readonly PastUpload[], threshold: number, sketchSize: number): CopyReport {
  const order = [...sightings].sort((a, b) => a.landedAt - b.landedAt || a.uid - b.uid);
  const offenders = new Map<number, CopyFinding>(), maxOverlap = new Map<number, number>();
  const note = (uid: number, o: number): void => { maxOverlap.set(uid, Math.max(maxOverlap.get(uid) ?? 0, round4(o))); };
  order.forEach((s, i) => {
    let best: CopyFinding | null = null;
    const consider = (uid: number, w: number, sketch: readonly number[]): void => {
      const o = sketchOverlap(s.sketch, sketch, sketchSize);
      note(s.uid, o);
      if (o >= threshold && (best === null || o > best.overlap)) best = { source: uid, sourceWindow: w, overlap: round4(o) };
    };
    for (let j = 0; j < i; j++) consider(order[j]!.uid, window, order[j]!.sketch);
    for (const p of past) if (p.window < window) consider(p.uid, p.window, p.sketch);
    for (let j = i + 1; j < order.length; j++) note(s.uid, sketchOverlap(s.sketch, order[j]!.sketch, sketchSize));
    if (best) offenders.set(s.uid, best);
  });
  return { offenders, maxOverlap };
}

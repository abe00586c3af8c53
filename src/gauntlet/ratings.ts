// OpenSkill ratings (Weng-Lin, Plackett-Luce; T: beta 7, tau 0.1): each window's evaluated miners
// are one match, ranked by main score; penalized, missing and invalid uploads share the last place.
// The conservative skill is the ordinal μ − 3σ (0 for a newcomer: μ 25, σ 25/3).
import { ordinal as osOrdinal, rate, rating as osRating } from 'openskill';
import type { GauntletParams } from './params.js';
import type { Rating } from './state.js';

export const newRating = (): Rating => { const r = osRating(); return { mu: r.mu, sigma: r.sigma }; };

export const ordinalOf = (r: Rating): number => osOrdinal(r);

/** A match entry: a score, or null for "last place" (missing, invalid, penalized). */
export interface MatchEntry { uid: number; score: number | null }

/**
 * Competition ranks (1 = best; equal scores share a rank, the next rank skips), nulls last. Ranks start
 * at 1 because openskill reads a rank of 0 as "unset" and would split ties at 0.
 */
export function matchRanks(entries: readonly MatchEntry[]): Map<number, number> {
  const sorted = [...entries].sort((a, b) => (a.score === null ? (b.score === null ? 0 : 1) : b.score === null ? -1 : b.score - a.score) || a.uid - b.uid);
  const out = new Map<number, number>();
  sorted.forEach((e, i) => {
    const prev = sorted[i - 1];
    const tie = prev !== undefined && prev.score === e.score;
    out.set(e.uid, tie ? out.get(prev.uid)! : i + 1);
  });
  return out;
}

/** One Plackett-Luce update of every entry's rating (a match needs at least two players; else unchanged). */
export function rateMatch(ratings: ReadonlyMap<number, Rating>, ranks: ReadonlyMap<number, number>, p: Pick<GauntletParams, 'openskillBeta' | 'openskillTau'>): Map<number, Rating> {
  const uids = [...ranks.keys()].sort((a, b) => a - b);
  const out = new Map<number, Rating>();
  if (uids.length < 2) { for (const u of uids) out.set(u, { ...(ratings.get(u) ?? newRating()) }); return out; }
  const teams = uids.map((u) => [{ ...(ratings.get(u) ?? newRating()) }]);
  const rated = rate(teams, { rank: uids.map((u) => ranks.get(u)!), beta: p.openskillBeta, tau: p.openskillTau });
  uids.forEach((u, i) => out.set(u, { mu: rated[i]![0]!.mu, sigma: rated[i]![0]!.sigma }));
  return out;
}

// Link rates for network hosts (netns.ts): plain rates in tc's syntax, and the `covenant` profile —
// rates scaled so that this model's payload bytes ÷ link rate, relative to its compute time per
// window, match Covenant-72B's (72B parameters on 110 Mb/s up / 500 Mb/s down with ~20 min of compute
// per round). Payload bytes grow with the parameter count at the same bits per parameter, so the
// scaled rate is Covenant's × (params / 72e9) × (1200 s / compute s).

/** Covenant-72B's setting (the Templar report): parameters, link rates and compute per round. */
export const COVENANT = Object.freeze({ params: 72e9, upBitsPerS: 110e6, downBitsPerS: 500e6, computeS: 1200 });

const UNITS = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 } as const;

/** tc rate text → bits per second; null when it is not a rate. */
export function parseRate(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(bit|kbit|mbit|gbit)$/.exec(text.trim().toLowerCase());
  return m ? Number(m[1]) * UNITS[m[2] as keyof typeof UNITS] : null;
}

/** Bits per second → tc rate text, whole kbit (at least 8 kbit). */
export function formatRate(bitsPerS: number): string {
  return `${Math.max(8, Math.round(bitsPerS / 1e3))}kbit`;
}

export interface LinkRates { up: string; down: string; upBitsPerS: number; downBitsPerS: number }

/** The covenant profile for a model of `params` parameters that computes `computeS` seconds per window. */
export function covenantLinks(params: number, computeS: number): LinkRates {
  if (!(params > 0) || !(computeS > 0)) throw new RangeError(`covenantLinks needs params > 0 and computeS > 0 (got ${params}, ${computeS})`);
  const scale = (params / COVENANT.params) * (COVENANT.computeS / computeS);
  const upBitsPerS = COVENANT.upBitsPerS * scale, downBitsPerS = COVENANT.downBitsPerS * scale;
  return { up: formatRate(upBitsPerS), down: formatRate(downBitsPerS), upBitsPerS, downBitsPerS };
}

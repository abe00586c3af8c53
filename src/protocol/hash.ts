// Run identity: the sha256 of the canonical JSON of the RunConfig. It is the payload's model hash, so
// payloads of another run (or another model shape, codec, schedule, ...) are refused on decode.
import { createHash } from 'node:crypto';
import { PROTOCOL_VERSION } from './keys.js';
import type { RunConfig } from './run.js';

/** JSON with object keys sorted at every level and undefined fields dropped (same bytes on every node). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new RangeError(`canonicalJson: ${value} has no JSON form`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const parts = Object.keys(obj).sort().filter((k) => obj[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`);
  return `{${parts.join(',')}}`;
}

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** 64 lowercase hex digits identifying a run: every node of one run computes the same value. */
export function runHash(run: RunConfig): string {
  return sha256Hex(`tessera/run/v${PROTOCOL_VERSION}\n${canonicalJson(run)}`);
}

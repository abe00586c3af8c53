// The small JSON objects of the protocol (leader → everyone): the start record, the peer list, the
// aggregate record that says exactly which payloads were applied, the checkpoint pointer and a
// miner's parameter probe. Parsing treats the bytes as untrusted: it returns {ok:false, reason}.

const FORMAT = 'tessera';
const HEX64 = /^[0-9a-f]{64}$/;
/** Largest record we parse (a peer list of thousands of uids fits easily). */
export const MAX_RECORD_BYTES = 1 << 20;

/** Where the run starts: the first window and the fingerprint of the model seeded from RunConfig.seed. */
export interface StartRecord {
  kind: 'start';
  window: number;
  runHash: string;
  fingerprint: string;
  /** sha256 of the run manifest bytes (keys.runManifest) the run was started with; absent in older runs. */
  manifest?: string;
}

/** Which run a validator's bucket serves (keys.currentRun): how a node that knows only the chain finds the run. */
export interface RunPointer {
  kind: 'run';
  runId: string;
  runHash: string;
  /** sha256 of the bytes at keys.runManifest(runId). */
  manifest: string;
}

/** Which uids the leader aggregates in window W (best by score) and the reserves that fill failed slots. */
export interface PeerList {
  kind: 'peers';
  window: number;
  peers: number[];
  reserves: number[];
}

/** Exactly what the leader applied in window W: θ_after = θ_before − α·aggregate(payloads of uids). */
export interface AggregateRecord {
  kind: 'aggregate';
  window: number;
  /** Ascending: the aggregation order. */
  uids: number[];
  /** sha256 (hex) of each applied payload's bytes, as stored, in the order of uids. */
  payloadSha256: string[];
  /** Fingerprints (compress/fingerprint) of the parameters before and after. */
  fingerprintBefore: string;
  fingerprintAfter: string;
}

/** Pointer to the newest checkpoint: the model at the START of `window`. */
export interface CheckpointPointer {
  kind: 'checkpoint';
  window: number;
  key: string;
  sha256: string;
  fingerprint: string;
}

/** A miner's model after applying window W: its fingerprint and the values at probeIndices(W). */
export interface ProbeRecord {
  kind: 'probe';
  window: number;
  uid: number;
  fingerprint: string;
  values: number[];
}

export type ProtocolRecord = StartRecord | RunPointer | PeerList | AggregateRecord | CheckpointPointer | ProbeRecord;
type Kind = ProtocolRecord['kind'];
type Of<K extends Kind> = Extract<ProtocolRecord, { kind: K }>;
export type ParseResult<T> = { ok: true; value: T } | { ok: false; reason: 'too_large' | 'not_json' | 'bad_record'; detail: string };

export function encodeRecord(r: ProtocolRecord): Uint8Array {
  const err = checkers[r.kind](r as never);
  if (err !== null) throw new RangeError(`encodeRecord: ${r.kind} record ${err}`);
  return new TextEncoder().encode(JSON.stringify({ format: FORMAT, v: 1, ...r }));
}

/** Parses a record of the expected kind; never throws. */
export function parseRecord<K extends Kind>(bytes: Uint8Array, kind: K): ParseResult<Of<K>> {
  if (bytes.length > MAX_RECORD_BYTES) return { ok: false, reason: 'too_large', detail: `${bytes.length} bytes, limit ${MAX_RECORD_BYTES}` };
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    return { ok: false, reason: 'not_json', detail: (e as Error).message };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return bad('not a JSON object');
  const { format, v, ...rest } = raw as Record<string, unknown>;
  if (format !== FORMAT || v !== 1) return bad(`format ${String(format)} v${String(v)}, expected ${FORMAT} v1`);
  if (rest.kind !== kind) return bad(`kind ${String(rest.kind)}, expected ${kind}`);
  const err = checkers[kind](rest as never);
  return err === null ? { ok: true, value: rest as unknown as Of<K> } : bad(err);
}

const bad = (detail: string): { ok: false; reason: 'bad_record'; detail: string } => ({ ok: false, reason: 'bad_record', detail });
const nat = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;
const hex = (v: unknown): boolean => typeof v === 'string' && HEX64.test(v);
const natList = (v: unknown): boolean => Array.isArray(v) && v.every(nat);
const ascending = (v: number[]): boolean => v.every((x, i) => i === 0 || x > v[i - 1]!);

function fields(r: Record<string, unknown>, allowed: string[]): string | null {
  for (const k of Object.keys(r)) if (!allowed.includes(k)) return `has unknown field '${k}'`;
  return null;
}

const checkers: { [K in Kind]: (r: Of<K> & Record<string, unknown>) => string | null } = {
  start: (r) => fields(r, ['kind', 'window', 'runHash', 'fingerprint', 'manifest'])
    ?? (!nat(r.window) ? 'window is not an integer ≥ 0' : !hex(r.runHash) || !hex(r.fingerprint) ? 'runHash/fingerprint must be 64 hex digits'
      : r.manifest !== undefined && !hex(r.manifest) ? 'manifest must be 64 hex digits' : null),
  run: (r) => fields(r, ['kind', 'runId', 'runHash', 'manifest'])
    ?? (typeof r.runId !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(r.runId) ? 'runId malformed' : !hex(r.runHash) || !hex(r.manifest) ? 'runHash/manifest must be 64 hex digits' : null),
  peers: (r) => fields(r, ['kind', 'window', 'peers', 'reserves'])
    ?? (!nat(r.window) ? 'window is not an integer ≥ 0' : !natList(r.peers) || !natList(r.reserves) ? 'peers/reserves must be uid lists'
      : new Set([...r.peers, ...r.reserves]).size !== r.peers.length + r.reserves.length ? 'lists a uid twice' : null),
  aggregate: (r) => fields(r, ['kind', 'window', 'uids', 'payloadSha256', 'fingerprintBefore', 'fingerprintAfter'])
    ?? (!nat(r.window) ? 'window is not an integer ≥ 0'
      : !natList(r.uids) || !ascending(r.uids) ? 'uids must be strictly ascending integers'
        : !Array.isArray(r.payloadSha256) || r.payloadSha256.length !== r.uids.length || !r.payloadSha256.every(hex) ? 'payloadSha256 must hold one sha256 per uid'
          : !hex(r.fingerprintBefore) || !hex(r.fingerprintAfter) ? 'fingerprints must be 64 hex digits' : null),
  checkpoint: (r) => fields(r, ['kind', 'window', 'key', 'sha256', 'fingerprint'])
    ?? (!nat(r.window) ? 'window is not an integer ≥ 0' : typeof r.key !== 'string' || r.key.length > 1024 ? 'key must be a string'
      : !hex(r.sha256) || !hex(r.fingerprint) ? 'sha256/fingerprint must be 64 hex digits' : null),
  probe: (r) => fields(r, ['kind', 'window', 'uid', 'fingerprint', 'values'])
    ?? (!nat(r.window) || !nat(r.uid) ? 'window/uid must be integers ≥ 0' : !hex(r.fingerprint) ? 'fingerprint must be 64 hex digits'
      : !Array.isArray(r.values) || r.values.length > 65536 || !r.values.every((x) => typeof x === 'number' && Number.isFinite(x)) ? 'values must be finite numbers' : null),
};

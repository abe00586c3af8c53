// Pipeline groups in the live network (docs/hetero.md "Groups in the network"). Every stage of a
// group is a registered uid with its own hotkey and bucket. A group is declared by a group record
// (GroupRecord) that every member publishes in its own bucket at groupKey(runId): the members'
// hotkeys in stage order and the boundary codec. A group counts (declaredGroups) only when every
// member is registered and every member's bucket holds the same record. Stage s trains the layers
// splitLayers(L, S)[s] (stage 0 the embedding, the last stage the final norm and output) and uploads
// a partial payload (compress/wire.ts flag bit 1) that holds exactly those tensors.
//
// The aggregate needs no group knowledge: a stage payload is a sender of the tensors it holds
// (SparseUpdate.held). The Gauntlet reads the records: it scores a group as one contributor (the
// merged update of its stages, on the data assigned to its first stage's uid) and splits the group's
// weight among its stages by the parameters each trains (groupShares).
import type { SparseTensor, SparseUpdate } from '../compress/index.js';
import type { ParamSpec } from '../model/params.js';
import type { Metagraph } from '../chain/index.js';
import { runPrefix } from '../protocol/keys.js';
import { TesseraError } from '../util/errors.js';
import type { ActivationKind } from './activations.js';
import { splitLayers, stageSpecs } from './stages.js';

/** A stage node's part of its NodeConfig. */
export interface PipelineConfig {
  /** Group name: letters, digits, - (the key of its stage addresses and of its activation codec's seed). */
  group: string;
  /** This node's stage (index into members). */
  stage: number;
  /** Every member's hotkey (SS58), in stage order. */
  members: string[];
  /** Boundary compression (docs/hetero.md). */
  codec: ActivationKind;
  /** Subspace rank k (subspace codec only). */
  rank: number;
  /** Micro-batches per inner step (divides run.batch). */
  micro: number;
  /** Address this stage listens on and publishes for its predecessor (default 127.0.0.1; on network hosts, its host's address). */
  host?: string;
}

export interface GroupRecord {
  format: 'tessera-group';
  version: 1;
  group: string;
  members: string[];
  codec: ActivationKind;
  rank: number;
  micro: number;
}

export const MAX_GROUP_RECORD_BYTES = 16_384;
export const MAX_STAGES = 16;

export const groupKey = (runId: string): string => `${runPrefix(runId)}/pipeline/group.json`;

export function groupRecordOf(p: PipelineConfig): GroupRecord {
  return { format: 'tessera-group', version: 1, group: p.group, members: [...p.members], codec: p.codec, rank: p.rank, micro: p.micro };
}

/** Checks a stage node's pipeline config against the model; throws a TesseraError that says what to fix. */
export function checkPipeline(p: PipelineConfig, nLayers: number, batch: number, overlap: boolean): void {
  const S = p.members.length;
  if (!/^[A-Za-z0-9-]{1,32}$/.test(p.group)) throw new TesseraError(`pipeline: group name '${p.group}' must be 1–32 letters, digits or -`);
  if (S < 2 || S > MAX_STAGES) throw new TesseraError(`pipeline: a group needs 2..${MAX_STAGES} stages, got ${S}`);
  if (new Set(p.members).size !== S) throw new TesseraError('pipeline: a hotkey is listed twice among the members');
  if (!Number.isInteger(p.stage) || p.stage < 0 || p.stage >= S) throw new TesseraError(`pipeline: stage ${p.stage} outside 0..${S - 1}`);
  if (S > nLayers) throw new TesseraError(`pipeline: ${S} stages for a model of ${nLayers} layers`, `use at most ${nLayers} stages`);
  if (!Number.isInteger(p.micro) || p.micro < 1 || batch % p.micro !== 0) throw new TesseraError(`pipeline: ${p.micro} micro-batches do not divide the batch of ${batch}`);
  // With overlap a stage trains from θ less its own estimate of the aggregate it has not applied yet; the stages'
  // estimates differ (each knows only its own update), so their fixed tables F (from the embedding) would differ.
  if (p.codec === 'subspace' && overlap) throw new TesseraError('pipeline: the subspace codec needs every stage to start a window from the same θ, which overlap does not give', 'use --stage-codec int8 (or dense), or a run without overlap');
}

/** Indices (into the layout's specs) of the tensors stage s of S trains, ascending. */
export function stageTensorIndices(specs: readonly ParamSpec[], nLayers: number, S: number, s: number): number[] {
  const index = new Map(specs.map((p, i) => [p.name, i]));
  return stageSpecs(specs, splitLayers(nLayers, S), s).map((p) => index.get(p.name)!).sort((a, b) => a - b);
}

/** Reward shares of a group's stages: each stage's parameter count over the model's (they sum to 1). */
export function groupShares(specs: readonly ParamSpec[], nLayers: number, S: number): number[] {
  const sizes = Array.from({ length: S }, (_, s) => stageTensorIndices(specs, nLayers, S, s).reduce((a, i) => a + specs[i]!.size, 0));
  const total = sizes.reduce((a, b) => a + b, 0);
  return sizes.map((n) => n / total);
}

/** Parses a group record; null when it is not one. */
export function parseGroupRecord(bytes: Uint8Array): GroupRecord | null {
  try {
    const v = JSON.parse(new TextDecoder().decode(bytes)) as GroupRecord;
    const ok = v && v.format === 'tessera-group' && v.version === 1 && typeof v.group === 'string' && Array.isArray(v.members)
      && v.members.length >= 2 && v.members.length <= MAX_STAGES && v.members.every((m) => typeof m === 'string')
      && ['dense', 'subspace', 'int8'].includes(v.codec) && Number.isInteger(v.rank) && Number.isInteger(v.micro);
    return ok ? { format: v.format, version: 1, group: v.group, members: v.members, codec: v.codec, rank: v.rank, micro: v.micro } : null;
  } catch {
    return null;
  }
}

/** A group the network recognises: its member uids in stage order (members[0] is its lead). */
export interface DeclaredGroup {
  group: string;
  members: number[];
  /** Reward share of each member (groupShares). */
  shares: number[];
  /** Per member: the tensor indices its payload must hold. */
  tensors: number[][];
}

const sameRecord = (a: GroupRecord, b: GroupRecord): boolean =>
  a.group === b.group && a.codec === b.codec && a.rank === b.rank && a.micro === b.micro && a.members.length === b.members.length && a.members.every((m, i) => m === b.members[i]);

/**
 * The declared groups among `records` (uid → the record in its bucket, or null): a group counts when
 * every member hotkey is registered under exactly one uid and every member's bucket holds the same
 * record. A uid is in at most one group (the first by lead uid; the others that claim it are ignored).
 */
export function declaredGroups(records: ReadonlyMap<number, GroupRecord | null>, m: Pick<Metagraph, 'uids' | 'hotkeys'>, specs: readonly ParamSpec[], nLayers: number): DeclaredGroup[] {
  const uidOf = new Map<string, number>();
  m.hotkeys.forEach((h, i) => uidOf.set(h, m.uids[i]!));
  const out: DeclaredGroup[] = [], taken = new Set<number>();
  const candidates = [...records].filter(([, r]) => r !== null).sort(([a], [b]) => a - b);
  for (const [uid, r] of candidates) {
    if (taken.has(uid)) continue;
    const members = r!.members.map((h) => uidOf.get(h));
    if (members[0] !== uid || members.some((u) => u === undefined || taken.has(u)) || new Set(members).size !== members.length) continue;
    if (!members.every((u) => { const o = records.get(u!); return o !== undefined && o !== null && sameRecord(o, r!); })) continue;
    const S = members.length;
    if (S > nLayers) continue;
    for (const u of members) taken.add(u!);
    out.push({ group: r!.group, members: members as number[], shares: groupShares(specs, nLayers, S), tensors: Array.from({ length: S }, (_, s) => stageTensorIndices(specs, nLayers, S, s)) });
  }
  return out;
}

/** Whether an update holds exactly these tensors (and no others). */
export function holdsExactly(u: SparseUpdate, tensors: readonly number[]): boolean {
  const want = new Set(tensors);
  return u.tensors.every((_, t) => (u.held ? u.held[t]! : true) === want.has(t));
}

const EMPTY: SparseTensor = { idx: new Uint16Array(0), codes: new Uint8Array(0), table: new Float32Array(4) };

/** One update from stage updates (each holding its own tensors); `held` marks what they hold together. Two holders of a tensor are refused. */
export function mergeHeld(parts: readonly SparseUpdate[], T: number): SparseUpdate {
  const tensors: SparseTensor[] = Array.from({ length: T }, () => EMPTY);
  const held = new Array<boolean>(T).fill(false);
  for (const p of parts) {
    if (p.tensors.length !== T) throw new TesseraError(`mergeHeld: an update of ${p.tensors.length} tensors, the layout has ${T}`);
    p.tensors.forEach((x, t) => {
      if (p.held && !p.held[t]) return;
      if (held[t]) throw new TesseraError(`mergeHeld: tensor ${t} is held by two stages`);
      held[t] = true;
      tensors[t] = x;
    });
  }
  return held.every(Boolean) ? { tensors } : { tensors, held };
}

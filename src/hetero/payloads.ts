// SparseLoCo per stage (docs/hetero.md "Payloads"): each stage of a group encodes only its own
// tensors — its pseudo-gradient slice with its own error feedback, the same per-tensor codec a full
// replica runs (chunked top-k, 2-bit) — and the group's stage payloads are merged into one sender
// that holds the union of their tensors. The aggregate averages every coordinate over the senders
// that hold it (compress/aggregate.ts, SparseUpdate.held): a full replica holds everything, a group
// whose stage dropped out holds what its remaining stages sent. Because the codec works tensor by
// tensor, a complete group's merged payload is bit-identical to what one process holding the whole
// replica would have encoded.
import { compress, type CodecConfig, type SparseTensor, type SparseUpdate } from '../compress/index.js';
import type { ParamSpec } from '../model/params.js';
import { TesseraError } from '../util/errors.js';

export interface StagePayload {
  /** Stage index in its group. */
  stage: number;
  /** Indices (into the full layout's specs) of the tensors this payload encodes, ascending. */
  tensors: number[];
  update: SparseUpdate;
}

/** Encodes stage `stage`'s tensors of `delta` with its error feedback `ef` (updated in place for those tensors only). */
export function encodeStage(stage: number, delta: Float32Array, ef: Float32Array, specs: readonly ParamSpec[],
  mine: readonly ParamSpec[], cfg: CodecConfig): StagePayload {
  const index = new Map(specs.map((p, i) => [p.name, i]));
  const tensors = mine.map((p) => {
    const i = index.get(p.name);
    if (i === undefined) throw new TesseraError(`stage ${stage}: tensor ${p.name} is not in the model layout`);
    return i;
  });
  for (let j = 1; j < tensors.length; j++) if (tensors[j]! <= tensors[j - 1]!) throw new TesseraError(`stage ${stage}: tensors must be listed in layout order`);
  return { stage, tensors, update: compress(delta, ef, mine, cfg) };
}

const EMPTY: SparseTensor = { idx: new Uint16Array(0), codes: new Uint8Array(0), table: new Float32Array(4) };

/**
 * One sender from a group's stage payloads (any subset, e.g. after a stage dropped out): T tensors
 * in layout order, `held` marking those some stage sent. Two stages claiming one tensor is refused.
 */
export function mergeStagePayloads(parts: readonly StagePayload[], T: number): SparseUpdate {
  const tensors: SparseTensor[] = Array.from({ length: T }, () => EMPTY);
  const held = new Array<boolean>(T).fill(false);
  for (const p of parts) {
    if (p.update.tensors.length !== p.tensors.length) throw new TesseraError(`stage ${p.stage}: payload has ${p.update.tensors.length} tensors but names ${p.tensors.length}`);
    p.tensors.forEach((t, j) => {
      if (!Number.isInteger(t) || t < 0 || t >= T) throw new TesseraError(`stage ${p.stage}: tensor index ${t} outside the layout (${T} tensors)`);
      if (held[t]) throw new TesseraError(`tensor ${t} is claimed by two stages of one group`);
      held[t] = true;
      tensors[t] = p.update.tensors[j]!;
    });
  }
  return held.every(Boolean) ? { tensors } : { tensors, held };
}

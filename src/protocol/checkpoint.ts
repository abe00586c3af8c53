// The leader's checkpoint object (keys.checkpoint): the model at the START of a window as safetensors
// (LLaMA names, F32) with a JSON meta string {format, window, runHash, fingerprint} in __metadata__.
// Decoding checks names, shapes, the run hash and the fingerprint; it returns a value, never throws.
import { fingerprint } from '../compress/index.js';
import type { ParamLayout } from '../model/index.js';
import { parseSafetensors, serializeSafetensors, type Tensor } from '../util/safetensors.js';

export const CHECKPOINT_OBJECT_FORMAT = 'tessera-network-checkpoint';

export interface CheckpointObjectMeta {
  format: typeof CHECKPOINT_OBJECT_FORMAT;
  version: 1;
  /** The parameters are the model at the start of this window (after the aggregates of windows < it). */
  window: number;
  runHash: string;
  fingerprint: string;
}

export function encodeCheckpoint(layout: ParamLayout, params: Float32Array, window: number, runHashHex: string): Uint8Array {
  const tensors: Record<string, Tensor> = {};
  for (const s of layout.specs) tensors[s.name] = { dtype: 'F32', shape: [...s.shape], data: params.subarray(s.offset, s.offset + s.size) };
  const meta: CheckpointObjectMeta = { format: CHECKPOINT_OBJECT_FORMAT, version: 1, window, runHash: runHashHex, fingerprint: fingerprint(params) };
  return serializeSafetensors(tensors, { tessera: JSON.stringify(meta) });
}

export type CheckpointDecode = { ok: true; params: Float32Array; meta: CheckpointObjectMeta } | { ok: false; reason: string };

export function decodeCheckpoint(bytes: Uint8Array, layout: ParamLayout, runHashHex: string): CheckpointDecode {
  let meta: CheckpointObjectMeta;
  const params = new Float32Array(layout.total);
  try {
    const st = parseSafetensors(bytes, 'checkpoint');
    meta = JSON.parse(st.metadata.tessera ?? 'null') as CheckpointObjectMeta;
    if (meta?.format !== CHECKPOINT_OBJECT_FORMAT || meta.version !== 1 || !Number.isSafeInteger(meta.window)) return { ok: false, reason: 'not a tessera network checkpoint' };
    if (meta.runHash !== runHashHex) return { ok: false, reason: `made by run ${String(meta.runHash).slice(0, 12)}…, not this run` };
    if (Object.keys(st.tensors).length !== layout.specs.length) return { ok: false, reason: `holds ${Object.keys(st.tensors).length} tensors, the model ${layout.specs.length}` };
    for (const s of layout.specs) {
      const t = st.tensors[s.name];
      if (!t || t.dtype !== 'F32' || t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i])) return { ok: false, reason: `tensor ${s.name} missing or of another shape` };
      params.set(t.data as Float32Array, s.offset);
    }
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
  if (fingerprint(params) !== meta.fingerprint) return { ok: false, reason: 'fingerprint does not match the weights' };
  return { ok: true, params, meta };
}

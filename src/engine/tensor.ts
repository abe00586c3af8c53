// Tensors (a Float32Array + shape + optional gradient) and the buffer pool that keeps hot loops
// free of allocation churn: every activation and activation-gradient of a step is taken from the
// pool and handed back in one call when the step is done.

export type Shape = readonly number[];

export const numel = (shape: Shape): number => shape.reduce((a, b) => a * b, 1);

/** Recycles Float32Arrays by length. take() returns a buffer with unspecified contents. */
export class BufferPool {
  private free = new Map<number, Float32Array[]>();
  private used: Float32Array[] = [];

  take(n: number): Float32Array {
    const list = this.free.get(n);
    const buf = list && list.length > 0 ? list.pop()! : new Float32Array(n);
    this.used.push(buf);
    return buf;
  }

  takeZeroed(n: number): Float32Array {
    return this.take(n).fill(0);
  }

  /** Returns every buffer handed out since the last releaseAll() to the pool. */
  releaseAll(): void {
    for (const buf of this.used) {
      let list = this.free.get(buf.length);
      if (!list) this.free.set(buf.length, (list = []));
      list.push(buf);
    }
    this.used = [];
  }

  /** Bytes held by the pool (free + in use). */
  bytes(): number {
    let n = 0;
    for (const list of this.free.values()) for (const b of list) n += b.byteLength;
    for (const b of this.used) n += b.byteLength;
    return n;
  }
}

export class Tensor {
  /** Gradient buffer; for parameters a view into the flat gradient, for activations pooled. */
  grad: Float32Array | null = null;

  constructor(
    readonly data: Float32Array,
    readonly shape: Shape,
    /** True when gradients flow to this tensor (parameters, and anything computed from them). */
    readonly requiresGrad = false,
  ) {
    if (data.length !== numel(shape)) {
      throw new Error(`tensor data has ${data.length} values but shape [${shape.join(', ')}] needs ${numel(shape)}`);
    }
  }

  get size(): number {
    return this.data.length;
  }
}

/** A tensor that owns a gradient buffer from the start (a parameter view into flat params/grads). */
export function parameter(data: Float32Array, grad: Float32Array, shape: Shape): Tensor {
  const t = new Tensor(data, shape, true);
  t.grad = grad;
  return t;
}

// Reverse-mode autograd over a tape. Every differentiable operation is one entry of OPS: a forward
// that computes its output through the Backend and records what it needs, and a backward that
// turns the output's gradient into its inputs' gradients. Graph owns the tape and the buffer pool.
import type { Backend, I32 } from './backend.js';
import { BufferPool, Tensor, numel, type Shape } from './tensor.js';

interface Node {
  op: OpDef;
  inputs: Tensor[];
  out: Tensor;
  saved: Saved;
}
type Saved = { [key: string]: unknown };
interface OpDef {
  backward(g: Graph, node: Node, dout: Float32Array): void;
}

export class Graph {
  private tape: Node[] = [];
  readonly pool = new BufferPool();

  /** recording=false runs forward only (inference): nothing is taped, no gradients. */
  constructor(readonly be: Backend, public recording = true) {}

  /** A pooled output tensor; it carries gradients when any input does and we are recording. */
  out(shape: Shape, inputs: Tensor[]): Tensor {
    const rg = this.recording && inputs.some((t) => t.requiresGrad);
    return new Tensor(this.pool.take(numel(shape)), shape, rg);
  }

  record(op: OpDef, inputs: Tensor[], out: Tensor, saved: Saved = {}): Tensor {
    if (out.requiresGrad) this.tape.push({ op, inputs, out, saved });
    return out;
  }

  /** Backpropagates from a scalar: seeds d(loss)=1 and walks the tape in reverse creation order. */
  backward(loss: Tensor): void {
    if (loss.size !== 1) throw new Error('backward() needs a scalar loss');
    this.backwardFrom(loss, this.pool.take(1).fill(1));
  }

  /** Backpropagates a given output gradient (same size as `out`) through the tape. */
  backwardFrom(out: Tensor, grad: Float32Array): void {
    if (!out.requiresGrad) throw new Error('backward(): the output does not depend on any parameter');
    if (grad.length !== out.size) throw new Error('backward(): gradient size differs from the output');
    out.grad = grad;
    for (let i = this.tape.length - 1; i >= 0; i--) {
      const node = this.tape[i]!;
      if (node.out.grad) node.op.backward(this, node, node.out.grad);
    }
    this.tape = [];
  }

  /** Ends a step: forgets the tape and returns every pooled buffer (parameters are not pooled). */
  reset(): void {
    this.tape = [];
    this.pool.releaseAll();
  }

  /**
   * Where a backward writes t's gradient. fresh: t has no gradient yet and the kernel should
   * overwrite `buf` (which becomes t.grad). Not fresh: `buf` is t.grad and the kernel must add.
   */
  gradOf(t: Tensor): { buf: Float32Array; fresh: boolean } {
    if (t.grad) return { buf: t.grad, fresh: false };
    t.grad = this.pool.take(t.size);
    return { buf: t.grad, fresh: true };
  }

  /** t's gradient, created zero-filled if absent, for kernels that only accumulate. */
  accGrad(t: Tensor): Float32Array {
    if (!t.grad) t.grad = this.pool.takeZeroed(t.size);
    return t.grad;
  }

  /** For overwrite-only kernels: runs write(dst) and folds dst into t's gradient. */
  writeGrad(t: Tensor, write: (dst: Float32Array) => void): void {
    if (!t.requiresGrad) return;
    const { buf, fresh } = this.gradOf(t);
    if (fresh) return write(buf);
    const tmp = this.pool.take(t.size);
    write(tmp);
    this.be.add(buf, tmp, buf, t.size);
  }

  /** Gives t the gradient buffer `g` itself when t has none (pass-through ops); else adds. */
  passGrad(t: Tensor, g: Float32Array): void {
    if (!t.requiresGrad) return;
    if (!t.grad) t.grad = g;
    else this.be.add(t.grad, g, t.grad, t.size);
  }
}

// ---- the op table -----------------------------------------------------------------------------

const OPS = {
  embedding: {
    backward(g, { inputs: [table], saved }, dout) {
      const ids = saved.ids as I32;
      if (table!.requiresGrad) g.be.embeddingBackward(dout, ids, g.accGrad(table!), ids.length, table!.shape[1]!);
    },
  },
  // x [n×in] · W[out×in]^T → [n×out]
  linear: {
    backward(g, { inputs: [x, w] }, dout) {
      const [n, inF] = x!.shape as [number, number];
      const outF = w!.shape[0]!;
      if (x!.requiresGrad) {
        const { buf, fresh } = g.gradOf(x!);
        g.be.matmul(dout, w!.data, buf, n, inF, outF, false, false, !fresh);
      }
      if (w!.requiresGrad) {
        const { buf, fresh } = g.gradOf(w!);
        g.be.matmul(dout, x!.data, buf, outF, inF, n, true, false, !fresh);
      }
    },
  },
  matmul: {
    backward(g, { inputs: [a, b], saved }, dout) {
      const { M, N, K, transA, transB, batch } = saved as { M: number; N: number; K: number; transA: boolean; transB: boolean; batch: number };
      // C = op(A)·op(B):  dA = dC·op(B)^T (stored per transA), dB = op(A)^T·dC (stored per transB)
      if (a!.requiresGrad) {
        const { buf, fresh } = g.gradOf(a!);
        if (!transA) g.be.matmul(dout, b!.data, buf, M, K, N, false, !transB, !fresh, batch, M * N, K * N, M * K);
        else g.be.matmul(b!.data, dout, buf, K, M, N, transB, true, !fresh, batch, K * N, M * N, M * K);
      }
      if (b!.requiresGrad) {
        const { buf, fresh } = g.gradOf(b!);
        if (!transB) g.be.matmul(a!.data, dout, buf, K, N, M, !transA, false, !fresh, batch, M * K, M * N, K * N);
        else g.be.matmul(dout, a!.data, buf, N, K, M, true, transA, !fresh, batch, M * N, M * K, K * N);
      }
    },
  },
  rmsnorm: {
    backward(g, { inputs: [x, w], saved }, dout) {
      const [rows, D] = x!.shape as [number, number];
      const rstd = saved.rstd as Float32Array;
      const dw = w!.requiresGrad ? g.accGrad(w!) : g.pool.takeZeroed(D);
      g.writeGrad(x!, (dx) => g.be.rmsnormBackward(dout, x!.data, w!.data, rstd, dx, dw, rows, D));
    },
  },
  rope: {
    backward(g, { inputs: [x], saved }, dout) {
      const { B, T, H, Dh, cos, sin } = saved as { B: number; T: number; H: number; Dh: number; cos: Float32Array; sin: Float32Array };
      g.writeGrad(x!, (dx) => g.be.rope(dout, dx, B, T, H, Dh, cos, sin, true));
    },
  },
  attention: {
    backward(g, { inputs: [q, k, v], out, saved }, dout) {
      const { B, T, H, KVH, Dh, lse } = saved as { B: number; T: number; H: number; KVH: number; Dh: number; lse: Float32Array };
      const dq = g.pool.take(q!.size), dk = g.pool.take(k!.size), dv = g.pool.take(v!.size);
      g.be.attentionBackward(dout, q!.data, k!.data, v!.data, out.data, lse, dq, dk, dv, B, T, H, KVH, Dh);
      g.passGrad(q!, dq);
      g.passGrad(k!, dk);
      g.passGrad(v!, dv);
    },
  },
  swiglu: {
    backward(g, { inputs: [gate, up] }, dout) {
      const dg = g.pool.take(gate!.size), du = g.pool.take(up!.size);
      g.be.swigluBackward(dout, gate!.data, up!.data, dg, du, gate!.size);
      g.passGrad(gate!, dg);
      g.passGrad(up!, du);
    },
  },
  add: {
    backward(g, { inputs: [a, b] }, dout) {
      g.passGrad(a!, dout);
      if (b!.requiresGrad) {
        // dout may now be a's gradient buffer, so b gets its own copy when a also needs it.
        if (a!.requiresGrad && !b!.grad) g.writeGrad(b!, (dst) => dst.set(dout));
        else g.passGrad(b!, dout);
      }
    },
  },
  scale: {
    backward(g, { inputs: [a], saved }, dout) {
      g.writeGrad(a!, (dst) => g.be.scale(dout, saved.s as number, dst, a!.size));
    },
  },
  crossEntropy: {
    backward(g, { inputs: [logits], saved }, dout) {
      const [N, V] = logits!.shape as [number, number];
      const targets = saved.targets as I32;
      const scale = dout[0]! / (saved.count as number);
      // The gradient overwrites the logits in place when allowed: they are dead after this op.
      if (saved.inplace && !logits!.grad) {
        g.be.crossEntropyBackward(logits!.data, targets, logits!.data, N, V, scale);
        logits!.grad = logits!.data;
      } else g.writeGrad(logits!, (dst) => g.be.crossEntropyBackward(logits!.data, targets, dst, N, V, scale));
    },
  },
} satisfies Record<string, OpDef>;

// ---- forward functions (the public ops) ------------------------------------------------------

/** Rows of `table` [V×D] at `ids` → [n×D]. */
export function embedding(g: Graph, table: Tensor, ids: I32): Tensor {
  const D = table.shape[1]!;
  const out = g.out([ids.length, D], [table]);
  g.be.embeddingForward(table.data, ids, out.data, ids.length, D);
  return g.record(OPS.embedding, [table], out, { ids });
}

/** x [n×in] · W^T with W [out×in] (PyTorch Linear layout) → [n×out]. */
export function linear(g: Graph, x: Tensor, w: Tensor): Tensor {
  const [n, inF] = x.shape as [number, number];
  const [outF, wIn] = w.shape as [number, number];
  if (wIn !== inF) throw new Error(`linear: x has ${inF} features, weight expects ${wIn}`);
  const out = g.out([n, outF], [x, w]);
  g.be.matmul(x.data, w.data, out.data, n, outF, inF, false, true, false);
  return g.record(OPS.linear, [x, w], out);
}

/** Batched op(A)·op(B): a [batch×(M×K or K×M)], b [batch×(K×N or N×K)] → [batch×M×N]. */
export function matmul(g: Graph, a: Tensor, b: Tensor, M: number, N: number, K: number,
  opts: { transA?: boolean; transB?: boolean; batch?: number } = {}): Tensor {
  const { transA = false, transB = false, batch = 1 } = opts;
  if (a.size !== batch * M * K || b.size !== batch * K * N) throw new Error('matmul: operand sizes do not match M, N, K, batch');
  const out = g.out(batch === 1 ? [M, N] : [batch, M, N], [a, b]);
  g.be.matmul(a.data, b.data, out.data, M, N, K, transA, transB, false, batch, M * K, K * N, M * N);
  return g.record(OPS.matmul, [a, b], out, { M, N, K, transA, transB, batch });
}

export function rmsnorm(g: Graph, x: Tensor, w: Tensor, eps: number): Tensor {
  const [rows, D] = x.shape as [number, number];
  const out = g.out(x.shape, [x, w]);
  const rstd = g.pool.take(rows);
  g.be.rmsnormForward(x.data, w.data, out.data, rstd, rows, D, eps);
  return g.record(OPS.rmsnorm, [x, w], out, { rstd });
}

/** Rotary embedding on x viewed as [B×T×H×Dh] with tables cos/sin [Tmax×Dh/2]. */
export function rope(g: Graph, x: Tensor, B: number, T: number, H: number, Dh: number, cos: Float32Array, sin: Float32Array): Tensor {
  const out = g.out(x.shape, [x]);
  g.be.rope(x.data, out.data, B, T, H, Dh, cos, sin, false);
  return g.record(OPS.rope, [x], out, { B, T, H, Dh, cos, sin });
}

/** Causal GQA attention; q [B·T × H·Dh], k, v [B·T × KVH·Dh] → [B·T × H·Dh]. */
export function attention(g: Graph, q: Tensor, k: Tensor, v: Tensor, B: number, T: number, H: number, KVH: number, Dh: number): Tensor {
  const out = g.out(q.shape, [q, k, v]);
  const lse = g.pool.take(B * H * T);
  g.be.attentionForward(q.data, k.data, v.data, out.data, lse, B, T, H, KVH, Dh);
  return g.record(OPS.attention, [q, k, v], out, { B, T, H, KVH, Dh, lse });
}

export function swiglu(g: Graph, gate: Tensor, up: Tensor): Tensor {
  const out = g.out(gate.shape, [gate, up]);
  g.be.swigluForward(gate.data, up.data, out.data, gate.size);
  return g.record(OPS.swiglu, [gate, up], out);
}

export function add(g: Graph, a: Tensor, b: Tensor): Tensor {
  if (a.size !== b.size) throw new Error('add: sizes differ');
  const out = g.out(a.shape, [a, b]);
  g.be.add(a.data, b.data, out.data, a.size);
  return g.record(OPS.add, [a, b], out);
}

export function scale(g: Graph, a: Tensor, s: number): Tensor {
  const out = g.out(a.shape, [a]);
  g.be.scale(a.data, s, out.data, a.size);
  return g.record(OPS.scale, [a], out, { s });
}

/**
 * Mean cross-entropy of logits [N×V] against targets (targets < 0 ignored) → scalar.
 * inplace: the backward may overwrite the logits with their gradient (saves N×V floats).
 */
export function crossEntropy(g: Graph, logits: Tensor, targets: I32, inplace = false): Tensor {
  const [N, V] = logits.shape as [number, number];
  const losses = g.pool.take(N);
  const sum = g.be.crossEntropyForward(logits.data, targets, losses, N, V);
  let count = 0;
  for (let i = 0; i < N; i++) if (targets[i]! >= 0) count++;
  const out = g.out([1], [logits]);
  out.data[0] = count > 0 ? sum / count : 0;
  return g.record(OPS.crossEntropy, [logits], out, { targets, count: Math.max(count, 1), inplace });
}

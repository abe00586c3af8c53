// Autograd plumbing: each op's backward through the tape (transpose flags, batching, a tensor used
// twice, pass-through aliasing) against float64 gradients, on both backends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, add, linear, matmul, scale, swiglu } from './autograd.js';
import { Tensor } from './tensor.js';
import { referenceBackend } from './reference/index.js';
import { nativeBackend } from './native.js';
import type { Backend } from './backend.js';
import { makeRng } from '../util/rng.js';

const rng = makeRng('autograd-test');
const rand = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
const leaf = (shape: number[]) => new Tensor(rand(shape.reduce((a, b) => a * b, 1)), shape, true);

/** float64 op(X)[i][j] for X stored rows×cols (transposed read when t). */
const at = (x: Float32Array, off: number, cols: number, t: boolean, i: number, j: number, rowsOp: number) =>
  t ? x[off + j * rowsOp + i]! : x[off + i * cols + j]!;

function close(a: Float32Array, b: Float64Array, what: string): void {
  let scaleMax = 1e-12;
  for (const v of b) scaleMax = Math.max(scaleMax, Math.abs(v));
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= 1e-4 * scaleMax, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

function backends(): Backend[] {
  const n = nativeBackend();
  return n ? [referenceBackend, n] : [referenceBackend];
}

for (const be of backends()) {
  test(`${be.name}: matmul backward for all transpose flags, batched`, () => {
    for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      const M = 5, N = 7, K = 3, batch = 2;
      const a = leaf([batch, M * K]), b = leaf([batch, K * N]);
      const g = new Graph(be);
      const c = matmul(g, a, b, M, N, K, { transA: tA, transB: tB, batch });
      const dc = rand(c.size);
      g.backwardFrom(c, dc.slice());
      // dop(A)[i][k] = Σ_j dC[i][j] op(B)[k][j];  dop(B)[k][j] = Σ_i op(A)[i][k] dC[i][j]
      const da = new Float64Array(a.size), db = new Float64Array(b.size);
      for (let z = 0; z < batch; z++) {
        for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) {
          const gij = dc[z * M * N + i * N + j]!;
          const aIdx = z * M * K + (tA ? k * M + i : i * K + k);
          const bIdx = z * K * N + (tB ? j * K + k : k * N + j);
          da[aIdx]! += gij * at(b.data, z * K * N, N, tB, k, j, K) * 1;
          db[bIdx]! += gij * at(a.data, z * M * K, K, tA, i, k, M);
        }
      }
      close(a.grad!, da, `dA(tA=${tA},tB=${tB})`);
      close(b.grad!, db, `dB(tA=${tA},tB=${tB})`);
    }
  });

  test(`${be.name}: a tensor used twice accumulates; add(x, x) doubles; scale`, () => {
    const x = leaf([4, 6]), w1 = leaf([3, 6]), w2 = leaf([3, 6]);
    const g = new Graph(be);
    const y = add(g, linear(g, x, w1), linear(g, x, w2)); // y = x(w1+w2)^T
    const z = scale(g, add(g, y, y), 0.5); // = y
    const dz = rand(z.size);
    g.backwardFrom(z, dz.slice());
    const dx = new Float64Array(x.size);
    for (let n = 0; n < 4; n++) for (let i = 0; i < 6; i++) for (let o = 0; o < 3; o++) {
      dx[n * 6 + i]! += dz[n * 3 + o]! * (w1.data[o * 6 + i]! + w2.data[o * 6 + i]!);
    }
    close(x.grad!, dx, 'dx');
    const dw = new Float64Array(w1.size);
    for (let o = 0; o < 3; o++) for (let i = 0; i < 6; i++) for (let n = 0; n < 4; n++) dw[o * 6 + i]! += dz[n * 3 + o]! * x.data[n * 6 + i]!;
    close(w1.grad!, dw, 'dw1');
    close(w2.grad!, dw, 'dw2');
  });

  test(`${be.name}: inference graph records nothing; tensors without grad get none`, () => {
    const g = new Graph(be, false);
    const a = leaf([2, 3]), b = leaf([2, 3]);
    const s = swiglu(g, a, b);
    assert.equal(s.requiresGrad, false);
    const g2 = new Graph(be, true);
    const c = new Tensor(rand(6), [2, 3], false);
    const out = add(g2, a, c);
    g2.backwardFrom(out, rand(6));
    assert.equal(c.grad, null);
    assert.ok(a.grad);
  });
}

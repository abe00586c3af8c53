// Backend.matmul, reference and native, against a float64 triple loop: odd shapes and edge tiles,
// all transpose combinations, accumulate, batches with padded / zero (broadcast) strides, subarray views.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matmul as referenceMatmul } from './reference/matmul.js';
import { loadNativeAddon, nativeBackend } from './native.js';

type Matmul = (a: Float32Array, b: Float32Array, c: Float32Array, M: number, N: number, K: number,
  transA: boolean, transB: boolean, accumulate: boolean,
  batch: number, strideA: number, strideB: number, strideC: number) => void;

interface Case {
  M: number; N: number; K: number; tA: boolean; tB: boolean; acc: boolean;
  batch?: number; sA?: number; sB?: number; sC?: number;
  offset?: number;  // operands are subarray views starting this many floats into a larger buffer
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function view(n: number, offset: number, rand: () => number): Float32Array {
  const buf = new Float32Array(offset + n + 3);
  for (let i = 0; i < buf.length; i++) buf[i] = rand() * 2 - 1;
  return buf.subarray(offset, offset + n);
}

/** Runs one case through `mm` and checks every element of C (and that the rest of the buffers is untouched). */
function check(mm: Matmul, cs: Case, seed: number): void {
  const { M, N, K, tA, tB, acc } = cs;
  const batch = cs.batch ?? 1, sA = cs.sA ?? M * K, sB = cs.sB ?? K * N, sC = cs.sC ?? M * N;
  const rand = rng(seed);
  const len = (s: number, size: number) => (batch - 1) * s + size;
  const a = view(len(sA, M * K), cs.offset ?? 0, rand);
  const b = view(len(sB, K * N), cs.offset ?? 0, rand);
  const c = view(len(sC, M * N), cs.offset ?? 0, rand);
  const cBuf = new Float32Array(c.buffer);
  const cBefore = cBuf.slice();

  // Float64 oracle, batches applied in order (so overlapping outputs see earlier results), with
  // per-element error bounds from Σ|a||b| (+|c| when accumulating).
  const want = Float64Array.from(c);
  const bound = new Float64Array(c.length);
  const A = (o: number, i: number, p: number) => a[o + (tA ? p * M + i : i * K + p)];
  const B = (o: number, p: number, j: number) => b[o + (tB ? j * K + p : p * N + j)];
  for (let n = 0; n < batch; n++) {
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0, mag = 0;
        for (let p = 0; p < K; p++) {
          const x = A(n * sA, i, p) * B(n * sB, p, j);
          s += x;
          mag += Math.abs(x);
        }
        const k = n * sC + i * N + j;
        bound[k] = (acc ? bound[k] + Math.abs(want[k]) : 0) + mag;
        want[k] = acc ? want[k] + s : s;
      }
    }
  }

  mm(a, b, c, M, N, K, tA, tB, acc, batch, sA, sB, sC);
  const name = JSON.stringify(cs);
  for (let k = 0; k < c.length; k++) {
    const err = Math.abs(c[k] - want[k]);
    if (!(err <= 1e-5 * bound[k] + 1e-30)) assert.fail(`${name}: C[${k}] = ${c[k]}, want ${want[k]} (bound ${bound[k]})`);
  }
  const off = cs.offset ?? 0;
  for (let k = 0; k < cBuf.length; k++) {
    if ((k < off || k >= off + c.length) && cBuf[k] !== cBefore[k]) assert.fail(`${name}: wrote outside C at ${k}`);
  }
}

const bools = [false, true];
function allModes(M: number, N: number, K: number, extra: Partial<Case> = {}): Case[] {
  return bools.flatMap((tA) => bools.flatMap((tB) => bools.map((acc) => ({ M, N, K, tA, tB, acc, ...extra }))));
}

// Small and odd shapes (edge tiles on every side), cheap enough for the reference backend too.
const small: Case[] = [
  ...[[1, 1, 1], [1, 7, 5], [5, 1, 7], [7, 5, 1], [13, 17, 33], [17, 33, 13], [33, 13, 17],
    [97, 5, 7], [5, 97, 13], [12, 32, 16], [25, 65, 9], [6, 16, 97]]
    .flatMap(([M, N, K]) => allModes(M, N, K)),
  ...allModes(7, 13, 5, { offset: 3 }),
  ...allModes(5, 7, 3, { batch: 3 }),
  ...allModes(5, 7, 3, { batch: 3, sA: 17, sB: 29, sC: 41, offset: 1 }),  // padded strides
  ...allModes(6, 5, 4, { batch: 4, sA: 0 }),                                // A broadcast
  ...allModes(6, 5, 4, { batch: 4, sB: 0 }),                                // B broadcast
  ...allModes(6, 5, 4, { batch: 3, sC: 0 }),                                // C shared: batches in order
  { M: 4, N: 3, K: 0, tA: false, tB: false, acc: false },                 // empty sum: C = 0
  { M: 4, N: 3, K: 0, tA: true, tB: true, acc: true },                    // empty sum: C unchanged
];

// Larger shapes: several cache blocks in K and M, many N panels, and products big enough to be threaded.
const large: Case[] = [
  ...allModes(97, 130, 300),
  ...allModes(200, 33, 517, { offset: 5 }),
  ...allModes(3, 4100, 5),
  ...allModes(64, 64, 32, { batch: 5, offset: 2 }),
  ...allModes(130, 70, 40, { batch: 3 }),
  ...allModes(130, 70, 40, { batch: 2, sA: 0 }),
  ...allModes(130, 96, 100, { batch: 3, sC: 0 }),
  ...allModes(130, 96, 100, { batch: 4, sC: 0 }),
];

test('reference matmul matches the float64 oracle', () => {
  let seed = 1;
  for (const cs of small) check(referenceMatmul, cs, seed++);
});

test('native matmul matches the float64 oracle', (t) => {
  const addon = loadNativeAddon();
  if (!addon) { t.skip('native addon not built'); return; }
  let seed = 1000;
  for (const cs of [...small, ...large]) check(addon.matmul, cs, seed++);
});

test('native matmul defaults batch and strides through the backend wrapper', (t) => {
  const backend = nativeBackend();
  if (!backend) { t.skip('native addon not built'); return; }
  check((a, b, c, M, N, K, tA, tB, acc) => backend.matmul(a, b, c, M, N, K, tA, tB, acc),
    { M: 19, N: 23, K: 29, tA: true, tB: false, acc: true }, 7);
});

test('native matmul rejects arrays too short for the shape', (t) => {
  const addon = loadNativeAddon();
  if (!addon) { t.skip('native addon not built'); return; }
  const a = new Float32Array(6), b = new Float32Array(6), c = new Float32Array(4);
  assert.doesNotThrow(() => addon.matmul(a, b, c, 2, 2, 3, false, false, false, 1, 6, 6, 4));
  assert.throws(() => addon.matmul(a, b, c.subarray(1), 2, 2, 3, false, false, false, 1, 6, 6, 4), RangeError);
  assert.throws(() => addon.matmul(a, b, c, 2, 2, 3, false, false, false, 2, 0, 0, 1), RangeError);
  assert.throws(() => addon.matmul(a, b, c, 2, 2, 3, false, false, false, 2, 1, 0, 0), RangeError);
});

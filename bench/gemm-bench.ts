// SGEMM throughput of the native addon on the training shapes; prints a markdown table for bench/gemm.md.
// Run: node dist/bench/gemm-bench.js   (TESSERA_THREADS=1 measures the single-threaded sgemm_st path).
import { loadNativeAddon, nativeLoadError } from '../src/engine/native.js';

const addon = loadNativeAddon();
if (!addon) throw new Error(`native addon unavailable: ${nativeLoadError}`);

// [M, N, K, transA, transB, batch, what]. Linear layers y = x·Wᵀ with W [out×in] and T = 2048 tokens:
// forward M=T N=out K=in (transB), dX M=T N=in K=out, dW M=out N=in K=T (transA).
const shapes: [number, number, number, boolean, boolean, number, string][] = [
  [1024, 1024, 1024, false, false, 1, 'square'],
  [2048, 8192, 256, false, true, 1, 'LM head forward'],
  [2048, 256, 8192, false, false, 1, 'LM head dX'],
  [8192, 256, 2048, true, false, 1, 'LM head dW'],
  [2048, 768, 256, false, true, 1, 'qkv forward'],
  [2048, 688, 256, false, true, 1, 'MLP up forward'],
  [2048, 256, 688, false, true, 1, 'MLP down forward'],
  [2048, 256, 688, false, false, 1, 'MLP up dX'],
  [688, 256, 2048, true, false, 1, 'MLP up dW'],
  [256, 688, 2048, true, false, 1, 'MLP down dW'],
  [2048, 1024, 256, false, true, 1, 'wide layer forward'],
  [1024, 256, 2048, true, false, 1, 'wide layer dW'],
  [2048, 64, 256, false, false, 1, 'narrow output'],
  [256, 256, 32, false, true, 64, 'batched q·kᵀ'],
  [256, 32, 256, false, false, 64, 'batched p·v'],
];

function rand(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.random() * 2 - 1;
  return a;
}

// Single-threaded runs also report process CPU time, which a busy host's preemption does not inflate.
const single = addon.numThreads === 1;
console.log(`threads: ${addon.numThreads}`);
console.log(`| M×N×K | transA | transB | batch | shape | GFLOP/s |${single ? ' GFLOP/s per CPU-second |' : ''} ms |`);
console.log(`|---|---|---|---|---|---|${single ? '---|' : ''}---|`);
for (const [M, N, K, tA, tB, batch, what] of shapes) {
  const a = rand(batch * M * K), b = rand(batch * K * N), c = new Float32Array(batch * M * N);
  const flops = 2 * M * N * K * batch;
  // Best of enough repetitions for ~2 s of work, at least 5: minima filter out noisy neighbours.
  const reps = Math.max(5, Math.min(200, Math.ceil(2e11 / flops)));
  let wall = Infinity, cpu = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint(), c0 = process.cpuUsage();
    addon.matmul(a, b, c, M, N, K, tA, tB, false, batch, M * K, K * N, M * N);
    const dc = process.cpuUsage(c0);
    wall = Math.min(wall, Number(process.hrtime.bigint() - t0) / 1e9);
    cpu = Math.min(cpu, (dc.user + dc.system) / 1e6);
  }
  const gf = (t: number) => (flops / t / 1e9).toFixed(1);
  console.log(`| ${M}×${N}×${K} | ${tA} | ${tB} | ${batch} | ${what} | ${gf(wall)} |${single ? ` ${gf(cpu)} |` : ''} ${(wall * 1e3).toFixed(2)} |`);
}
console.log(`gemmPeak(1024, 5): ${addon.gemmPeak(1024, 5).toFixed(1)} GFLOP/s`);

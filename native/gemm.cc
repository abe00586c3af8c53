// Packed SGEMM in the GotoBLAS/BLIS scheme: op(B) packed per KC×NC block into NR-wide panels, op(A)
// per MC×KC block into MR-tall panels (transposes are absorbed by packing), and an MR×NR register-tile
// micro-kernel (broadcast A × NV vectors of B). Threads split the batch or the M/N range of each product.
#include "common.h"
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

// GCC vector extensions: one kernel source compiles to AVX-512 (12×32 tile), AVX2/FMA (6×16) or SSE (6×8).
#if defined(__AVX512F__)
#define VW 16
constexpr int MR = 12;
#elif defined(__AVX__)
#define VW 8
constexpr int MR = 6;
#else
#define VW 4
constexpr int MR = 6;
#endif
typedef float vf __attribute__((vector_size(VW * 4)));                // aligned (packed buffers)
typedef float vfu __attribute__((vector_size(VW * 4), aligned(4)));   // unaligned (C rows)
typedef float v4 __attribute__((vector_size(16)));
typedef float v4u __attribute__((vector_size(16), aligned(4)));
typedef int v4i __attribute__((vector_size(16)));
constexpr int NV = 2;
constexpr int NR = NV * VW;
// Blocking: an MR×KC A panel + KC×NR B panel fit L1, the MC×KC A block fits L2, KC×NC B block L3.
constexpr int64_t KC = 256;
constexpr int64_t MC = MR * 16;
constexpr int64_t NC = NR * 128;

// Per-thread packing buffers, grown on demand and kept (no allocation in steady state).
struct Buf {
  float* p = nullptr;
  size_t n = 0;
  ~Buf() { std::free(p); }
  float* get(size_t need) {
    if (need > n) {
      std::free(p);
      p = static_cast<float*>(std::aligned_alloc(64, (need * sizeof(float) + 63) / 64 * 64));
      n = need;
    }
    return p;
  }
};
thread_local Buf tl_apack, tl_bpack;

// d[p*W + r] = s[r*ld + p] for r < w, p < kc (rows past w zero-filled): a W-wide panel read from w
// stored rows. Full panels go through 4×4 register transposes (4 loads, 8 shuffles, 4 stores per 16 values).
template <int W>
void transpose_panel(const float* s, int64_t ld, int w, int64_t kc, float* d) {
  int64_t p = 0;
  if (w == W) {
    for (; p + 4 <= kc; p += 4) {
#pragma GCC unroll 8
      for (int r = 0; r + 4 <= W; r += 4) {
        const float* q = s + r * ld + p;
        const v4 r0 = *reinterpret_cast<const v4u*>(q), r1 = *reinterpret_cast<const v4u*>(q + ld);
        const v4 r2 = *reinterpret_cast<const v4u*>(q + 2 * ld), r3 = *reinterpret_cast<const v4u*>(q + 3 * ld);
        const v4 t0 = __builtin_shuffle(r0, r1, v4i{0, 4, 1, 5}), t1 = __builtin_shuffle(r2, r3, v4i{0, 4, 1, 5});
        const v4 t2 = __builtin_shuffle(r0, r1, v4i{2, 6, 3, 7}), t3 = __builtin_shuffle(r2, r3, v4i{2, 6, 3, 7});
        float* o = d + p * W + r;
        *reinterpret_cast<v4u*>(o) = __builtin_shuffle(t0, t1, v4i{0, 1, 4, 5});
        *reinterpret_cast<v4u*>(o + W) = __builtin_shuffle(t0, t1, v4i{2, 3, 6, 7});
        *reinterpret_cast<v4u*>(o + 2 * W) = __builtin_shuffle(t2, t3, v4i{0, 1, 4, 5});
        *reinterpret_cast<v4u*>(o + 3 * W) = __builtin_shuffle(t2, t3, v4i{2, 3, 6, 7});
      }
      for (int r = W / 4 * 4; r < W; ++r)
        for (int q = 0; q < 4; ++q) d[(p + q) * W + r] = s[r * ld + p + q];
    }
  }
  for (; p < kc; ++p) {
    for (int r = 0; r < w; ++r) d[p * W + r] = s[r * ld + p];
    for (int r = w; r < W; ++r) d[p * W + r] = 0.f;
  }
}

// Ap[panel][p][r] = op(A)(i0+ir+r, p0+p), rows past mc zero-filled.
void pack_a(bool tA, const float* A, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc, float* Ap) {
  if (!tA) {
    for (int64_t ir = 0; ir < mc; ir += MR)
      transpose_panel<MR>(A + (i0 + ir) * lda + p0, lda, static_cast<int>(std::min<int64_t>(MR, mc - ir)), kc,
                          Ap + ir * kc);
    return;
  }
  // Stored rows are p: read each once, contiguously, and scatter it over the panels.
  for (int64_t p = 0; p < kc; ++p) {
    const float* s = A + (p0 + p) * lda + i0;
    for (int64_t ir = 0; ir < mc; ir += MR) {
      float* d = Ap + ir * kc + p * MR;
      const int mr = static_cast<int>(std::min<int64_t>(MR, mc - ir));
      if (mr == MR) {
        std::memcpy(d, s + ir, MR * sizeof(float));  // fixed size: a couple of vector moves
      } else {
        for (int r = 0; r < mr; ++r) d[r] = s[ir + r];
        for (int r = mr; r < MR; ++r) d[r] = 0.f;
      }
    }
  }
}

// Bp[panel][p][c] = op(B)(p0+p, j0+jr+c), columns past nc zero-filled.
void pack_b(bool tB, const float* B, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc, float* Bp) {
  for (int64_t jr = 0; jr < nc; jr += NR, Bp += NR * kc) {
    const int nr = static_cast<int>(std::min<int64_t>(NR, nc - jr));
    if (tB) {
      transpose_panel<NR>(B + (j0 + jr) * ldb + p0, ldb, nr, kc, Bp);
      continue;
    }
    const float* s = B + p0 * ldb + j0 + jr;
    for (int64_t p = 0; p < kc; ++p, s += ldb) {
      float* d = Bp + p * NR;
      if (nr == NR) {
        for (int v = 0; v < NV; ++v) reinterpret_cast<vf*>(d)[v] = reinterpret_cast<const vfu*>(s)[v];
      } else {
        for (int c = 0; c < nr; ++c) d[c] = s[c];
        for (int c = nr; c < NR; ++c) d[c] = 0.f;
      }
    }
  }
}

// C[mr×nr] (ldc) = (C +) Ap·Bp over kc, accumulating the MR×NR tile in registers.
inline void kernel(int64_t kc, const float* __restrict Ap, const float* __restrict Bp,
                   float* __restrict C, int64_t ldc, bool addC, int mr, int nr) {
  // Fetch the C tile now so its (often cache-missing) rows arrive while the k loop runs.
#pragma GCC unroll 64
  for (int r = 0; r < MR; ++r) {
    __builtin_prefetch(C + r * ldc, 1);
    __builtin_prefetch(C + r * ldc + NR - 1, 1);
  }
  vf acc[MR][NV];
#pragma GCC unroll 64
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[r][v] = vf{};
  for (int64_t p = 0; p < kc; ++p, Ap += MR, Bp += NR) {
    vf b[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) b[v] = reinterpret_cast<const vf*>(Bp)[v];
#pragma GCC unroll 64
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[r][v] += Ap[r] * b[v];
  }
  if (mr == MR && nr == NR) {
#pragma GCC unroll 64
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
        vfu* c = reinterpret_cast<vfu*>(C + r * ldc + v * VW);
        *c = addC ? *c + acc[r][v] : acc[r][v];
      }
    return;
  }
  alignas(64) float tile[MR][NR];
#pragma GCC unroll 64
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) reinterpret_cast<vf*>(tile[r])[v] = acc[r][v];
  for (int r = 0; r < mr; ++r)
    for (int c = 0; c < nr; ++c) C[r * ldc + c] = addC ? C[r * ldc + c] + tile[r][c] : tile[r][c];
}

// Splits n into the fewest blocks of at most `cap`, of equal size rounded up to `unit`.
int64_t block_size(int64_t n, int64_t cap, int64_t unit) {
  const int64_t blocks = (n + cap - 1) / cap;
  const int64_t b = (n + blocks - 1) / blocks;
  return std::min(cap, (b + unit - 1) / unit * unit);
}

}  // namespace

void sgemm_st(bool transA, bool transB, int64_t M, int64_t N, int64_t K,
              const float* A, int64_t lda, const float* B, int64_t ldb,
              float* C, int64_t ldc, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate)
      for (int64_t i = 0; i < M; ++i) std::memset(C + i * ldc, 0, N * sizeof(float));
    return;
  }
  const int64_t kcb = block_size(K, KC, 1);
  const int64_t mcb = block_size(M, MC, MR);
  const int64_t ncb = block_size(N, NC, NR);
  float* Ap = tl_apack.get(mcb * kcb);
  float* Bp = tl_bpack.get(ncb * kcb);
  for (int64_t jc = 0; jc < N; jc += ncb) {
    const int64_t nc = std::min(ncb, N - jc);
    for (int64_t pc = 0; pc < K; pc += kcb) {
      const int64_t kc = std::min(kcb, K - pc);
      const bool addC = accumulate || pc > 0;
      pack_b(transB, B, ldb, pc, kc, jc, nc, Bp);
      for (int64_t ic = 0; ic < M; ic += mcb) {
        const int64_t mc = std::min(mcb, M - ic);
        pack_a(transA, A, lda, ic, mc, pc, kc, Ap);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int nr = static_cast<int>(std::min<int64_t>(NR, nc - jr));
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int mr = static_cast<int>(std::min<int64_t>(MR, mc - ir));
            kernel(kc, Ap + ir * kc, Bp + jr * kc, C + (ic + ir) * ldc + jc + jr, ldc, addC, mr, nr);
          }
        }
      }
    }
  }
}

namespace {

constexpr double kMinSplitFlops = 1e6;  // below this (~10 µs) a product is not worth splitting

// Batched product with row-major contiguous matrices (lda/ldb/ldc implied by the shapes), threaded.
void gemm(bool tA, bool tB, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C,
          bool acc, int64_t batch, int64_t sA, int64_t sB, int64_t sC) {
  const int64_t lda = tA ? M : K, ldb = tB ? K : N, ldc = N;
  const int nt = tp::num_threads();
  const bool splitM = M >= N;  // split the longer side of each product, in whole register tiles
  const int64_t units = splitM ? (M + MR - 1) / MR : (N + NR - 1) / NR;
  const bool small = 2.0 * M * N * K < kMinSplitFlops;
  auto part = [&](int64_t b, int64_t u0, int64_t u1) {
    const float* Ab = A + b * sA;
    const float* Bb = B + b * sB;
    float* Cb = C + b * sC;
    if (splitM) {
      const int64_t i0 = u0 * MR, i1 = std::min(M, u1 * MR);
      sgemm_st(tA, tB, i1 - i0, N, K, tA ? Ab + i0 : Ab + i0 * lda, lda, Bb, ldb, Cb + i0 * ldc, ldc, acc);
    } else {
      const int64_t j0 = u0 * NR, j1 = std::min(N, u1 * NR);
      sgemm_st(tA, tB, M, j1 - j0, K, Ab, lda, tB ? Bb + j0 * ldb : Bb + j0, ldb, Cb + j0, ldc, acc);
    }
  };
  // Overlapping outputs (e.g. strideC 0 summing a batch into one C) must run their batch in order.
  const bool disjointC = batch == 1 || sC >= M * N;
  if (disjointC && batch > 1 && (batch % nt == 0 || batch >= 8 * nt || small)) {
    tp::parallel_for(batch, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) part(b, 0, units);
    });
    return;
  }
  if (small || nt == 1 || units == 1) {
    for (int64_t b = 0; b < batch; ++b) part(b, 0, units);
    return;
  }
  if (disjointC) {
    // Each product cut into nt slices, all batch×nt slices spread evenly over the threads.
    tp::parallel_for(batch * nt, 1, [&](int64_t s0, int64_t s1) {
      for (int64_t s = s0; s < s1; ++s) {
        const int64_t b = s / nt, k = s % nt;
        part(b, units * k / nt, units * (k + 1) / nt);
      }
    });
    return;
  }
  for (int64_t b = 0; b < batch; ++b)
    tp::parallel_for(units, 1, [&](int64_t u0, int64_t u1) { part(b, u0, u1); });
}

void throwError(Napi::Env env, const std::string& msg) {
  Napi::RangeError::New(env, "matmul: " + msg).ThrowAsJavaScriptException();
}

// matmul(a, b, c, M, N, K, transA, transB, accumulate, batch, strideA, strideB, strideC) per backend.ts.
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 13) { throwError(env, "expected 13 arguments"); return env.Undefined(); }
  for (int i = 0; i < 3; ++i)
    if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      throwError(env, "a, b and c must be Float32Arrays");
      return env.Undefined();
    }
  auto a = info[0].As<Napi::Float32Array>(), b = info[1].As<Napi::Float32Array>();
  auto c = info[2].As<Napi::Float32Array>();
  const int64_t M = num(info[3]), N = num(info[4]), K = num(info[5]);
  const bool tA = flag(info[6]), tB = flag(info[7]), acc = flag(info[8]);
  const int64_t batch = num(info[9]), sA = num(info[10]), sB = num(info[11]), sC = num(info[12]);
  if (M < 0 || N < 0 || K < 0 || batch < 0 || sA < 0 || sB < 0 || sC < 0) {
    throwError(env, "negative dimension or stride");
    return env.Undefined();
  }
  if (batch == 0 || M == 0 || N == 0) return env.Undefined();
  // Bounds: the last matrix of each operand must lie inside its array (kernels trust the shapes).
  auto fits = [&](const Napi::Float32Array& x, int64_t stride, int64_t size) {
    return size == 0 || (batch - 1) * stride + size <= static_cast<int64_t>(x.ElementLength());
  };
  if (!fits(a, sA, M * K) || !fits(b, sB, K * N) || !fits(c, sC, M * N)) {
    throwError(env, "array too short for the given shape/batch/strides");
    return env.Undefined();
  }
  gemm(tA, tB, M, N, K, a.Data(), b.Data(), c.Data(), acc, batch, sA, sB, sC);
  return env.Undefined();
}

// gemmPeak(n, reps): best GFLOP/s of the threaded n×n×n product over reps runs (for MFU reports).
Napi::Value GemmPeak(const Napi::CallbackInfo& info) {
  const int64_t n = std::max<int64_t>(1, num(info[0]));
  const int64_t reps = std::max<int64_t>(1, num(info[1]));
  std::vector<float> A(n * n), B(n * n), C(n * n);
  for (int64_t i = 0; i < n * n; ++i) {
    A[i] = static_cast<float>((i * 7 % 13) - 6) * 0.01f;
    B[i] = static_cast<float>((i * 5 % 11) - 5) * 0.01f;
  }
  double best = 1e30;
  for (int64_t r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    gemm(false, false, n, n, n, A.data(), B.data(), C.data(), false, 1, 0, 0, 0);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return Napi::Number::New(info.Env(), 2.0 * n * n * n / best * 1e-9);
}

}  // namespace

void RegisterGemm(Napi::Env env, Napi::Object exports) {
  exports.Set("matmul", Napi::Function::New(env, Matmul, "matmul"));
  exports.Set("gemmPeak", Napi::Function::New(env, GemmPeak, "gemmPeak"));
}

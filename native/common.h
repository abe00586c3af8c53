// Shared declarations of the native addon: registration hooks, typed-array access, the thread pool.
#pragma once
#include <napi.h>
#include <cstddef>
#include <cstdint>
#include <functional>

void RegisterGemm(Napi::Env env, Napi::Object exports);
void RegisterKernels(Napi::Env env, Napi::Object exports);
void RegisterCompress(Napi::Env env, Napi::Object exports);
void RegisterAggregate(Napi::Env env, Napi::Object exports);

// Raw pointer of a Float32Array / Int32Array argument (respects byteOffset of subarray views).
inline float* f32(const Napi::Value& v) { return v.As<Napi::Float32Array>().Data(); }
inline int32_t* i32(const Napi::Value& v) { return v.As<Napi::Int32Array>().Data(); }
inline int64_t num(const Napi::Value& v) { return v.As<Napi::Number>().Int64Value(); }
inline double dbl(const Napi::Value& v) { return v.As<Napi::Number>().DoubleValue(); }
inline bool flag(const Napi::Value& v) { return v.ToBoolean().Value(); }

namespace tp {
// A persistent pool (created once, threads parked between calls; the caller thread works too).
int num_threads();
// Runs fn(begin, end) over [0, n) split into contiguous ranges, one per thread; blocks until done.
// Work below `min_per_thread` items per thread runs on the caller alone.
void parallel_for(int64_t n, int64_t min_per_thread, const std::function<void(int64_t, int64_t)>& fn);
}  // namespace tp

// Single-threaded SGEMM for use inside parallel regions (e.g. attention blocks), implemented in gemm.cc.
// C[M×N] (ldc) = op(A)·op(B) (+ C when accumulate); op(A) is M×K (A stored K×M with lda when transA),
// op(B) is K×N (B stored N×K with ldb when transB). Row-major leading dimensions.
void sgemm_st(bool transA, bool transB, int64_t M, int64_t N, int64_t K,
              const float* A, int64_t lda, const float* B, int64_t ldb,
              float* C, int64_t ldc, bool accumulate);

// Helpers shared by kernels.cc and attention.cc: native-width float vectors (GCC/Clang vector
// extensions under -march=native), a vectorized exp, growable thread-local scratch, attention entries.
#pragma once
#include <napi.h>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

// One vector register: 16 lanes with AVX-512, else 8 (AVX2; GCC lowers it to SSE pairs without AVX).
#if defined(__AVX512F__)
constexpr int W = 16;
#else
constexpr int W = 8;
#endif
typedef float vf __attribute__((vector_size(4 * W)));
typedef int32_t vi __attribute__((vector_size(4 * W)));

// Unaligned load/store (memcpy compiles to a single vmovups).
static inline vf vload(const float* p) { vf r; std::memcpy(&r, p, sizeof r); return r; }
static inline void vstore(float* p, vf v) { std::memcpy(p, &v, sizeof v); }
static inline vf vsplat(float x) { return vf{} + x; }
static inline float hsum(vf v) {
  float s = 0;
  for (int i = 0; i < W; ++i) s += v[i];
  return s;
}
static inline float hmax(vf v) {
  float m = v[0];
  for (int i = 1; i < W; ++i) m = v[i] > m ? v[i] : m;
  return m;
}
// Lanes i with i < n (n may exceed W): the mask of a partial last vector.
static inline vi lanes_below(int64_t n) {
  vi idx;
  for (int i = 0; i < W; ++i) idx[i] = i;
  return idx < static_cast<int32_t>(n < W ? n : W);
}

// Max of s[0..n): a vector sweep plus a scalar tail.
static inline float row_max(const float* s, int64_t n) {
  float m = -__builtin_inff();
  int64_t j = 0;
  if (n >= W) {
    vf vm = vload(s);
    for (j = W; j + W <= n; j += W) {
      const vf x = vload(s + j);
      vm = x > vm ? x : vm;
    }
    m = hmax(vm);
  }
  for (; j < n; ++j) m = s[j] > m ? s[j] : m;
  return m;
}

// exp(x), Cephes expf scheme: x = n·ln2 + r with |r| ≤ ln2/2, e^r by a degree-7 polynomial, 2^n from
// the exponent bits. Relative error ≈ 1e-7. Inputs below -87.3 give 0, above 88.7 saturate; NaN stays NaN.
static inline vf vexp(vf x) {
  const vf hi = vsplat(88.7228f), lo = vsplat(-87.3365f);
  const vi under = x < lo;
  x = x > hi ? hi : x;
  x = x < lo ? lo : x;
  const vf magic = vsplat(12582912.0f);  // 1.5·2^23: adding it rounds to the nearest integer
  const vf n = (x * vsplat(1.44269504088896341f) + magic) - magic;
  const vf r = (x - n * vsplat(0.693359375f)) - n * vsplat(-2.12194440e-4f);
  vf y = vsplat(1.9875691500e-4f);
  y = y * r + vsplat(1.3981999507e-3f);
  y = y * r + vsplat(8.3334519073e-3f);
  y = y * r + vsplat(4.1665795894e-2f);
  y = y * r + vsplat(1.6666665459e-1f);
  y = y * r + vsplat(5.0000001201e-1f);
  y = y * (r * r) + r + vsplat(1.0f);
  const vi pow2 = (__builtin_convertvector(n, vi) + 127) << 23;
  y = y * (vf)pow2;  // vector casts between same-size types reinterpret the bits
  return (vf)((vi)y & ~under);
}

static inline float exp1(float x) { return vexp(vsplat(x))[0]; }

// Per-thread scratch that only grows, so steady-state calls never allocate.
template <typename T>
static inline T* scratch(std::vector<T>& buf, size_t n) {
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

static inline Napi::Value throwRange(Napi::Env env, const std::string& msg) {
  Napi::RangeError::New(env, msg).ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value AttentionForward(const Napi::CallbackInfo& info);
Napi::Value AttentionBackward(const Napi::CallbackInfo& info);

// Helpers shared by kernels.cc and attention.cc: 8-wide float vectors (GCC/Clang vector extensions,
// AVX2 under -march=native), a vectorized exp, growable thread-local scratch, the attention entries.
#pragma once
#include <napi.h>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

// Unaligned load/store (memcpy compiles to a single vmovups).
static inline v8f load8(const float* p) { v8f r; std::memcpy(&r, p, sizeof r); return r; }
static inline void store8(float* p, v8f v) { std::memcpy(p, &v, sizeof v); }
static inline v8f splat8(float x) { return v8f{x, x, x, x, x, x, x, x}; }
static inline float hsum8(v8f v) {
  return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}
static inline float hmax8(v8f v) {
  float m = v[0];
  for (int i = 1; i < 8; ++i) m = v[i] > m ? v[i] : m;
  return m;
}

// Max of s[0..n): a vector sweep plus a scalar tail.
static inline float row_max(const float* s, int64_t n) {
  float m = -__builtin_inff();
  int64_t j = 0;
  if (n >= 8) {
    v8f vm = load8(s);
    for (j = 8; j + 8 <= n; j += 8) {
      const v8f x = load8(s + j);
      vm = x > vm ? x : vm;
    }
    m = hmax8(vm);
  }
  for (; j < n; ++j) m = s[j] > m ? s[j] : m;
  return m;
}

// exp(x), Cephes expf scheme: x = n·ln2 + r with |r| ≤ ln2/2, e^r by a degree-7 polynomial, 2^n from
// the exponent bits. Relative error ≈ 1e-7. Inputs below -87.3 give 0, above 88.7 saturate; NaN stays NaN.
static inline v8f vexp(v8f x) {
  const v8f hi = splat8(88.7228f), lo = splat8(-87.3365f);
  const v8i under = x < lo;
  x = x > hi ? hi : x;
  x = x < lo ? lo : x;
  const v8f magic = splat8(12582912.0f);  // 1.5·2^23: adding it rounds to the nearest integer
  const v8f n = (x * splat8(1.44269504088896341f) + magic) - magic;
  const v8f r = (x - n * splat8(0.693359375f)) - n * splat8(-2.12194440e-4f);
  v8f y = splat8(1.9875691500e-4f);
  y = y * r + splat8(1.3981999507e-3f);
  y = y * r + splat8(8.3334519073e-3f);
  y = y * r + splat8(4.1665795894e-2f);
  y = y * r + splat8(1.6666665459e-1f);
  y = y * r + splat8(5.0000001201e-1f);
  y = y * (r * r) + r + splat8(1.0f);
  const v8i pow2 = (__builtin_convertvector(n, v8i) + 127) << 23;
  y = y * (v8f)pow2;  // vector casts between same-size types reinterpret the bits
  return (v8f)((v8i)y & ~under);
}

static inline float exp1(float x) { return vexp(splat8(x))[0]; }

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

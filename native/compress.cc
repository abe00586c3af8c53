// SparseLoCo encoder kernels (error feedback, chunked top-k, 2-bit quantization), bit-identical to
// the TypeScript reference src/compress/codec-ref.ts (see there for the exact definitions).
// Contraction must be off in this file: binding.gyp builds with -ffp-contract=fast, and an FMA in
// β·ef + δ, in (v − μ)² accumulation or in s + (a − s) would round differently from the TS path.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
#include "common.h"
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace {

constexpr int kMaxChunk = 4096;
constexpr uint32_t kNonFinite = 0x7f800000u;     // |a| bit patterns ≥ this are Inf or NaN
constexpr int kChunkFields = 5;                  // base, size, k, width, rowStride (as in codec-native.ts)

struct ChunkD {
  int64_t base, rowStride, out;  // out: position of the chunk's first kept value in its tensor
  int32_t size, k, width, tensor;
};

struct TensorOut {
  uint16_t* idx;
  uint8_t* codes;
  float* table;
  int64_t kept, keptBase;  // keptBase: the tensor's first value in the scratch array of kept values
};

inline uint32_t bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

Napi::Value fail(Napi::Env env, const std::string& msg) {
  Napi::RangeError::New(env, "sparselocoCompress: " + msg).ThrowAsJavaScriptException();
  return env.Undefined();
}

bool isTyped(const Napi::Value& v, napi_typedarray_type t) {
  return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == t;
}

// Top-k of one chunk: keys are |a| bit patterns, so "larger |a|, then lower position" is an integer
// order. Cut the chunk into k groups: the smallest group maximum L is a lower bound of the k-th largest
// key T (k keys are ≥ L), so only keys ≥ L (few, for real data) are candidates. T comes from
// nth_element on a copy of them; the chunk keeps every key > T and the lowest-positioned keys = T.
// Candidates are collected in position order, so the kept positions come out ascending.
void selectChunk(const float* buf, const uint32_t* keys, int n, int k, uint32_t* cand, uint16_t* cpos,
                 uint32_t* tmp, uint16_t* idx, float* vals) {
  uint32_t L = 0xffffffffu;
  for (int j = 0; j < k; ++j) {
    const int b = static_cast<int>(int64_t{j} * n / k), e = static_cast<int>(int64_t{j + 1} * n / k);
    uint32_t mx = 0;
    for (int p = b; p < e; ++p) mx = std::max(mx, keys[p]);
    L = std::min(L, mx);
  }
  int m = 0;
  for (int p = 0; p < n; ++p) {  // branch-free compaction of the candidates
    cand[m] = keys[p];
    cpos[m] = static_cast<uint16_t>(p);
    m += keys[p] >= L;
  }
  std::memcpy(tmp, cand, sizeof(uint32_t) * m);
  std::nth_element(tmp, tmp + (m - k), tmp + m);
  const uint32_t T = tmp[m - k];
  int greater = 0;
  for (int j = 0; j < m; ++j) greater += cand[j] > T;
  int ties = k - greater;  // how many keys = T are kept (the lowest positions)
  int o = 0;
  for (int j = 0; j < m; ++j) {
    const uint32_t key = cand[j];
    if (key > T || (key == T && ties > 0)) {
      if (key == T) --ties;
      idx[o] = cpos[j];
      vals[o++] = buf[cpos[j]];
    }
  }
}

// IEEE binary16 rounding of a float32 bin mean (src/compress/half.ts, same integer steps): nearest,
// ties to even; magnitudes that would round past 65504 saturate there; ≤ 2^-25 → ±0.
inline uint16_t halfBits(float x) {
  const uint32_t u = bits(x), a = u & 0x7fffffffu, sign = (u >> 16) & 0x8000u;
  if (a > 0x7f800000u) return 0x7e00;
  if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7bffu);
  if (a >= 0x38800000u) {
    uint32_t h = (a - 0x38000000u) >> 13;
    const uint32_t rem = a & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
    return static_cast<uint16_t>(sign | h);
  }
  if (a <= 0x33000000u) return static_cast<uint16_t>(sign);
  const uint32_t shift = 126u - (a >> 23), mant = (a & 0x7fffffu) | 0x800000u;
  uint32_t h = mant >> shift;
  const uint32_t rem = mant & ((1u << shift) - 1u), halfway = 1u << (shift - 1u);
  if (rem > halfway || (rem == halfway && (h & 1u))) ++h;
  return static_cast<uint16_t>(sign | h);
}

inline float halfValue(uint16_t h) {
  const float s = (h & 0x8000u) ? -1.0f : 1.0f;
  const int e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e == 0) return s * std::ldexp(static_cast<float>(m), -24);
  if (e == 31) return m == 0 ? s * std::numeric_limits<float>::infinity() : std::numeric_limits<float>::quiet_NaN();
  return s * std::ldexp(static_cast<float>(1024 + m), e - 25);
}

// Per-tensor 2-bit quantization, float64, sums sequential in kept order (same as quantize() in TS);
// each bin mean is rounded to float32 and then to binary16 (the table the wire carries, payload v3).
void quantize(const float* v, int64_t n, uint8_t* codes, float* table) {
  for (int b = 0; b < 4; ++b) table[b] = 0.0f;
  if (n == 0) return;
  const double dn = static_cast<double>(n);
  double sum = 0;
  for (int64_t j = 0; j < n; ++j) sum += v[j];
  const double mu = sum / dn;
  double ss = 0;
  for (int64_t j = 0; j < n; ++j) {
    const double d = v[j] - mu;
    ss += d * d;
  }
  const double sigma = std::sqrt(ss / dn), scale = 1.5 * sigma;
  double bsum[4] = {0, 0, 0, 0};
  int64_t bcnt[4] = {0, 0, 0, 0};
  for (int64_t j = 0; j < n; ++j) {
    int bin = 2;
    if (sigma > 0) {
      double u = (v[j] - mu) / scale;
      if (u < -1) u = -1;
      else if (u > 1) u = 1;
      bin = static_cast<int>(std::floor((u + 1) * 2));
      if (bin > 3) bin = 3;
    }
    codes[j] = static_cast<uint8_t>(bin);
    bsum[bin] += v[j];
    ++bcnt[bin];
  }
  for (int b = 0; b < 4; ++b)
    if (bcnt[b] > 0) table[b] = halfValue(halfBits(static_cast<float>(bsum[b] / static_cast<double>(bcnt[b]))));
}

// e with fl(s + e) == a when any float does; else the float nearest a − s (see residual() in TS).
inline float residual(float a, float s) {
  const float r = a - s;
  const float f = s + r;
  if (f == a) return r;
  const float inf = std::numeric_limits<float>::infinity();
  const float r2 = f < a ? std::nextafter(r, inf) : f > a ? std::nextafter(r, -inf) : r;
  return (s + r2) == a ? r2 : r;
}

// sparselocoCompress(delta, ef, chunks: Float64Array, tensors: Int32Array, idx[], codes[], tables[], beta)
// → −1, or the flat base of the first chunk holding a non-finite a (then ef and outputs are untouched).
Napi::Value SparselocoCompress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 8) return fail(env, "expected 8 arguments");
  if (!isTyped(info[0], napi_float32_array) || !isTyped(info[1], napi_float32_array))
    return fail(env, "delta and ef must be Float32Arrays");
  if (!isTyped(info[2], napi_float64_array) || !isTyped(info[3], napi_int32_array))
    return fail(env, "chunks must be a Float64Array and tensors an Int32Array");
  if (!info[4].IsArray() || !info[5].IsArray() || !info[6].IsArray() || !info[7].IsNumber())
    return fail(env, "idx, codes, tables must be arrays and beta a number");
  const float* delta = f32(info[0]);
  float* ef = f32(info[1]);
  const int64_t N = info[0].As<Napi::Float32Array>().ElementLength();
  if (static_cast<int64_t>(info[1].As<Napi::Float32Array>().ElementLength()) != N)
    return fail(env, "delta and ef lengths differ");
  const auto cd = info[2].As<Napi::Float64Array>();
  const auto td = info[3].As<Napi::Int32Array>();
  const Napi::Array idxA = info[4].As<Napi::Array>(), codesA = info[5].As<Napi::Array>(), tabA = info[6].As<Napi::Array>();
  const float bf = static_cast<float>(dbl(info[7]));
  if (cd.ElementLength() % kChunkFields != 0 || td.ElementLength() % 2 != 0) return fail(env, "bad descriptor length");
  const int64_t nChunks = cd.ElementLength() / kChunkFields, nT = td.ElementLength() / 2;
  if (idxA.Length() != nT || codesA.Length() != nT || tabA.Length() != nT) return fail(env, "one idx/codes/table per tensor");

  std::vector<ChunkD> chunks(nChunks);
  std::vector<TensorOut> tens(nT);
  int64_t keptAll = 0, expect = 0;
  for (int64_t t = 0; t < nT; ++t) {
    const int64_t c0 = td.Data()[2 * t], c1 = td.Data()[2 * t + 1];
    if (c0 != expect || c1 < c0 || c1 > nChunks) return fail(env, "tensors must list the chunks in order");
    expect = c1;
    int64_t kept = 0;
    for (int64_t c = c0; c < c1; ++c) {
      const double* d = cd.Data() + c * kChunkFields;
      for (int f = 0; f < kChunkFields; ++f)
        if (!(d[f] >= 0 && d[f] <= 9007199254740991.0 && d[f] == std::floor(d[f]))) return fail(env, "bad chunk field");
      ChunkD& ch = chunks[c];
      ch.base = static_cast<int64_t>(d[0]);
      ch.rowStride = static_cast<int64_t>(d[4]);
      if (d[1] < 1 || d[1] > kMaxChunk || d[3] < 1 || d[2] < 1 || d[2] > d[1]) return fail(env, "bad chunk size/k/width");
      ch.size = static_cast<int32_t>(d[1]);
      ch.k = static_cast<int32_t>(d[2]);
      ch.width = static_cast<int32_t>(d[3]);
      ch.tensor = static_cast<int32_t>(t);
      ch.out = kept;
      const int64_t h = ch.size / ch.width;
      if (h * ch.width != ch.size || ch.rowStride < ch.width || ch.base + (h - 1) * ch.rowStride + ch.width > N)
        return fail(env, "chunk outside the flat buffer");
      kept += ch.k;
    }
    const Napi::Value iv = idxA.Get(static_cast<uint32_t>(t)), cv = codesA.Get(static_cast<uint32_t>(t)),
                      tv = tabA.Get(static_cast<uint32_t>(t));
    if (!isTyped(iv, napi_uint16_array) || !isTyped(cv, napi_uint8_array) || !isTyped(tv, napi_float32_array))
      return fail(env, "idx/codes/tables must be Uint16Array/Uint8Array/Float32Array");
    if (static_cast<int64_t>(iv.As<Napi::Uint16Array>().ElementLength()) != kept ||
        static_cast<int64_t>(cv.As<Napi::Uint8Array>().ElementLength()) != kept ||
        tv.As<Napi::Float32Array>().ElementLength() < 4)
      return fail(env, "output arrays of tensor " + std::to_string(t) + " have the wrong length");
    tens[t] = {iv.As<Napi::Uint16Array>().Data(), cv.As<Napi::Uint8Array>().Data(), f32(tv), kept, keptAll};
    keptAll += kept;
  }
  if (expect != nChunks) return fail(env, "tensors must cover every chunk");

  // Pass 1: a = β·ef + δ per chunk (ef only read), top-k → idx and the kept values.
  std::vector<float> vals(static_cast<size_t>(keptAll));
  std::atomic<int64_t> firstBad{nChunks};
  tp::parallel_for(nChunks, 8, [&](int64_t c0, int64_t c1) {
    std::vector<float> buf(kMaxChunk);
    std::vector<uint32_t> keys(kMaxChunk), cand(kMaxChunk + 1), tmp(kMaxChunk);
    std::vector<uint16_t> cpos(kMaxChunk + 1);
    for (int64_t c = c0; c < c1; ++c) {
      const ChunkD& ch = chunks[c];
      const int h = ch.size / ch.width, w = ch.width;
      uint32_t mx = 0;
      for (int r = 0; r < h; ++r) {
        const float* __restrict e = ef + ch.base + r * ch.rowStride;
        const float* __restrict d = delta + ch.base + r * ch.rowStride;
        float* __restrict b = buf.data() + r * w;
        uint32_t* __restrict kk = keys.data() + r * w;
        for (int x = 0; x < w; ++x) {
          const float a = bf * e[x] + d[x];
          const uint32_t u = bits(a) & 0x7fffffffu;
          b[x] = a;
          kk[x] = u;
          mx = std::max(mx, u);
        }
      }
      if (mx >= kNonFinite) {
        int64_t cur = firstBad.load();
        while (c < cur && !firstBad.compare_exchange_weak(cur, c)) {}
        continue;
      }
      const TensorOut& t = tens[ch.tensor];
      selectChunk(buf.data(), keys.data(), ch.size, ch.k, cand.data(), cpos.data(), tmp.data(), t.idx + ch.out,
                  vals.data() + t.keptBase + ch.out);
    }
  });
  if (firstBad.load() < nChunks) return Napi::Number::New(env, static_cast<double>(chunks[firstBad.load()].base));

  // Pass 2: per-tensor quantization (independent tensors in parallel, each sequential).
  tp::parallel_for(nT, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) quantize(vals.data() + tens[t].keptBase, tens[t].kept, tens[t].codes, tens[t].table);
  });

  // Pass 3: ef = a everywhere in the chunk, then the residual at the kept positions.
  tp::parallel_for(nChunks, 8, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const ChunkD& ch = chunks[c];
      const int h = ch.size / ch.width, w = ch.width;
      for (int r = 0; r < h; ++r) {
        float* __restrict e = ef + ch.base + r * ch.rowStride;
        const float* __restrict d = delta + ch.base + r * ch.rowStride;
        for (int x = 0; x < w; ++x) e[x] = bf * e[x] + d[x];
      }
      const TensorOut& t = tens[ch.tensor];
      const uint16_t* idx = t.idx + ch.out;
      const uint8_t* codes = t.codes + ch.out;
      const float* v = vals.data() + t.keptBase + ch.out;
      for (int q = 0; q < ch.k; ++q) {
        const int p = idx[q];
        ef[ch.base + static_cast<int64_t>(p / w) * ch.rowStride + p % w] = residual(v[q], t.table[codes[q]]);
      }
    }
  });
  return Napi::Number::New(env, -1);
}

}  // namespace

void RegisterCompress(Napi::Env env, Napi::Object exports) {
  exports.Set("sparselocoCompress", Napi::Function::New(env, SparselocoCompress, "sparselocoCompress"));
}

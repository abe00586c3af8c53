// SparseLoCo decode + aggregation + outer step (semantics and the TS reference: src/compress/aggregate.ts).
// Work is split over chunks (disjoint coordinate sets), peers are accumulated in the given order inside a
// chunk, so results are bit-identical for any thread count and equal to the TS path.
#pragma GCC optimize("fp-contract=off")  // θ − α·m must round twice (no FMA), exactly like the JS path
#include "common.h"
#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

namespace {

constexpr int kCh = 7;  // chunk table row: tensor, size, k, base (absolute flat offset), width, rowStride, voff

struct Chunk { int64_t t, size, k, base, width, stride, voff; };

inline Chunk chunk_at(const double* tab, int64_t c) {
  const double* r = tab + c * kCh;
  return {int64_t(r[0]), int64_t(r[1]), int64_t(r[2]), int64_t(r[3]), int64_t(r[4]), int64_t(r[5]), int64_t(r[6])};
}

Napi::Value fail(Napi::Env env, const std::string& msg) {
  Napi::RangeError::New(env, "aggregate: " + msg).ThrowAsJavaScriptException();
  return env.Undefined();
}

// The P·T (peer-major) idx and code arrays of a JS array, with their lengths.
struct PeerArrays {
  std::vector<const uint16_t*> idx;
  std::vector<const uint8_t*> codes;
  std::vector<int64_t> len;
  bool ok = true;
};

PeerArrays peer_arrays(const Napi::Value& vi, const Napi::Value& vc) {
  PeerArrays a;
  if (!vi.IsArray() || !vc.IsArray()) { a.ok = false; return a; }
  auto ai = vi.As<Napi::Array>(), ac = vc.As<Napi::Array>();
  const uint32_t n = ai.Length();
  if (ac.Length() != n) { a.ok = false; return a; }
  for (uint32_t i = 0; i < n; ++i) {
    Napi::Value x = ai.Get(i), y = ac.Get(i);
    if (!x.IsTypedArray() || x.As<Napi::TypedArray>().TypedArrayType() != napi_uint16_array ||
        !y.IsTypedArray() || y.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) { a.ok = false; return a; }
    auto xi = x.As<Napi::Uint16Array>();
    auto yc = y.As<Napi::Uint8Array>();
    if (xi.ElementLength() != yc.ElementLength()) { a.ok = false; return a; }
    a.idx.push_back(xi.Data());
    a.codes.push_back(yc.Data());
    a.len.push_back(int64_t(xi.ElementLength()));
  }
  return a;
}

// aggregateScan(idx[P·T], codes[P·T], chunks: Float64Array, tensorChunks: Int32Array(T+1), hist: Float64Array(P·T·4))
// Validates every (peer, tensor): indices strictly ascending within a chunk and < chunk size, codes ≤ 3;
// counts codes per bin into hist. Returns -1 when all is valid, else the smallest bad pair p·T + t.
Napi::Value AggregateScan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5) return fail(env, "aggregateScan expects 5 arguments");
  PeerArrays pa = peer_arrays(info[0], info[1]);
  if (!pa.ok) return fail(env, "idx/codes must be equal-length arrays of Uint16Array/Uint8Array pairs");
  auto tabA = info[2].As<Napi::Float64Array>();
  auto tcA = info[3].As<Napi::Int32Array>();
  auto histA = info[4].As<Napi::Float64Array>();
  const double* tab = tabA.Data();
  const int32_t* tc = tcA.Data();
  const int64_t T = int64_t(tcA.ElementLength()) - 1, pairs = int64_t(pa.idx.size());
  if (T <= 0 || pairs % T != 0 || int64_t(histA.ElementLength()) != pairs * 4) return fail(env, "aggregateScan: bad sizes");
  double* hist = histA.Data();
  std::atomic<int64_t> bad{INT64_MAX};
  tp::parallel_for(pairs, 1, [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; ++q) {
      const int64_t t = q % T;
      const uint16_t* ip = pa.idx[q];
      const uint8_t* cp = pa.codes[q];
      int64_t h[4] = {0, 0, 0, 0};
      bool ok = true;
      for (int64_t c = tc[t]; c < tc[t + 1] && ok; ++c) {
        const Chunk ch = chunk_at(tab, c);
        if (ch.voff + ch.k > pa.len[q]) { ok = false; break; }
        int64_t prev = -1;
        for (int64_t j = ch.voff; j < ch.voff + ch.k; ++j) {
          const int64_t p = ip[j];
          const uint8_t code = cp[j];
          if (p <= prev || p >= ch.size || code > 3) { ok = false; break; }
          prev = p;
          ++h[code];
        }
      }
      for (int b = 0; b < 4; ++b) hist[q * 4 + b] = double(h[b]);
      if (!ok) {
        int64_t cur = bad.load();
        while (q < cur && !bad.compare_exchange_weak(cur, q)) {}
      }
    }
  });
  const int64_t b = bad.load();
  return Napi::Number::New(env, b == INT64_MAX ? -1.0 : double(b));
}

// One row of a chunk: m = sum / max(cnt, 1) (sum is +0 where cnt = 0, so m = +0 there, as in the JS
// `cnt ? sum / cnt : 0`), out = m, θ = f32(θ − α·m) in float64; clears the row's scratch. Branch-free so it
// vectorizes. Returns the number of covered coordinates.
template <bool DENSE, bool STEP>
int64_t finish_row(float* __restrict sr, uint32_t* __restrict nr, int64_t w, float* __restrict o,
                   float* __restrict th, double alpha) {
  int64_t cov = 0;
  for (int64_t x = 0; x < w; ++x) {
    const uint32_t k = nr[x];
    const float m = sr[x] / float(k | uint32_t(k == 0));
    cov += int64_t(k != 0);
    if (DENSE) o[x] = m;
    if (STEP) th[x] = float(double(th[x]) - alpha * double(m));
  }
  std::fill(sr, sr + w, 0.0f);
  std::fill(nr, nr + w, 0u);
  return cov;
}

// aggregateApply(idx[P·T], codes[P·T], chunks, T, scaled: Float32Array(P·T·4), out|null, params|null, alpha, covered: Float64Array(nChunks))
// Per chunk: sum[pos] += scaled[p][t][code] over peers in order (float32), cnt[pos] += 1; then over the chunk's
// coordinates out = cnt ? sum / cnt : 0 (float32 division) and, with params, θ = f32(θ − α·out) in float64.
// Returns the number of indices skipped as out of range (0 after a successful aggregateScan).
Napi::Value AggregateApply(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 9) return fail(env, "aggregateApply expects 9 arguments");
  PeerArrays pa = peer_arrays(info[0], info[1]);
  if (!pa.ok) return fail(env, "idx/codes must be equal-length arrays of Uint16Array/Uint8Array pairs");
  auto tabA = info[2].As<Napi::Float64Array>();
  const int64_t T = num(info[3]);
  auto scA = info[4].As<Napi::Float32Array>();
  const bool step = info[6].IsTypedArray(), dense = info[5].IsTypedArray();
  float* params = step ? f32(info[6]) : nullptr;
  float* out = dense ? f32(info[5]) : nullptr;
  const int64_t plen = step ? int64_t(info[6].As<Napi::Float32Array>().ElementLength()) : 0;
  const int64_t olen = dense ? int64_t(info[5].As<Napi::Float32Array>().ElementLength()) : plen;
  const double alpha = dbl(info[7]);
  auto covA = info[8].As<Napi::Float64Array>();
  const int64_t pairs = int64_t(pa.idx.size()), nch = int64_t(tabA.ElementLength()) / kCh;
  if (T <= 0 || pairs % T != 0 || int64_t(scA.ElementLength()) != pairs * 4 || int64_t(covA.ElementLength()) != nch ||
      (!step && !dense) || (step && plen != olen)) return fail(env, "aggregateApply: bad sizes");
  const double* tab = tabA.Data();
  const float* scaled = scA.Data();
  double* covered = covA.Data();
  const int64_t P = pairs / T;
  // Every chunk must lie inside out (and its values inside each peer's arrays): kernels then trust the table.
  int64_t maxSize = 1;
  for (int64_t c = 0; c < nch; ++c) {
    const Chunk ch = chunk_at(tab, c);
    if (ch.t < 0 || ch.t >= T || ch.width <= 0 || ch.size <= 0 || ch.size % ch.width != 0 || ch.base < 0 ||
        ch.base + (ch.size / ch.width - 1) * ch.stride + ch.width > olen) return fail(env, "chunk outside the output");
    for (int64_t p = 0; p < P; ++p)
      if (ch.voff < 0 || ch.voff + ch.k > pa.len[p * T + ch.t]) return fail(env, "chunk values outside a peer's arrays");
    maxSize = std::max(maxSize, ch.size);
  }
  std::atomic<int64_t> skipped{0};
  tp::parallel_for(nch, 16, [&](int64_t c0, int64_t c1) {
    thread_local std::vector<float> sum;
    thread_local std::vector<uint32_t> cnt;
    if (int64_t(sum.size()) < maxSize) { sum.assign(maxSize, 0.0f); cnt.assign(maxSize, 0); }
    float* s = sum.data();
    uint32_t* n = cnt.data();
    int64_t skip = 0;
    for (int64_t c = c0; c < c1; ++c) {
      const Chunk ch = chunk_at(tab, c);
      for (int64_t p = 0; p < P; ++p) {
        const int64_t q = p * T + ch.t;
        const uint16_t* ip = pa.idx[q] + ch.voff;
        const uint8_t* cp = pa.codes[q] + ch.voff;
        const float* st = scaled + q * 4;
        for (int64_t j = 0; j < ch.k; ++j) {
          const int64_t pos = ip[j];
          if (pos >= ch.size) { ++skip; continue; }
          s[pos] += st[cp[j] & 3];
          ++n[pos];
        }
      }
      int64_t cov = 0;
      const int64_t rows = ch.size / ch.width;
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t at = ch.base + r * ch.stride;
        float* sr = s + r * ch.width;
        uint32_t* nr = n + r * ch.width;
        if (dense && step) cov += finish_row<true, true>(sr, nr, ch.width, out + at, params + at, alpha);
        else if (dense) cov += finish_row<true, false>(sr, nr, ch.width, out + at, nullptr, alpha);
        else cov += finish_row<false, true>(sr, nr, ch.width, nullptr, params + at, alpha);
      }
      covered[c] = double(cov);
    }
    if (skip) skipped.fetch_add(skip);
  });
  return Napi::Number::New(env, double(skipped.load()));
}

// outerStep(params, agg, alpha): θ = f32(θ − α·agg) evaluated in float64 (same as the JS expression).
Napi::Value OuterStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto pA = info[0].As<Napi::Float32Array>();
  auto gA = info[1].As<Napi::Float32Array>();
  if (pA.ElementLength() != gA.ElementLength()) return fail(env, "outerStep: params and agg differ in length");
  float* p = pA.Data();
  const float* g = gA.Data();
  const double alpha = dbl(info[2]);
  tp::parallel_for(int64_t(pA.ElementLength()), 1 << 15, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) p[i] = float(double(p[i]) - alpha * double(g[i]));
  });
  return env.Undefined();
}

}  // namespace

void RegisterAggregate(Napi::Env env, Napi::Object exports) {
  exports.Set("aggregateScan", Napi::Function::New(env, AggregateScan));
  exports.Set("aggregateApply", Napi::Function::New(env, AggregateApply));
  exports.Set("outerStep", Napi::Function::New(env, OuterStep));
}

// Causal grouped-query attention (forward and backward) on the CPU: per head, blocks of BR query rows
// against all keys up to the block's end, scores materialized in thread-local scratch (T ≤ a few
// thousand), block products by sgemm_st (gemm.cc). Semantics: src/engine/backend.ts.
#include "common.h"
#include "kernels.h"
#include <algorithm>
#include <cmath>

namespace {

// Query rows per block: larger blocks amortize GEMM packing, smaller ones waste fewer masked scores
// (BR/T of the work); 64 measured best for T = 256…2048.
constexpr int64_t BR = 64;

// dst[c×r] (ld ldd) = src[r×c] (ld lds)ᵀ.
void transpose(const float* src, int64_t lds, int64_t rows, int64_t cols, float* dst, int64_t ldd) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) dst[j * ldd + i] = src[i * lds + j];
}

// Leading dimension for T columns: whole vectors, but not a multiple of 128 floats, so the Dh rows of
// Kᵀ do not all map to the same L1 sets (4 KiB aliasing).
int64_t padded(int64_t T) {
  int64_t ld = (T + W - 1) / W * W;
  return ld % 128 == 0 ? ld + W : ld;
}

// s[j] = exp(a·s[j] - c) for j < valid and 0 for valid ≤ j < n, returning Σ s[j]. Rows are padded
// to whole vectors (ldt), so a partial last vector is computed in full and masked.
float exp_row(float* s, int64_t valid, int64_t n, float a, float c) {
  vf acc = {};
  const vf va = vsplat(a), vc = vsplat(c);
  int64_t j = 0;
  for (; j < valid; j += W) {
    vf e = vexp(va * vload(s + j) - vc);
    if (j + W > valid) e = (vf)((vi)e & lanes_below(valid - j));
    vstore(s + j, e);
    acc += e;
  }
  if (j < n) std::fill(s + j, s + n, 0.0f);
  return hsum(acc);
}

float dot(const float* a, const float* b, int64_t n) {
  vf acc = {};
  int64_t j = 0;
  for (; j + W <= n; j += W) acc += vload(a + j) * vload(b + j);
  float s = hsum(acc);
  for (; j < n; ++j) s += a[j] * b[j];
  return s;
}

struct Dims {
  int64_t B, T, H, KVH, Dh, rep, ldq, ldk, ldt;
  float scale;
};

Dims dims(const Napi::CallbackInfo& info, int first) {
  Dims d;
  d.B = num(info[first]), d.T = num(info[first + 1]), d.H = num(info[first + 2]);
  d.KVH = num(info[first + 3]), d.Dh = num(info[first + 4]);
  d.rep = d.KVH > 0 ? d.H / d.KVH : 0;
  d.ldq = d.H * d.Dh, d.ldk = d.KVH * d.Dh, d.ldt = padded(d.T);
  d.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d.Dh)));
  return d;
}

bool bad(const Dims& d) { return d.KVH <= 0 || d.H % d.KVH != 0 || d.Dh <= 0; }

// Parallel chunks get at least ~256k multiply-adds of work each.
int64_t min_heads(const Dims& d) { return std::max<int64_t>(1, (1 << 18) / std::max<int64_t>(1, d.T * d.T * d.Dh)); }

thread_local std::vector<float> tl_buf;

}  // namespace

// One task per (batch, head): S = Q·Kᵀ per row block, e = exp(S - rowmax) in place (lse saved),
// O = (e·V) / Σe (normalizing the m×Dh output rather than the m×n probabilities).
Napi::Value AttentionForward(const Napi::CallbackInfo& info) {
  const float *q = f32(info[0]), *k = f32(info[1]), *v = f32(info[2]);
  float *out = f32(info[3]), *lse = f32(info[4]);
  const Dims d = dims(info, 5);
  if (bad(d)) return throwRange(info.Env(), "attentionForward: H must be a positive multiple of KVH, Dh > 0");
  tp::parallel_for(d.B * d.H, min_heads(d), [&](int64_t bh0, int64_t bh1) {
    float* Kt = scratch(tl_buf, (d.Dh + BR) * d.ldt);  // Kᵀ [Dh × ldt], then S [BR × ldt]
    float* S = Kt + d.Dh * d.ldt;
    float inv[BR];
    int64_t packed = -1;  // the (batch, kv head) whose Kᵀ is in scratch: consecutive GQA heads share it
    for (int64_t bh = bh0; bh < bh1; ++bh) {
      const int64_t b = bh / d.H, h = bh % d.H, g = h / d.rep;
      const float* qh = q + (b * d.T * d.H + h) * d.Dh;
      const float* kg = k + (b * d.T * d.KVH + g) * d.Dh;
      const float* vg = v + (b * d.T * d.KVH + g) * d.Dh;
      float* oh = out + (b * d.T * d.H + h) * d.Dh;
      float* lh = lse + bh * d.T;
      if (b * d.KVH + g != packed) transpose(kg, d.ldk, d.T, d.Dh, Kt, d.ldt);
      packed = b * d.KVH + g;
      for (int64_t i0 = 0; i0 < d.T; i0 += BR) {
        const int64_t m = std::min(BR, d.T - i0), n = i0 + m;  // rows i0..n-1 see keys 0..n-1
        sgemm_st(false, false, m, n, d.Dh, qh + i0 * d.ldq, d.ldq, Kt, d.ldt, S, d.ldt, false);
        for (int64_t r = 0; r < m; ++r) {
          float* s = S + r * d.ldt;
          const int64_t valid = i0 + r + 1;
          const float mx = d.scale * row_max(s, valid);
          const float sum = exp_row(s, valid, n, d.scale, mx);
          inv[r] = 1.0f / sum;
          lh[i0 + r] = mx + std::log(sum);
        }
        float* o = oh + i0 * d.ldq;
        sgemm_st(false, false, m, d.Dh, n, S, d.ldt, vg, d.ldk, o, d.ldq, false);
        for (int64_t r = 0; r < m; ++r)
          for (int64_t c = 0; c < d.Dh; ++c) o[r * d.ldq + c] *= inv[r];
      }
    }
  });
  return info.Env().Undefined();
}

// One task per (batch, kv head), so the GQA heads sharing it accumulate dk, dv without races. Per row
// block: P = exp(scale·Q·Kᵀ - lse), dP = dO·Vᵀ, dS = scale·P∘(dP - D) with D_i = dO_i·O_i;
// dQ = dS·K, dV += Pᵀ·dO, dK += dSᵀ·Q.
Napi::Value AttentionBackward(const Napi::CallbackInfo& info) {
  const float *dout = f32(info[0]), *q = f32(info[1]), *k = f32(info[2]), *v = f32(info[3]);
  const float *out = f32(info[4]), *lse = f32(info[5]);
  float *dq = f32(info[6]), *dk = f32(info[7]), *dv = f32(info[8]);
  const Dims d = dims(info, 9);
  if (bad(d)) return throwRange(info.Env(), "attentionBackward: H must be a positive multiple of KVH, Dh > 0");
  tp::parallel_for(d.B * d.KVH, std::max<int64_t>(1, min_heads(d) / d.rep), [&](int64_t bg0, int64_t bg1) {
    float* Kt = scratch(tl_buf, 2 * (d.Dh + BR) * d.ldt);  // Kᵀ, Vᵀ [Dh × ldt]; P, dS [BR × ldt]
    float* Vt = Kt + d.Dh * d.ldt;
    float* P = Vt + d.Dh * d.ldt;
    float* dS = P + BR * d.ldt;
    for (int64_t bg = bg0; bg < bg1; ++bg) {
      const int64_t b = bg / d.KVH, g = bg % d.KVH, kvo = (b * d.T * d.KVH + g) * d.Dh;
      const float *kg = k + kvo, *vg = v + kvo;
      float *dkg = dk + kvo, *dvg = dv + kvo;
      for (int64_t t = 0; t < d.T; ++t) {
        std::fill(dkg + t * d.ldk, dkg + t * d.ldk + d.Dh, 0.0f);
        std::fill(dvg + t * d.ldk, dvg + t * d.ldk + d.Dh, 0.0f);
      }
      transpose(kg, d.ldk, d.T, d.Dh, Kt, d.ldt);
      transpose(vg, d.ldk, d.T, d.Dh, Vt, d.ldt);
      for (int64_t h = g * d.rep; h < (g + 1) * d.rep; ++h) {
        const int64_t qo = (b * d.T * d.H + h) * d.Dh;
        const float *qh = q + qo, *doh = dout + qo, *oh = out + qo, *lh = lse + (b * d.H + h) * d.T;
        float* dqh = dq + qo;
        for (int64_t i0 = 0; i0 < d.T; i0 += BR) {
          const int64_t m = std::min(BR, d.T - i0), n = i0 + m;
          sgemm_st(false, false, m, n, d.Dh, qh + i0 * d.ldq, d.ldq, Kt, d.ldt, P, d.ldt, false);
          sgemm_st(false, false, m, n, d.Dh, doh + i0 * d.ldq, d.ldq, Vt, d.ldt, dS, d.ldt, false);
          for (int64_t r = 0; r < m; ++r) {
            const int64_t i = i0 + r, valid = i + 1;
            float *p = P + r * d.ldt, *ds = dS + r * d.ldt;
            exp_row(p, valid, n, d.scale, lh[i]);
            const float Di = dot(doh + i * d.ldq, oh + i * d.ldq, d.Dh);
            for (int64_t j = 0; j < valid; ++j) ds[j] = d.scale * p[j] * (ds[j] - Di);
            std::fill(ds + valid, ds + n, 0.0f);
          }
          sgemm_st(false, false, m, d.Dh, n, dS, d.ldt, kg, d.ldk, dqh + i0 * d.ldq, d.ldq, false);
          sgemm_st(true, false, n, d.Dh, m, P, d.ldt, doh + i0 * d.ldq, d.ldq, dvg, d.ldk, true);
          sgemm_st(true, false, n, d.Dh, m, dS, d.ldt, qh + i0 * d.ldq, d.ldq, dkg, d.ldk, true);
        }
      }
    }
  });
  return info.Env().Undefined();
}

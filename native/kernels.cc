// Native non-GEMM kernels (attention lives in attention.cc): embedding, RMSNorm, RoPE, SwiGLU, fused
// cross-entropy, elementwise ops, AdamW. Semantics: src/engine/backend.ts; reference: reference/kernels.ts.
#include "common.h"
#include "kernels.h"
#include <algorithm>
#include <cmath>

namespace {

constexpr int64_t kGrain = 1 << 15;  // elements per thread below which elementwise work stays serial

typedef double v4d __attribute__((vector_size(32)));
typedef float v4f __attribute__((vector_size(16)));

thread_local std::vector<double> tl_dbl;
thread_local std::vector<float> tl_flt;

// Σ a[i]² in float64 (four double lanes per half vector).
double sumsq_f64(const float* a, int64_t n) {
  v4d s0 = {}, s1 = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    v4f lo, hi;
    std::memcpy(&lo, a + i, sizeof lo);
    std::memcpy(&hi, a + i + 4, sizeof hi);
    const v4d dl = __builtin_convertvector(lo, v4d), dh = __builtin_convertvector(hi, v4d);
    s0 += dl * dl;
    s1 += dh * dh;
  }
  const v4d s = s0 + s1;
  double r = (s[0] + s[1]) + (s[2] + s[3]);
  for (; i < n; ++i) r += static_cast<double>(a[i]) * a[i];
  return r;
}

// Checks ids[0..n) < V (and ≥ 0 unless negatives mean "ignore"); returns the first bad index or -1.
int64_t first_bad_id(const int32_t* ids, int64_t n, int64_t V, bool allow_negative) {
  for (int64_t i = 0; i < n; ++i)
    if (ids[i] >= V || (ids[i] < 0 && !allow_negative)) return i;
  return -1;
}

Napi::Value bad_id(Napi::Env env, const char* what, const int32_t* ids, int64_t i, int64_t V) {
  return throwRange(env, std::string(what) + "[" + std::to_string(i) + "] = " + std::to_string(ids[i]) +
                             " is outside [0, " + std::to_string(V) + ")");
}

Napi::Value EmbeddingForward(const Napi::CallbackInfo& info) {
  const float* table = f32(info[0]);
  const int32_t* ids = i32(info[1]);
  float* out = f32(info[2]);
  const int64_t n = num(info[3]), D = num(info[4]);
  const int64_t V = D > 0 ? static_cast<int64_t>(info[0].As<Napi::Float32Array>().ElementLength()) / D : 0;
  if (int64_t i = first_bad_id(ids, n, V, false); i >= 0) return bad_id(info.Env(), "embedding id", ids, i, V);
  tp::parallel_for(n, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, D)), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) std::memcpy(out + i * D, table + ids[i] * D, D * sizeof(float));
  });
  return info.Env().Undefined();
}

// Threads split the D columns (not the rows), so repeated ids never race and the order is fixed.
Napi::Value EmbeddingBackward(const Napi::CallbackInfo& info) {
  const float* dout = f32(info[0]);
  const int32_t* ids = i32(info[1]);
  float* dtable = f32(info[2]);
  const int64_t n = num(info[3]), D = num(info[4]);
  const int64_t V = D > 0 ? static_cast<int64_t>(info[2].As<Napi::Float32Array>().ElementLength()) / D : 0;
  if (int64_t i = first_bad_id(ids, n, V, false); i >= 0) return bad_id(info.Env(), "embedding id", ids, i, V);
  tp::parallel_for(D, std::max<int64_t>(64, kGrain / std::max<int64_t>(1, n)), [&](int64_t c0, int64_t c1) {
    for (int64_t i = 0; i < n; ++i) {
      float* dst = dtable + ids[i] * D;
      const float* src = dout + i * D;
      for (int64_t j = c0; j < c1; ++j) dst[j] += src[j];
    }
  });
  return info.Env().Undefined();
}

Napi::Value RmsnormForward(const Napi::CallbackInfo& info) {
  const float *x = f32(info[0]), *w = f32(info[1]);
  float *out = f32(info[2]), *rstd = f32(info[3]);
  const int64_t rows = num(info[4]), D = num(info[5]);
  const double eps = dbl(info[6]);
  tp::parallel_for(rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, D)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * D;
      float* o = out + r * D;
      const float rs = static_cast<float>(1.0 / std::sqrt(sumsq_f64(xr, D) / D + eps));
      rstd[r] = rs;
      for (int64_t j = 0; j < D; ++j) o[j] = xr[j] * rs * w[j];
    }
  });
  return info.Env().Undefined();
}

// dx_j = r·w_j·g_j - x_j·(r³/D)·Σ_i g_i·w_i·x_i;  dw_j += Σ_rows g_j·x_j·r. Rows are cut into a fixed
// number of chunks (independent of the thread count, so results are reproducible); each chunk sums
// its dw part in scratch, and the parts are added in chunk order.
Napi::Value RmsnormBackward(const Napi::CallbackInfo& info) {
  const float *dout = f32(info[0]), *x = f32(info[1]), *w = f32(info[2]), *rstd = f32(info[3]);
  float *dx = f32(info[4]), *dw = f32(info[5]);
  const int64_t rows = num(info[6]), D = num(info[7]);
  const int64_t chunks = std::clamp<int64_t>(rows / 32, 1, 64);
  float* part = scratch(tl_flt, chunks * D);
  tp::parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      float* pw = part + c * D;
      std::fill(pw, pw + D, 0.0f);
      for (int64_t r = rows * c / chunks; r < rows * (c + 1) / chunks; ++r) {
        const float *g = dout + r * D, *xr = x + r * D;
        float* o = dx + r * D;
        const float rs = rstd[r];
        vf acc = {};
        int64_t j = 0;
        for (; j + W <= D; j += W) acc += vload(g + j) * vload(w + j) * vload(xr + j);
        float dot = hsum(acc);
        for (; j < D; ++j) dot += g[j] * w[j] * xr[j];
        const float k = rs * rs * rs * dot / static_cast<float>(D);
        for (j = 0; j < D; ++j) {
          o[j] = rs * w[j] * g[j] - xr[j] * k;
          pw[j] += g[j] * xr[j] * rs;
        }
      }
    }
  });
  for (int64_t c = 0; c < chunks; ++c)
    for (int64_t j = 0; j < D; ++j) dw[j] += part[c * D + j];
  return info.Env().Undefined();
}

// Rotate-half RoPE over [B×T×H×Dh]; both halves are loaded before either is stored, so out may alias x.
Napi::Value Rope(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  float* out = f32(info[1]);
  const int64_t B = num(info[2]), T = num(info[3]), H = num(info[4]), Dh = num(info[5]);
  const float *cosT = f32(info[6]), *sinT = f32(info[7]);
  const bool inverse = flag(info[8]);
  if (Dh % 2 != 0) return throwRange(info.Env(), "rope: Dh must be even");
  const int64_t half = Dh / 2;
  const float sign = inverse ? -1.0f : 1.0f;
  tp::parallel_for(B * T, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, H * Dh)), [&](int64_t r0, int64_t r1) {
    for (int64_t row = r0; row < r1; ++row) {
      const int64_t t = row % T;
      const float *c = cosT + t * half, *s = sinT + t * half;
      for (int64_t h = 0; h < H; ++h) {
        const float* xi = x + (row * H + h) * Dh;
        float* o = out + (row * H + h) * Dh;
        int64_t i = 0;
        for (; i + W <= half; i += W) {
          const vf x1 = vload(xi + i), x2 = vload(xi + half + i), vc = vload(c + i), vs = vsplat(sign) * vload(s + i);
          vstore(o + i, x1 * vc - x2 * vs);
          vstore(o + half + i, x2 * vc + x1 * vs);
        }
        for (; i < half; ++i) {
          const float x1 = xi[i], x2 = xi[half + i], ss = sign * s[i];
          o[i] = x1 * c[i] - x2 * ss;
          o[half + i] = x2 * c[i] + x1 * ss;
        }
      }
    }
  });
  return info.Env().Undefined();
}

// Elementwise kernels run fn(i0, i1) over [0, n) in parallel for large n.
template <typename F>
void elementwise(int64_t n, F&& fn) {
  tp::parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) { fn(i0, i1); });
}

Napi::Value SwigluForward(const Napi::CallbackInfo& info) {
  const float *gate = f32(info[0]), *up = f32(info[1]);
  float* out = f32(info[2]);
  elementwise(num(info[3]), [&](int64_t i0, int64_t i1) {
    int64_t i = i0;
    for (; i + W <= i1; i += W) {
      const vf g = vload(gate + i);
      vstore(out + i, g / (vsplat(1.0f) + vexp(-g)) * vload(up + i));
    }
    for (; i < i1; ++i) out[i] = gate[i] / (1.0f + exp1(-gate[i])) * up[i];
  });
  return info.Env().Undefined();
}

// σ = 1/(1+e^-g):  dgate = dout·up·σ·(1 + g·(1-σ)),  dup = dout·g·σ (all inputs read before stores).
Napi::Value SwigluBackward(const Napi::CallbackInfo& info) {
  const float *dout = f32(info[0]), *gate = f32(info[1]), *up = f32(info[2]);
  float *dgate = f32(info[3]), *dup = f32(info[4]);
  elementwise(num(info[5]), [&](int64_t i0, int64_t i1) {
    const vf one = vsplat(1.0f);
    int64_t i = i0;
    for (; i + W <= i1; i += W) {
      const vf g = vload(gate + i), u = vload(up + i), go = vload(dout + i);
      const vf sig = one / (one + vexp(-g));
      vstore(dgate + i, go * u * sig * (one + g * (one - sig)));
      vstore(dup + i, go * g * sig);
    }
    for (; i < i1; ++i) {
      const float g = gate[i], u = up[i], go = dout[i], sig = 1.0f / (1.0f + exp1(-g));
      dgate[i] = go * u * sig * (1.0f + g * (1.0f - sig));
      dup[i] = go * g * sig;
    }
  });
  return info.Env().Undefined();
}

// Σ_j exp(x[j] - mx), optionally storing each term in e (which may alias x).
float sum_exp(const float* x, float* e, int64_t n, float mx) {
  const vf vm = vsplat(mx);
  vf acc = {};
  int64_t j = 0;
  for (; j + W <= n; j += W) {
    const vf t = vexp(vload(x + j) - vm);
    if (e) vstore(e + j, t);
    acc += t;
  }
  float s = hsum(acc);
  for (; j < n; ++j) {
    const float t = exp1(x[j] - mx);
    if (e) e[j] = t;
    s += t;
  }
  return s;
}

int64_t rows_grain(int64_t V) { return std::max<int64_t>(1, kGrain / std::max<int64_t>(1, V)); }

// losses[i] = logsumexp(row) - row[t]; the float64 per-row losses are summed in row order.
Napi::Value CrossEntropyForward(const Napi::CallbackInfo& info) {
  const float* logits = f32(info[0]);
  const int32_t* targets = i32(info[1]);
  float* losses = f32(info[2]);
  const int64_t N = num(info[3]), V = num(info[4]);
  if (int64_t i = first_bad_id(targets, N, V, true); i >= 0) return bad_id(info.Env(), "target", targets, i, V);
  double* rowLoss = scratch(tl_dbl, N);
  tp::parallel_for(N, rows_grain(V), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float* row = logits + i * V;
      const int32_t t = targets[i];
      double loss = 0;
      if (t >= 0) {
        const float mx = row_max(row, V);
        loss = mx + std::log(static_cast<double>(sum_exp(row, nullptr, V, mx))) - row[t];
      }
      rowLoss[i] = loss;
      losses[i] = static_cast<float>(loss);
    }
  });
  double total = 0;
  for (int64_t i = 0; i < N; ++i) total += rowLoss[i];
  return Napi::Number::New(info.Env(), total);
}

// dlogits = (softmax - onehot)·scale: exp terms are written to dlogits first, then normalized in place,
// so aliasing logits is safe (each element is read before it is overwritten).
Napi::Value CrossEntropyBackward(const Napi::CallbackInfo& info) {
  const float* logits = f32(info[0]);
  const int32_t* targets = i32(info[1]);
  float* dlogits = f32(info[2]);
  const int64_t N = num(info[3]), V = num(info[4]);
  const float scale = static_cast<float>(dbl(info[5]));
  if (int64_t i = first_bad_id(targets, N, V, true); i >= 0) return bad_id(info.Env(), "target", targets, i, V);
  tp::parallel_for(N, rows_grain(V), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float* row = logits + i * V;
      float* d = dlogits + i * V;
      const int32_t t = targets[i];
      if (t < 0) {
        std::fill(d, d + V, 0.0f);
        continue;
      }
      const float mx = row_max(row, V);
      const float k = scale / sum_exp(row, d, V, mx);
      for (int64_t j = 0; j < V; ++j) d[j] *= k;
      d[t] -= scale;
    }
  });
  return info.Env().Undefined();
}

Napi::Value Add(const Napi::CallbackInfo& info) {
  const float *a = f32(info[0]), *b = f32(info[1]);
  float* out = f32(info[2]);
  elementwise(num(info[3]), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) out[i] = a[i] + b[i];
  });
  return info.Env().Undefined();
}

Napi::Value Scale(const Napi::CallbackInfo& info) {
  const float* a = f32(info[0]);
  const float s = static_cast<float>(dbl(info[1]));
  float* out = f32(info[2]);
  elementwise(num(info[3]), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) out[i] = a[i] * s;
  });
  return info.Env().Undefined();
}

// Fixed-size chunks summed in chunk order: the result does not depend on the thread count.
Napi::Value SumSquares(const Napi::CallbackInfo& info) {
  const float* a = f32(info[0]);
  const int64_t n = num(info[1]);
  const int64_t chunks = (n + kGrain - 1) / kGrain;
  double* part = scratch(tl_dbl, chunks);
  tp::parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) part[c] = sumsq_f64(a + c * kGrain, std::min(kGrain, n - c * kGrain));
  });
  double total = 0;
  for (int64_t c = 0; c < chunks; ++c) total += part[c];
  return Napi::Number::New(info.Env(), total);
}

// PyTorch AdamW: decoupled decay first, then the bias-corrected Adam step.
Napi::Value Adamw(const Napi::CallbackInfo& info) {
  float *p = f32(info[0]), *g = f32(info[1]), *m = f32(info[2]), *v = f32(info[3]);
  const int64_t n = num(info[4]);
  const double lr = dbl(info[5]), b1 = dbl(info[6]), b2 = dbl(info[7]), eps = dbl(info[8]), wd = dbl(info[9]);
  const double bc1 = dbl(info[10]), bc2 = dbl(info[11]);
  const float decay = static_cast<float>(1 - lr * wd), fb1 = static_cast<float>(b1), fb2 = static_cast<float>(b2);
  const float c1 = static_cast<float>(1 - b1), c2 = static_cast<float>(1 - b2), feps = static_cast<float>(eps);
  const float step = static_cast<float>(lr / bc1), ibc2 = static_cast<float>(1 / bc2);
  elementwise(n, [&](int64_t i0, int64_t i1) {
    float* __restrict pp = p;
    float* __restrict mm = m;
    float* __restrict vv = v;
    const float* __restrict gg = g;
    for (int64_t i = i0; i < i1; ++i) {
      const float gi = gg[i];
      const float mi = fb1 * mm[i] + c1 * gi;
      const float vi = fb2 * vv[i] + c2 * gi * gi;
      mm[i] = mi;
      vv[i] = vi;
      pp[i] = pp[i] * decay - step * mi / (std::sqrt(vi * ibc2) + feps);
    }
  });
  return info.Env().Undefined();
}

}  // namespace

void RegisterKernels(Napi::Env env, Napi::Object exports) {
  const struct { const char* name; Napi::Value (*fn)(const Napi::CallbackInfo&); } entries[] = {
      {"embeddingForward", EmbeddingForward},     {"embeddingBackward", EmbeddingBackward},
      {"rmsnormForward", RmsnormForward},         {"rmsnormBackward", RmsnormBackward},
      {"rope", Rope},                             {"attentionForward", AttentionForward},
      {"attentionBackward", AttentionBackward},   {"swigluForward", SwigluForward},
      {"swigluBackward", SwigluBackward},         {"crossEntropyForward", CrossEntropyForward},
      {"crossEntropyBackward", CrossEntropyBackward}, {"add", Add},
      {"scale", Scale},                           {"sumSquares", SumSquares},
      {"adamw", Adamw},
  };
  for (const auto& e : entries) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
}

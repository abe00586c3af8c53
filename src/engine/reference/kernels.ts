// Reference kernels: plain TypeScript definitions of every non-GEMM kernel of the Backend contract
// (see ../backend.ts for the exact semantics). Reductions accumulate in float64; clarity over speed.
import type { F32, I32 } from '../backend.js';

function checkHeads(what: string, H: number, KVH: number, Dh: number): void {
  if (!(KVH > 0 && H % KVH === 0 && Dh > 0)) throw new RangeError(`${what}: H must be a positive multiple of KVH, Dh > 0`);
}

function checkIds(ids: I32, n: number, V: number, what: string, allowNegative: boolean): void {
  for (let i = 0; i < n; i++) {
    const id = ids[i];
    if (id >= V || (id < 0 && !allowNegative)) throw new RangeError(`${what}[${i}] = ${id} is outside [0, ${V})`);
  }
}

export function embeddingForward(table: F32, ids: I32, out: F32, n: number, D: number): void {
  checkIds(ids, n, Math.floor(table.length / D), 'embedding id', false);
  for (let i = 0; i < n; i++) out.set(table.subarray(ids[i] * D, ids[i] * D + D), i * D);
}

export function embeddingBackward(dout: F32, ids: I32, dtable: F32, n: number, D: number): void {
  checkIds(ids, n, Math.floor(dtable.length / D), 'embedding id', false);
  for (let i = 0; i < n; i++) {
    const row = ids[i] * D;
    for (let j = 0; j < D; j++) dtable[row + j] += dout[i * D + j];
  }
}

export function rmsnormForward(x: F32, w: F32, out: F32, rstd: F32, rows: number, D: number, eps: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * D;
    let ss = 0;
    for (let j = 0; j < D; j++) ss += x[o + j] * x[o + j];
    const rs = 1 / Math.sqrt(ss / D + eps);
    rstd[r] = rs;
    for (let j = 0; j < D; j++) out[o + j] = x[o + j] * rs * w[j];
  }
}

// With y_j = x_j·r·w_j and r = (Σx²/D + eps)^(-1/2):  ∂r/∂x_j = -r³·x_j/D, so
//   dx_j = r·w_j·g_j - x_j·(r³/D)·Σ_i g_i·w_i·x_i;   dw_j += Σ_rows g_j·x_j·r.
export function rmsnormBackward(dout: F32, x: F32, w: F32, rstd: F32, dx: F32, dw: F32, rows: number, D: number): void {
  const dwAcc = new Float64Array(D);
  for (let r = 0; r < rows; r++) {
    const o = r * D, rs = rstd[r];
    let dot = 0;
    for (let j = 0; j < D; j++) dot += dout[o + j] * w[j] * x[o + j];
    const c = (rs * rs * rs * dot) / D;
    for (let j = 0; j < D; j++) {
      dx[o + j] = rs * w[j] * dout[o + j] - x[o + j] * c;
      dwAcc[j] += dout[o + j] * x[o + j] * rs;
    }
  }
  for (let j = 0; j < D; j++) dw[j] += dwAcc[j];
}

export function rope(x: F32, out: F32, B: number, T: number, H: number, Dh: number, cos: F32, sin: F32, inverse: boolean): void {
  if (Dh % 2 !== 0) throw new RangeError('rope: Dh must be even');
  const half = Dh / 2, sign = inverse ? -1 : 1;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < H; h++) {
        const o = ((b * T + t) * H + h) * Dh;
        for (let i = 0; i < half; i++) {
          const c = cos[t * half + i], s = sign * sin[t * half + i];
          const x1 = x[o + i], x2 = x[o + i + half]; // read both before writing: out may alias x
          out[o + i] = x1 * c - x2 * s;
          out[o + i + half] = x2 * c + x1 * s;
        }
      }
    }
  }
}

export function attentionForward(q: F32, k: F32, v: F32, out: F32, lse: F32,
  B: number, T: number, H: number, KVH: number, Dh: number): void {
  checkHeads('attentionForward', H, KVH, Dh);
  const scale = 1 / Math.sqrt(Dh), rep = H / KVH;
  const p = new Float64Array(T), acc = new Float64Array(Dh);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / rep);
      for (let t = 0; t < T; t++) {
        const qo = ((b * T + t) * H + h) * Dh;
        let max = -Infinity;
        for (let s = 0; s <= t; s++) {
          const ko = ((b * T + s) * KVH + g) * Dh;
          let dot = 0;
          for (let d = 0; d < Dh; d++) dot += q[qo + d] * k[ko + d];
          p[s] = dot * scale;
          if (p[s] > max) max = p[s];
        }
        let sum = 0;
        for (let s = 0; s <= t; s++) sum += (p[s] = Math.exp(p[s] - max));
        acc.fill(0);
        for (let s = 0; s <= t; s++) {
          const vo = ((b * T + s) * KVH + g) * Dh;
          for (let d = 0; d < Dh; d++) acc[d] += p[s] * v[vo + d];
        }
        for (let d = 0; d < Dh; d++) out[qo + d] = acc[d] / sum;
        lse[(b * H + h) * T + t] = max + Math.log(sum);
      }
    }
  }
}

// With P = softmax(S), S = scale·q·kᵀ, out = P·v and D_t = Σ_d dout_t·out_t:
//   dv_s += P_ts·dout_t;  dS_ts = P_ts·(dout_t·v_s - D_t);  dq_t = scale·Σ_s dS_ts·k_s;  dk_s += scale·dS_ts·q_t.
export function attentionBackward(dout: F32, q: F32, k: F32, v: F32, out: F32, lse: F32, dq: F32, dk: F32, dv: F32,
  B: number, T: number, H: number, KVH: number, Dh: number): void {
  checkHeads('attentionBackward', H, KVH, Dh);
  const scale = 1 / Math.sqrt(Dh), rep = H / KVH;
  const dkAcc = new Float64Array(B * T * KVH * Dh), dvAcc = new Float64Array(B * T * KVH * Dh);
  const dqAcc = new Float64Array(Dh);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / rep);
      for (let t = 0; t < T; t++) {
        const qo = ((b * T + t) * H + h) * Dh, l = lse[(b * H + h) * T + t];
        let Dt = 0;
        for (let d = 0; d < Dh; d++) Dt += dout[qo + d] * out[qo + d];
        dqAcc.fill(0);
        for (let s = 0; s <= t; s++) {
          const ko = ((b * T + s) * KVH + g) * Dh;
          let dot = 0, dp = 0;
          for (let d = 0; d < Dh; d++) {
            dot += q[qo + d] * k[ko + d];
            dp += dout[qo + d] * v[ko + d];
          }
          const P = Math.exp(dot * scale - l), dS = P * (dp - Dt) * scale;
          for (let d = 0; d < Dh; d++) {
            dvAcc[ko + d] += P * dout[qo + d];
            dkAcc[ko + d] += dS * q[qo + d];
            dqAcc[d] += dS * k[ko + d];
          }
        }
        for (let d = 0; d < Dh; d++) dq[qo + d] = dqAcc[d];
      }
    }
  }
  dk.set(dkAcc);
  dv.set(dvAcc);
}

export function swigluForward(gate: F32, up: F32, out: F32, n: number): void {
  for (let i = 0; i < n; i++) out[i] = (gate[i] / (1 + Math.exp(-gate[i]))) * up[i];
}

// silu'(g) = σ(g)·(1 + g·(1 - σ(g))).
export function swigluBackward(dout: F32, gate: F32, up: F32, dgate: F32, dup: F32, n: number): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i], sig = 1 / (1 + Math.exp(-g)), go = dout[i];
    const u = up[i]; // read everything before writing, so dgate/dup may alias dout
    dgate[i] = go * u * sig * (1 + g * (1 - sig));
    dup[i] = go * g * sig;
  }
}

function rowLogSumExp(logits: F32, o: number, V: number): number {
  let max = -Infinity;
  for (let j = 0; j < V; j++) if (logits[o + j] > max) max = logits[o + j];
  let sum = 0;
  for (let j = 0; j < V; j++) sum += Math.exp(logits[o + j] - max);
  return max + Math.log(sum);
}

export function crossEntropyForward(logits: F32, targets: I32, losses: F32, N: number, V: number): number {
  checkIds(targets, N, V, 'target', true);
  let total = 0;
  for (let i = 0; i < N; i++) {
    const t = targets[i];
    const loss = t < 0 ? 0 : rowLogSumExp(logits, i * V, V) - logits[i * V + t];
    losses[i] = loss;
    total += loss;
  }
  return total;
}

export function crossEntropyBackward(logits: F32, targets: I32, dlogits: F32, N: number, V: number, scale: number): void {
  checkIds(targets, N, V, 'target', true);
  for (let i = 0; i < N; i++) {
    const o = i * V, t = targets[i];
    if (t < 0) {
      dlogits.fill(0, o, o + V);
      continue;
    }
    const lse = rowLogSumExp(logits, o, V); // computed before any write: dlogits may alias logits
    for (let j = 0; j < V; j++) dlogits[o + j] = (Math.exp(logits[o + j] - lse) - (j === t ? 1 : 0)) * scale;
  }
}

export function add(a: F32, b: F32, out: F32, n: number): void {
  for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
}

export function scale(a: F32, s: number, out: F32, n: number): void {
  for (let i = 0; i < n; i++) out[i] = a[i] * s;
}

export function sumSquares(a: F32, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[i] * a[i];
  return s;
}

export function adamw(p: F32, g: F32, m: F32, v: F32, n: number, lr: number, beta1: number, beta2: number,
  eps: number, wd: number, bc1: number, bc2: number): void {
  const decay = 1 - lr * wd;
  for (let i = 0; i < n; i++) {
    const gi = g[i];
    m[i] = beta1 * m[i] + (1 - beta1) * gi;
    v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
    p[i] = p[i] * decay - (lr * (m[i] / bc1)) / (Math.sqrt(v[i] / bc2) + eps);
  }
}

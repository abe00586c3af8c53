// Outer optimizers applied to an averaged pseudo-gradient Δ (= θ_before − θ_after, so the update
// direction is −Δ): plain SGD (SparseLoCo: θ ← θ − α·Δ) and Nesterov momentum (DiLoCo:
// b ← μ·b + Δ; θ ← θ − lr·(Δ + μ·b), PyTorch's SGD(nesterov=True) formulation).

export function outerSgd(params: Float32Array, delta: Float32Array, alpha: number): void {
  for (let i = 0; i < params.length; i++) params[i] = params[i]! - alpha * delta[i]!;
}

export interface NesterovState {
  buf: Float32Array;
}

export function nesterovInit(n: number): NesterovState {
  return { buf: new Float32Array(n) };
}

export function outerNesterov(params: Float32Array, delta: Float32Array, s: NesterovState, lr: number, momentum: number): void {
  const b = s.buf;
  for (let i = 0; i < params.length; i++) {
    const bi = momentum * b[i]! + delta[i]!;
    b[i] = bi;
    params[i] = params[i]! - lr * (delta[i]! + momentum * bi);
  }
}

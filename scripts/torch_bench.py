#!/usr/bin/env python3
"""PyTorch CPU training-step throughput for the same LLaMA as tessera (the model of scripts/golden.py),
as the yardstick for `tessera bench`.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=2 /usr/bin/python3 scripts/torch_bench.py --steps 10 --warmup 2

prints ONE JSON line: {"tokens_per_s", "step_s", "torch_version", "threads", "params", ...}.
A step is: forward, mean cross-entropy, backward, [clip_grad_norm_ if --clip > 0], AdamW step,
zero_grad(set_to_none=True). Tokens per step = batch × seq.

    /usr/bin/python3 scripts/torch_bench.py --sweep [other args]

runs the benchmark in subprocesses for several thread settings (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS,
torch.set_num_threads) and prints one JSON line per setting, then a final {"best": ...} line.

Which BLAS torch uses matters a lot: Debian's python3-torch calls the system libblas.so.3, which is
the slow reference (netlib) BLAS unless an optimized one (OpenBLAS: libopenblas0-pthread) is installed
or put first on LD_LIBRARY_PATH. The "blas" field of the output names the library actually loaded.
Without installing anything system-wide:

    apt-get download libopenblas0-pthread && dpkg -x libopenblas0-pthread_*.deb /tmp/openblas-root
    LD_LIBRARY_PATH=/tmp/openblas-root/usr/lib/x86_64-linux-gnu/openblas-pthread \\
      OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=2 /usr/bin/python3 scripts/torch_bench.py --threads 1

Measured 2026-11-22 on the 2-core dev VM (reference shape, defaults above, ffn 704, 7.01M params):
reference BLAS ~115 tokens/s (17.5 s/step, thread settings make no difference); OpenBLAS 0.3.21:
torch threads 1 + OPENBLAS_NUM_THREADS=2 fastest (~2500-2700 tokens/s, 0.74-0.82 s/step), torch
threads 2 + OPENBLAS_NUM_THREADS=1 close (~2350-2400), everything single-threaded ~1950, both at 2
(oversubscribed) worst (~700-1400, erratic).
"""
import argparse
import itertools
import json
import math
import os
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden import forward, param_names, param_shape  # noqa: E402  (the one model definition)


def llama_ffn(dim):
    """LLaMA rule: int(8*dim/3) rounded up to a multiple of 64."""
    h = int(8 * dim / 3)
    return ((h + 63) // 64) * 64


def loaded_blas():
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
        return sorted(libs)
    except OSError:
        return []


def bench(args):
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = {"vocab_size": args.vocab, "dim": args.dim, "n_layers": args.layers, "n_heads": args.heads,
           "n_kv_heads": args.kv_heads, "head_dim": args.dim // args.heads, "ffn_hidden": args.ffn,
           "norm_eps": 1e-5, "rope_theta": 10000.0}
    assert args.dim % args.heads == 0 and args.heads % args.kv_heads == 0
    names = param_names(cfg, args.tied)
    p = {}
    for n in names:
        shape = param_shape(cfg, n)
        t = torch.ones(*shape) if len(shape) == 1 else torch.randn(*shape) * 0.02
        p[n] = t.requires_grad_(True)
    params = [p[n] for n in names]
    opt = torch.optim.AdamW(
        [{"params": [x for x in params if x.dim() >= 2], "weight_decay": 0.1},
         {"params": [x for x in params if x.dim() < 2], "weight_decay": 0.0}],
        lr=3e-4, betas=(0.9, 0.95), eps=1e-8)
    B, T, V = args.batch, args.seq, args.vocab
    data = torch.randint(0, V, (args.warmup + args.steps, B, T + 1))

    def step(i):
        x, y = data[i, :, :-1], data[i, :, 1:]
        logits = forward(cfg, p, x, args.tied)
        loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
        loss.backward()
        if args.clip > 0:
            torch.nn.utils.clip_grad_norm_(params, args.clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    for i in range(args.warmup):
        step(i)
    times = []
    for i in range(args.warmup, args.warmup + args.steps):
        t0 = time.perf_counter()
        loss = step(i)
        times.append(time.perf_counter() - t0)
    step_s = sum(times) / len(times)
    return {
        "tokens_per_s": round(B * T / step_s, 1),
        "step_s": round(step_s, 4),
        "step_s_min": round(min(times), 4),
        "step_s_median": round(sorted(times)[len(times) // 2], 4),
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "params": sum(x.numel() for x in params),
        "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
        "blas": loaded_blas(),
        "shape": {"dim": args.dim, "layers": args.layers, "heads": args.heads, "kv_heads": args.kv_heads,
                  "seq": T, "batch": B, "vocab": V, "ffn": args.ffn, "tied": args.tied},
        "steps": args.steps, "warmup": args.warmup, "clip": args.clip, "last_loss": round(loss, 4),
    }


def sweep(args, argv):
    base = [a for a in argv if a != "--sweep"]
    base = [a for i, a in enumerate(base) if a != "--threads" and (i == 0 or base[i - 1] != "--threads")]
    results = []
    for omp, ob, th in itertools.product(("1", "2"), ("1", "2"), (1, 2)):
        env = dict(os.environ, OMP_NUM_THREADS=omp, OPENBLAS_NUM_THREADS=ob)
        cmd = [sys.executable, os.path.abspath(__file__), *base, "--threads", str(th)]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if out.returncode != 0:
            print(json.dumps({"error": out.stderr.strip()[-500:], "OMP_NUM_THREADS": omp,
                              "OPENBLAS_NUM_THREADS": ob, "threads": th}), flush=True)
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        r["setting"] = f"OMP_NUM_THREADS={omp} OPENBLAS_NUM_THREADS={ob} --threads {th}"
        print(json.dumps(r), flush=True)
        results.append(r)
    if results:
        best = max(results, key=lambda r: r["tokens_per_s"])
        print(json.dumps({"best": best["setting"], "tokens_per_s": best["tokens_per_s"],
                          "step_s": best["step_s"]}), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--ffn", type=int, default=0, help="FFN hidden size (default: LLaMA rule, int(8*dim/3) rounded up to 64)")
    ap.add_argument("--tied", action="store_true", help="tie output to tok_embeddings (default untied)")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default: torch's choice)")
    ap.add_argument("--clip", type=float, default=0.0, help="clip_grad_norm_ max_norm per step (0 = off)")
    ap.add_argument("--sweep", action="store_true", help="try several thread settings in subprocesses")
    args = ap.parse_args()
    if args.ffn <= 0:
        args.ffn = llama_ffn(args.dim)
    if args.sweep:
        sweep(args, sys.argv[1:])
        return
    print(json.dumps(bench(args)), flush=True)


if __name__ == "__main__":
    main()

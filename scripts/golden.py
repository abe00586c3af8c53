#!/usr/bin/env python3
"""Golden reference for tessera's LLaMA: forward, loss, backward, grad clipping and one AdamW step,
computed with PyTorch in float32 and written to test/golden/*.safetensors.

Run from the repository root with a python that has torch (Debian: /usr/bin/python3 with python3-torch):

    /usr/bin/python3 scripts/golden.py            # writes test/golden/llama_{untied,tied}.safetensors
    /usr/bin/python3 scripts/golden.py --check64  # also prints how far float32 is from a float64 run

The model is written out by hand (no nn.Linear / nn.Module magic) so that every operation is visible
and matches the tessera definition exactly; see test/golden.md for the semantics and tolerance policy.
The safetensors writer is also hand-written (the `safetensors` package is not needed).
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

CONFIG = {
    "vocab_size": 96,
    "dim": 64,
    "n_layers": 2,
    "n_heads": 4,
    "n_kv_heads": 2,
    "head_dim": 16,
    "ffn_hidden": 96,
    "norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "batch": 2,
    "seq": 16,
    "seed": 1234,
    "init_std": 0.02,
    "norm_init": "1 + 0.1*randn",
    "optimizer": {
        "clip_max_norm": 0.05,
        "lr": 1e-2,
        "betas": [0.9, 0.95],
        "eps": 1e-8,
        "weight_decay_2d": 0.1,
        "weight_decay_1d": 0.0,
        "type": "AdamW (torch.optim.AdamW, one step, bias-corrected, decoupled decay p *= 1 - lr*wd)",
    },
}


# ----------------------------------------------------------------------------------------------
# Parameters (Meta LLaMA names). Creation order is fixed so the values are reproducible.
# ----------------------------------------------------------------------------------------------

def param_names(cfg, tied):
    names = ["tok_embeddings.weight"]
    for i in range(cfg["n_layers"]):
        p = f"layers.{i}."
        names += [p + "attention_norm.weight", p + "attention.wq.weight", p + "attention.wk.weight",
                  p + "attention.wv.weight", p + "attention.wo.weight", p + "ffn_norm.weight",
                  p + "feed_forward.w1.weight", p + "feed_forward.w2.weight", p + "feed_forward.w3.weight"]
    names.append("norm.weight")
    if not tied:
        names.append("output.weight")
    return names


def param_shape(cfg, name):
    V, D, H, KVH, Dh, Fh = (cfg["vocab_size"], cfg["dim"], cfg["n_heads"], cfg["n_kv_heads"],
                            cfg["head_dim"], cfg["ffn_hidden"])
    last = name.split(".")[-2]
    return {
        "tok_embeddings": [V, D], "output": [V, D],
        "attention_norm": [D], "ffn_norm": [D], "norm": [D],
        "wq": [H * Dh, D], "wk": [KVH * Dh, D], "wv": [KVH * Dh, D], "wo": [D, H * Dh],
        "w1": [Fh, D], "w2": [D, Fh], "w3": [Fh, D],
    }[last]


def make_inputs_and_params(cfg):
    """tokens and targets first, then every parameter in param_names order, output.weight last, so the
    tied variant (which drops output.weight) gets exactly the same values for everything else."""
    torch.manual_seed(cfg["seed"])
    B, T, V = cfg["batch"], cfg["seq"], cfg["vocab_size"]
    tokens = torch.randint(0, V, (B, T), dtype=torch.int64)
    targets = torch.randint(0, V, (B, T), dtype=torch.int64)
    params = {}
    for name in param_names(cfg, tied=False):
        shape = param_shape(cfg, name)
        if len(shape) == 1:
            params[name] = 1.0 + 0.1 * torch.randn(*shape, dtype=torch.float32)
        else:
            params[name] = cfg["init_std"] * torch.randn(*shape, dtype=torch.float32)
    return tokens, targets, params


# ----------------------------------------------------------------------------------------------
# Forward
# ----------------------------------------------------------------------------------------------

def rmsnorm(x, w, eps):
    # x * rsqrt(mean(x^2) + eps) * w, in the tensor's dtype (float32 for the golden run)
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope_tables(T, Dh, theta, dtype):
    half = Dh // 2
    i = torch.arange(half, dtype=torch.float64)
    freq = theta ** (-2.0 * i / Dh)                      # freq_i = theta^(-2i/Dh)
    t = torch.arange(T, dtype=torch.float64)
    ang = t[:, None] * freq[None, :]                     # [T, Dh/2]
    # Tables computed in float64 then rounded (tessera: the rounding of cos/sin of the exact angle).
    return torch.cos(ang).to(dtype), torch.sin(ang).to(dtype)


def rope(x, cos, sin):
    # x: [B, T, nh, Dh]; rotate-half convention
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    c = cos[None, :, None, :]
    s = sin[None, :, None, :]
    return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], dim=-1)


def forward(cfg, p, tokens, tied):
    B, T = tokens.shape
    D, H, KVH, Dh, eps = cfg["dim"], cfg["n_heads"], cfg["n_kv_heads"], cfg["head_dim"], cfg["norm_eps"]
    dtype = p["tok_embeddings.weight"].dtype
    cos, sin = rope_tables(T, Dh, cfg["rope_theta"], dtype)
    mask = torch.ones(T, T, dtype=torch.bool).triu(1)    # True above the diagonal = masked
    h = p["tok_embeddings.weight"][tokens]               # [B, T, D]
    for i in range(cfg["n_layers"]):
        pre = f"layers.{i}."
        n1 = rmsnorm(h, p[pre + "attention_norm.weight"], eps)
        q = (n1 @ p[pre + "attention.wq.weight"].T).view(B, T, H, Dh)
        k = (n1 @ p[pre + "attention.wk.weight"].T).view(B, T, KVH, Dh)
        v = (n1 @ p[pre + "attention.wv.weight"].T).view(B, T, KVH, Dh)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        rep = H // KVH                                   # query head h uses kv head h // rep
        k = k.repeat_interleave(rep, dim=2)
        v = v.repeat_interleave(rep, dim=2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)   # [B, H, T, Dh]
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(Dh))
        scores = scores.masked_fill(mask, float("-inf"))
        att = torch.softmax(scores, dim=-1)
        o = (att @ v).transpose(1, 2).reshape(B, T, H * Dh)
        h = h + o @ p[pre + "attention.wo.weight"].T
        n2 = rmsnorm(h, p[pre + "ffn_norm.weight"], eps)
        g = F.silu(n2 @ p[pre + "feed_forward.w1.weight"].T) * (n2 @ p[pre + "feed_forward.w3.weight"].T)
        h = h + g @ p[pre + "feed_forward.w2.weight"].T
    h = rmsnorm(h, p["norm.weight"], eps)
    out_w = p["tok_embeddings.weight"] if tied else p["output.weight"]
    return h @ out_w.T                                   # [B, T, V]


def run(cfg, tokens, targets, init, tied, dtype):
    names = param_names(cfg, tied)
    p = {n: init[n].clone().to(dtype).requires_grad_(True) for n in names}
    logits = forward(cfg, p, tokens, tied)
    V = cfg["vocab_size"]
    loss = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))   # mean over B*T
    loss.backward()
    grads = {n: p[n].grad.detach().clone() for n in names}
    o = cfg["optimizer"]
    params = [p[n] for n in names]
    pre_clip = torch.nn.utils.clip_grad_norm_(params, max_norm=o["clip_max_norm"])
    decay = [p[n] for n in names if p[n].dim() >= 2]
    no_decay = [p[n] for n in names if p[n].dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": o["weight_decay_2d"]},
         {"params": no_decay, "weight_decay": o["weight_decay_1d"]}],
        lr=o["lr"], betas=tuple(o["betas"]), eps=o["eps"])
    opt.step()
    after = {n: p[n].detach().clone() for n in names}
    return logits.detach(), loss.detach(), grads, pre_clip.detach(), after


# ----------------------------------------------------------------------------------------------
# Hand-written safetensors writer
# ----------------------------------------------------------------------------------------------

ST_DTYPES = {np.dtype("<f4"): "F32", np.dtype("<f8"): "F64", np.dtype("<i4"): "I32",
             np.dtype("<i8"): "I64", np.dtype("<u2"): "U16", np.dtype("u1"): "U8"}


def write_safetensors(path, arrays, metadata):
    """arrays: name -> numpy array (little-endian, one of ST_DTYPES). Header keys sorted, header padded
    with spaces so the data starts 8-byte aligned, data ordered by (element size desc, name) so every
    tensor is aligned; atomic (temp file + fsync + rename)."""
    arrays = {n: np.ascontiguousarray(a) for n, a in arrays.items()}
    for n, a in arrays.items():
        assert a.dtype in ST_DTYPES, f"{n}: unsupported dtype {a.dtype}"
    # data section: largest element size first, then by name (keeps every tensor aligned)
    order = sorted(arrays, key=lambda n: (-arrays[n].dtype.itemsize, n))
    blobs, entries, offset = [], {}, 0
    for name in order:
        a = arrays[name]
        b = a.tobytes(order="C")
        entries[name] = {"dtype": ST_DTYPES[a.dtype], "shape": list(a.shape),
                         "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    header = {"__metadata__": dict(sorted(metadata.items()))}
    for name in sorted(entries):                         # header keys sorted
        header[name] = entries[name]
    hj = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hj += b" " * ((8 - (8 + len(hj)) % 8) % 8)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def manual_clip_adamw(cfg, params, grads):
    """The documented optimizer semantics, in float64 numpy from the stored float32 params and grads
    (torch 1.13's clip_grad_norm_ + AdamW, first step). Used to check that test/golden.md is right."""
    o = cfg["optimizer"]
    total = math.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads.values()))
    coef = min(1.0, o["clip_max_norm"] / (total + 1e-6))
    b1, b2 = o["betas"]
    lr, eps, step = o["lr"], o["eps"], 1
    out = {}
    for n, p in params.items():
        p = p.astype(np.float64)
        g = grads[n].astype(np.float64) * coef
        wd = o["weight_decay_2d"] if p.ndim >= 2 else o["weight_decay_1d"]
        p = p * (1 - lr * wd)
        m = (1 - b1) * g
        v = (1 - b2) * g * g
        denom = np.sqrt(v) / math.sqrt(1 - b2 ** step) + eps
        out[n] = p - (lr / (1 - b1 ** step)) * m / denom
    return total, out


def rel_err(a, b):
    """The tolerance metric of test/golden.md: max|a-b| / max(max|b|, tiny), per tensor."""
    a = a.double()
    b = b.double()
    return (a - b).abs().max().item() / max(b.abs().max().item(), 1e-30)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", default="test/golden")
    ap.add_argument("--check64", action="store_true",
                    help="also run in float64 (not stored) and print the float32-vs-float64 error per tensor")
    args = ap.parse_args()

    torch.set_default_dtype(torch.float32)
    torch.use_deterministic_algorithms(True)
    cfg = CONFIG
    assert cfg["head_dim"] * cfg["n_heads"] == cfg["dim"]
    assert cfg["n_heads"] % cfg["n_kv_heads"] == 0
    tokens, targets, init = make_inputs_and_params(cfg)
    os.makedirs(args.out_dir, exist_ok=True)

    for tied in (False, True):
        variant = "tied" if tied else "untied"
        logits, loss, grads, pre_clip, after = run(cfg, tokens, targets, init, tied, torch.float32)
        max_norm = cfg["optimizer"]["clip_max_norm"]
        assert pre_clip.item() > max_norm, f"clipping must be active: pre-clip norm {pre_clip.item()} <= {max_norm}"
        names = param_names(cfg, tied)
        arrays = {
            "tokens": tokens.to(torch.int32).numpy(),
            "targets": targets.to(torch.int32).numpy(),
            "logits": logits.numpy().astype("<f4"),
            "loss": loss.reshape(1).numpy().astype("<f4"),
            "grad_norm": pre_clip.reshape(1).to(torch.float32).numpy().astype("<f4"),
        }
        for n in names:
            arrays["param." + n] = init[n].numpy().astype("<f4")
            arrays["grad." + n] = grads[n].numpy().astype("<f4")
            arrays["after." + n] = after[n].numpy().astype("<f4")
        # The optimizer step recomputed by hand from the stored float32 params and grads must agree.
        total, manual = manual_clip_adamw(cfg, {n: arrays["param." + n] for n in names},
                                          {n: arrays["grad." + n] for n in names})
        assert abs(total - pre_clip.item()) <= 1e-5 * total, (total, pre_clip.item())
        opt_err = max(rel_err(torch.from_numpy(arrays["after." + n]), torch.from_numpy(manual[n])) for n in names)
        assert opt_err < 1e-5, f"hand-written clip+AdamW disagrees with torch: {opt_err}"
        vcfg = dict(cfg, tied_embeddings=tied)
        meta = {
            "config": json.dumps(vcfg, sort_keys=True),
            "torch_version": torch.__version__,
            "param_names": json.dumps(names),
            "generator": "scripts/golden.py",
        }
        path = os.path.join(args.out_dir, f"llama_{variant}.safetensors")
        write_safetensors(path, arrays, meta)
        nparams = sum(init[n].numel() for n in names)
        print(f"{path}: {os.path.getsize(path)} bytes, {len(arrays)} tensors, {nparams} parameters")
        print(f"  loss {loss.item():.7f} (ln V = {math.log(cfg['vocab_size']):.7f}), "
              f"pre-clip grad norm {pre_clip.item():.7f} > max_norm {max_norm} (clip coef {max_norm / (pre_clip.item() + 1e-6):.5f})")
        print(f"  logits |max| {logits.abs().max().item():.5f}; "
              f"|grad| max {max(g.abs().max().item() for g in grads.values()):.3e}; "
              f"|after-param| max {max((after[n] - init[n]).abs().max().item() for n in names):.3e}")
        print(f"  hand-written clip+AdamW (float64, from the stored grads) vs torch after.*: max rel err {opt_err:.2e}")

        if args.check64:
            l64, loss64, g64, n64, a64 = run(cfg, tokens, targets, init, tied, torch.float64)
            errs = {"logits": rel_err(logits, l64), "loss": rel_err(loss.reshape(1), loss64.reshape(1)),
                    "grad_norm": rel_err(pre_clip.reshape(1), n64.reshape(1))}
            for n in names:
                errs["grad." + n] = rel_err(grads[n], g64[n])
                errs["after." + n] = rel_err(after[n], a64[n])
            for group in ("logits", "loss", "grad_norm", "grad.", "after."):
                sel = {k: v for k, v in errs.items() if k.startswith(group)}
                k, v = max(sel.items(), key=lambda kv: kv[1])
                print(f"  float32 vs float64, max|a-b|/max|b|: {group:<9} worst {v:.2e} ({k})")

    print(f"torch {torch.__version__}; tokens[0,:8] = {tokens[0, :8].tolist()}")


if __name__ == "__main__":
    sys.exit(main())

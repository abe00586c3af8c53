#!/usr/bin/env python3
"""Parity of a tessera Hugging Face export with LlamaForCausalLM, in PyTorch, from config.json alone.

The forward below is Hugging Face's LLaMA (transformers' modeling_llama.py, eager attention) written
out: embed_tokens → per layer [input_layernorm → q/k/v_proj → RoPE by rotate_half (inv_freq =
1 / rope_theta^(2i/head_dim), cos/sin of cat(freqs, freqs)) → repeat_kv for GQA → softmax(q·kᵀ ·
head_dim^-0.5 + causal mask) in float32 → o_proj, residual → post_attention_layernorm →
down_proj(silu(gate_proj(x)) · up_proj(x)), residual] → model.norm → lm_head (embed_tokens when
tie_word_embeddings). RMSNorm as LlamaRMSNorm: variance in float32, weight · (x · rsqrt(var + eps)).
Nothing of tessera is imported; transformers is not needed (Debian: apt-get install python3-torch).

    # tessera side: export and tessera's logits on fixed tokens
    npx tessera export --checkpoint runs/x --format hf --out /tmp/hf --logits /tmp/hf-tessera-logits.safetensors
    # this script: the HF forward on the same tokens, compared (exit 1 above --tol)
    /usr/bin/python3 scripts/hf_parity.py /tmp/hf --tessera /tmp/hf-tessera-logits.safetensors

    # committed CI vectors (test/golden/hf_parity_*.safetensors): the HF logits of an export,
    # with the sha256 of the config.json and model.safetensors they were computed from
    /usr/bin/python3 scripts/hf_parity.py /tmp/hf --tessera /tmp/t.safetensors --write test/golden/hf_parity_untied.safetensors
"""
import argparse
import hashlib
import json
import math
import os
import struct
import sys

import numpy as np
import torch

DTYPES = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, t in header.items():
        a, b = t["data_offsets"]
        arr = np.frombuffer(raw[base + a:base + b], dtype=DTYPES[t["dtype"]]).reshape(t["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out, meta


def write_safetensors(path, tensors, metadata):
    codes = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64", np.dtype(np.int32): "I32"}
    header, blobs, off = {}, [], 0
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        b = arr.tobytes()
        header[name] = {"dtype": codes[arr.dtype], "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


class Config:
    def __init__(self, c):
        unsupported = [k for k in ("num_local_experts", "num_experts") if c.get(k)]
        if c.get("model_type") != "llama" or unsupported or c.get("rope_scaling") or c.get("attention_bias") or c.get("mlp_bias") \
                or c.get("hidden_act", "silu") != "silu":
            sys.exit(f"config.json describes a model this script does not implement: {json.dumps(c)[:300]}")
        self.hidden = c["hidden_size"]
        self.layers = c["num_hidden_layers"]
        self.heads = c["num_attention_heads"]
        self.kv_heads = c.get("num_key_value_heads", self.heads)
        self.head_dim = c.get("head_dim") or self.hidden // self.heads
        self.inter = c["intermediate_size"]
        self.eps = c["rms_norm_eps"]
        self.theta = c.get("rope_theta", 10000.0)
        self.vocab = c["vocab_size"]
        self.tied = bool(c.get("tie_word_embeddings", False))


def rms_norm(x, w, eps):
    dtype = x.dtype
    h = x.to(torch.float32)
    var = h.pow(2).mean(-1, keepdim=True)
    h = h * torch.rsqrt(var + eps)
    return w * h.to(dtype)


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rope_cos_sin(cfg, T):
    inv_freq = 1.0 / (cfg.theta ** (torch.arange(0, cfg.head_dim, 2, dtype=torch.int64).float() / cfg.head_dim))
    pos = torch.arange(T, dtype=torch.float32)
    freqs = torch.outer(pos, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def repeat_kv(x, n_rep):
    B, KVH, T, Dh = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None, :, :].expand(B, KVH, n_rep, T, Dh).reshape(B, KVH * n_rep, T, Dh)


def forward(cfg, W, ids):
    B, T = ids.shape
    h = W["model.embed_tokens.weight"][ids]
    cos, sin = rope_cos_sin(cfg, T)
    cos, sin = cos[None, None], sin[None, None]
    mask = torch.full((T, T), torch.finfo(torch.float32).min).triu(1)
    for i in range(cfg.layers):
        p = f"model.layers.{i}."
        x = rms_norm(h, W[p + "input_layernorm.weight"], cfg.eps)
        q = (x @ W[p + "self_attn.q_proj.weight"].T).view(B, T, cfg.heads, cfg.head_dim).transpose(1, 2)
        k = (x @ W[p + "self_attn.k_proj.weight"].T).view(B, T, cfg.kv_heads, cfg.head_dim).transpose(1, 2)
        v = (x @ W[p + "self_attn.v_proj.weight"].T).view(B, T, cfg.kv_heads, cfg.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = repeat_kv(k, cfg.heads // cfg.kv_heads)
        v = repeat_kv(v, cfg.heads // cfg.kv_heads)
        att = (q @ k.transpose(2, 3)) * (cfg.head_dim ** -0.5) + mask
        att = torch.softmax(att, dim=-1, dtype=torch.float32).to(q.dtype)
        o = (att @ v).transpose(1, 2).reshape(B, T, cfg.heads * cfg.head_dim)
        h = h + o @ W[p + "self_attn.o_proj.weight"].T
        y = rms_norm(h, W[p + "post_attention_layernorm.weight"], cfg.eps)
        gate = torch.nn.functional.silu(y @ W[p + "mlp.gate_proj.weight"].T)
        h = h + (gate * (y @ W[p + "mlp.up_proj.weight"].T)) @ W[p + "mlp.down_proj.weight"].T
    h = rms_norm(h, W["model.norm.weight"], cfg.eps)
    head = W["model.embed_tokens.weight"] if cfg.tied else W["lm_head.weight"]
    return h @ head.T


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("export", help="the folder written by tessera export --format hf")
    ap.add_argument("--tessera", required=True, help="tessera's logits (tessera export --logits FILE): tokens [B,T] and logits [B,T,V]")
    ap.add_argument("--tol", type=float, default=1e-4, help="largest accepted max|hf - tessera| / max|hf| (default 1e-4)")
    ap.add_argument("--write", help="also write the HF logits, tokens and the export's file hashes here (CI vectors)")
    a = ap.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    with open(os.path.join(a.export, "config.json")) as f:
        cfg = Config(json.load(f))
    W, _ = read_safetensors(os.path.join(a.export, "model.safetensors"))
    W = {k: v.to(torch.float32) for k, v in W.items()}
    ref, meta = read_safetensors(a.tessera)
    ids = ref["tokens"].to(torch.int64)
    with torch.no_grad():
        logits = forward(cfg, W, ids)
    tl = ref["logits"].to(torch.float32)
    if tuple(tl.shape) != tuple(logits.shape):
        sys.exit(f"shape mismatch: tessera logits {tuple(tl.shape)}, HF logits {tuple(logits.shape)}")
    err = float((logits - tl).abs().max() / logits.abs().max().clamp_min(1e-30))
    agree = float((logits.argmax(-1) == tl.argmax(-1)).float().mean())
    print(json.dumps({"export": a.export, "tokens": list(ids.shape), "vocab": cfg.vocab, "max_rel_err": err, "tol": a.tol,
                      "argmax_agreement": agree, "tessera": meta, "torch": torch.__version__, "ok": err <= a.tol}))
    if a.write:
        write_safetensors(a.write, {"tokens": ids.numpy().astype(np.int64), "logits": logits.numpy().astype(np.float32)}, {
            "config_sha256": sha256(os.path.join(a.export, "config.json")),
            "weights_sha256": sha256(os.path.join(a.export, "model.safetensors")),
            "made_by": "scripts/hf_parity.py (PyTorch " + torch.__version__ + ")",
        })
    sys.exit(0 if err <= a.tol else 1)


if __name__ == "__main__":
    main()

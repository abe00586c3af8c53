// The Hugging Face layout of a tessera model (what `LlamaForCausalLM` loads): config.json,
// model.safetensors with the HF tensor names, generation_config.json, tokenizer.json and
// tokenizer_config.json. Export writes it from a tessera model; import reads it back (one file or a
// sharded model.safetensors.index.json), refusing any config the tessera forward would not compute
// exactly (MoE, biases, RoPE scaling, other activations, odd head dims).
//
// Layouts. tessera stores every matrix as [out, in] like torch's nn.Linear, and its RoPE rotates
// dimension i with i + Dh/2 (the halves, ops in src/engine/reference/kernels.ts rope) — the same
// pairing as HF's rotate_half — so the q/k projections need NO permutation (Meta's original
// checkpoints pair 2i with 2i+1 and do need one; tessera does not). GQA: query head h reads KV head
// floor(h / (H/KVH)), which is HF's repeat_kv. The mapping is therefore a pure renaming.
import { existsSync, mkdirSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateConfig, type ModelConfig } from '../model/config.js';
import { paramLayout, type ParamLayout } from '../model/params.js';
import { TesseraError } from '../util/errors.js';
import { bf16ToFloat32, halfToFloat32, readSafetensors, writeSafetensors, type Tensor } from '../util/safetensors.js';
import { loadTokenizer, type Tokenizer } from '../data/index.js';
import { fingerprint } from '../compress/index.js';
import { Graph } from '../engine/autograd.js';
import type { Backend } from '../engine/backend.js';
import { createLlama, forward } from '../model/llama.js';
import { ADAMW_DEFAULTS } from '../optim/index.js';
import { saveCheckpoint } from '../train/checkpoint.js';
import { makeRng } from '../util/rng.js';

export const HF_FILES = {
  config: 'config.json',
  weights: 'model.safetensors',
  index: 'model.safetensors.index.json',
  generation: 'generation_config.json',
  tokenizer: 'tokenizer.json',
  tokenizerConfig: 'tokenizer_config.json',
} as const;

/** tessera (Meta LLaMA) parameter name → Hugging Face LlamaForCausalLM name. */
export function hfName(name: string): string {
  const fixed: Record<string, string> = { 'tok_embeddings.weight': 'model.embed_tokens.weight', 'norm.weight': 'model.norm.weight', 'output.weight': 'lm_head.weight' };
  if (fixed[name]) return fixed[name]!;
  const m = /^layers\.(\d+)\.(.+)$/.exec(name);
  const sub: Record<string, string> = {
    'attention_norm.weight': 'input_layernorm.weight',
    'attention.wq.weight': 'self_attn.q_proj.weight',
    'attention.wk.weight': 'self_attn.k_proj.weight',
    'attention.wv.weight': 'self_attn.v_proj.weight',
    'attention.wo.weight': 'self_attn.o_proj.weight',
    'ffn_norm.weight': 'post_attention_layernorm.weight',
    'feed_forward.w1.weight': 'mlp.gate_proj.weight',
    'feed_forward.w2.weight': 'mlp.down_proj.weight',
    'feed_forward.w3.weight': 'mlp.up_proj.weight',
  };
  if (!m || !sub[m[2]!]) throw new Error(`hfName: no Hugging Face name for tessera parameter ${name}`);
  return `model.layers.${m[1]}.${sub[m[2]!]}`;
}

/** The HF config.json of a tessera model (LlamaForCausalLM, float32). */
export function toHfConfig(c: ModelConfig, tok: { bosId: number | null; eosId: number | null }): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: c.dim,
    intermediate_size: c.ffnHidden,
    num_hidden_layers: c.nLayers,
    num_attention_heads: c.nHeads,
    num_key_value_heads: c.nKvHeads,
    head_dim: c.dim / c.nHeads,
    hidden_act: 'silu',
    max_position_embeddings: c.maxSeqLen,
    rms_norm_eps: c.normEps,
    rope_theta: c.ropeTheta,
    rope_scaling: null,
    attention_bias: false,
    attention_dropout: 0.0,
    mlp_bias: false,
    pretraining_tp: 1,
    tie_word_embeddings: c.tiedEmbeddings,
    vocab_size: c.vocabSize,
    bos_token_id: tok.bosId,
    eos_token_id: tok.eosId,
    initializer_range: 0.02,
    torch_dtype: 'float32',
    use_cache: true,
  };
}

type Obj = Record<string, unknown>;

/**
 * The tessera ModelConfig of an HF config.json, or a TesseraError naming the file and the field the
 * tessera forward cannot compute exactly.
 */
export function fromHfConfig(raw: unknown, file: string): ModelConfig {
  const what = 'tessera imports dense LLaMA models only (LlamaForCausalLM: SiLU SwiGLU MLP, RMSNorm, RoPE without scaling, no biases); convert or choose a model of that shape';
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new TesseraError(`${file}: not a JSON object`, 'pass the folder of a Hugging Face model (config.json + model.safetensors)');
  const c = raw as Obj;
  const arch = Array.isArray(c.architectures) ? c.architectures.map(String) : [];
  if (c.model_type !== 'llama' || (arch.length > 0 && !arch.includes('LlamaForCausalLM'))) {
    throw new TesseraError(`${file}: unsupported model: model_type ${JSON.stringify(c.model_type)}, architectures ${JSON.stringify(arch)} (tessera reads LlamaForCausalLM)`, what);
  }
  for (const k of ['num_local_experts', 'num_experts', 'num_experts_per_tok', 'moe_intermediate_size', 'n_routed_experts']) {
    if (c[k] !== undefined && c[k] !== null && c[k] !== 0) throw new TesseraError(`${file}: a mixture-of-experts config (${k} = ${JSON.stringify(c[k])}) is not supported`, what);
  }
  const unsupported: [string, boolean][] = [
    ['hidden_act', c.hidden_act !== undefined && c.hidden_act !== 'silu'],
    ['rope_scaling', c.rope_scaling !== undefined && c.rope_scaling !== null],
    ['attention_bias', c.attention_bias === true],
    ['mlp_bias', c.mlp_bias === true],
    ['pretraining_tp', c.pretraining_tp !== undefined && c.pretraining_tp !== 1],
  ];
  for (const [k, bad] of unsupported) if (bad) throw new TesseraError(`${file}: ${k} = ${JSON.stringify(c[k])} is not supported`, what);
  const int = (k: string, dflt?: number): number => {
    const v = c[k] ?? dflt;
    if (!Number.isSafeInteger(v) || (v as number) <= 0) throw new TesseraError(`${file}: ${k} must be a positive integer (got ${JSON.stringify(c[k])})`, what);
    return v as number;
  };
  const num = (k: string, dflt: number): number => {
    const v = c[k] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new TesseraError(`${file}: ${k} must be a positive number (got ${JSON.stringify(c[k])})`, what);
    return v;
  };
  const dim = int('hidden_size'), nHeads = int('num_attention_heads');
  const cfg: ModelConfig = {
    vocabSize: int('vocab_size'), dim, nLayers: int('num_hidden_layers'), nHeads,
    nKvHeads: int('num_key_value_heads', nHeads), ffnHidden: int('intermediate_size'),
    maxSeqLen: int('max_position_embeddings', 2048), normEps: num('rms_norm_eps', 1e-6), ropeTheta: num('rope_theta', 10000),
    tiedEmbeddings: c.tie_word_embeddings === true,
  };
  if (c.head_dim !== undefined && c.head_dim !== null && c.head_dim !== dim / nHeads) {
    throw new TesseraError(`${file}: head_dim ${JSON.stringify(c.head_dim)} differs from hidden_size / num_attention_heads = ${dim / nHeads}`, what);
  }
  try { validateConfig(cfg); } catch (e) { throw new TesseraError(`${file}: ${(e as Error).message}`, what); }
  return cfg;
}

export interface HfExportInput {
  config: ModelConfig;
  params: Float32Array;
  tokenizerPath: string;
  /** Provenance written into the safetensors metadata. */
  source: string;
}

/** Writes the HF layout into `out` (created); returns the files written. */
export function exportHf(x: HfExportInput, out: string): string[] {
  const c = validateConfig(x.config);
  const layout = paramLayout(c);
  if (x.params.length !== layout.total) throw new Error(`exportHf: ${x.params.length} parameters, the config needs ${layout.total}`);
  const tok = loadTokenizer(x.tokenizerPath);
  checkTokenizerFits(tok, c.vocabSize, x.tokenizerPath, 'the checkpoint');
  mkdirSync(out, { recursive: true });
  const eos = tok.eotId ?? null;
  const tensors: Record<string, Tensor> = {};
  for (const s of layout.specs) tensors[hfName(s.name)] = { dtype: 'F32', shape: [...s.shape], data: x.params.subarray(s.offset, s.offset + s.size) };
  writeSafetensors(join(out, HF_FILES.weights), tensors, { format: 'pt', tessera_source: x.source });
  const json = (f: string, o: unknown): void => writeFileSync(join(out, f), JSON.stringify(o, null, 2) + '\n');
  json(HF_FILES.config, toHfConfig(c, { bosId: eos, eosId: eos }));
  json(HF_FILES.generation, { _from_model_config: true, bos_token_id: eos, eos_token_id: eos });
  copyFileSync(x.tokenizerPath, join(out, HF_FILES.tokenizer));
  const eotText = eos === null ? null : tok.tokenOf(eos) ?? null;
  json(HF_FILES.tokenizerConfig, {
    tokenizer_class: 'PreTrainedTokenizerFast',
    model_max_length: c.maxSeqLen,
    bos_token: eotText, eos_token: eotText, unk_token: eotText, pad_token: null,
    add_bos_token: false, add_eos_token: false, add_prefix_space: tok.addPrefixSpace,
    clean_up_tokenization_spaces: false,
    added_tokens_decoder: Object.fromEntries(tok.special.map((s) => [String(s.id), { content: s.content, lstrip: false, normalized: true, rstrip: false, single_word: false, special: true }])),
  });
  return Object.values(HF_FILES).filter((f) => f !== HF_FILES.index).map((f) => join(out, f));
}

/** A tokenizer whose ids do not fit the model's embedding is a checkpoint/tokenizer mismatch. */
export function checkTokenizerFits(tok: Tokenizer, vocabSize: number, tokPath: string, model: string): void {
  if (tok.vocabSize > vocabSize) {
    throw new TesseraError(`${tokPath} has ${tok.vocabSize} token ids but ${model} embeds only ${vocabSize}: the tokenizer does not belong to this model`,
      'use the tokenizer.json that was saved with the model (tessera checkpoints and HF exports carry their own)');
  }
}

export interface HfModel {
  config: ModelConfig;
  params: Float32Array;
  tokenizerPath: string;
  tokenizer: Tokenizer;
  dir: string;
}

/** Reads an HF LLaMA folder into the tessera flat layout (F32 weights; one file or a sharded index). */
export function readHf(dir: string): HfModel {
  const cfgPath = join(dir, HF_FILES.config);
  if (!existsSync(cfgPath)) throw new TesseraError(`${dir} has no ${HF_FILES.config}: not a Hugging Face model folder`, 'pass the folder written by `tessera export --format hf` or a downloaded LlamaForCausalLM model');
  let raw: unknown;
  try { raw = JSON.parse(readFileSync(cfgPath, 'utf8')); } catch (e) {
    throw new TesseraError(`${cfgPath} is not valid JSON: ${(e as Error).message}`, 'restore config.json from the model\'s source');
  }
  const config = fromHfConfig(raw, cfgPath);
  const tokPath = join(dir, HF_FILES.tokenizer);
  if (!existsSync(tokPath)) throw new TesseraError(`${dir} has no ${HF_FILES.tokenizer}`, 'tessera needs the model\'s tokenizer.json (a byte-level BPE) next to config.json');
  const tokenizer = loadTokenizer(tokPath);
  checkTokenizerFits(tokenizer, config.vocabSize, tokPath, `${cfgPath} (vocab_size)`);
  const layout = paramLayout(config);
  const params = new Float32Array(layout.total);
  readWeightsInto(dir, layout, config, params);
  return { config, params, tokenizerPath: tokPath, tokenizer, dir };
}

function readWeightsInto(dir: string, layout: ParamLayout, config: ModelConfig, params: Float32Array): void {
  const single = join(dir, HF_FILES.weights), index = join(dir, HF_FILES.index);
  const fileOf = new Map<string, string>();
  if (existsSync(single)) {
    // one file holds every tensor
  } else if (existsSync(index)) {
    let wm: unknown;
    try { wm = (JSON.parse(readFileSync(index, 'utf8')) as Obj).weight_map; } catch (e) {
      throw new TesseraError(`${index} is not valid JSON: ${(e as Error).message}`, 'restore it from the model\'s source');
    }
    if (typeof wm !== 'object' || wm === null) throw new TesseraError(`${index} has no weight_map`, 'restore it from the model\'s source');
    for (const [k, f] of Object.entries(wm as Obj)) fileOf.set(k, join(dir, String(f)));
  } else {
    throw new TesseraError(`${dir} has neither ${HF_FILES.weights} nor ${HF_FILES.index}`, 'tessera reads safetensors weights (convert .bin / .pth files to safetensors first)');
  }
  const opened = new Map<string, ReturnType<typeof readSafetensors>>();
  const open = (f: string) => {
    let c = opened.get(f);
    if (!c) { c = readSafetensors(f); opened.set(f, c); }
    return c;
  };
  const expected = new Set<string>();
  for (const s of layout.specs) {
    const name = hfName(s.name);
    expected.add(name);
    const f = fileOf.size ? fileOf.get(name) : single;
    if (!f) throw new TesseraError(`${index}: no file holds tensor ${name}`, 'the export is incomplete; re-export or re-download it');
    const t = open(f).tensors[name];
    if (!t) throw new TesseraError(`${f}: tensor ${name} is missing`, 'the file does not hold a LlamaForCausalLM of the shape config.json describes; re-export it');
    if (t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i])) {
      throw new TesseraError(`${f}: tensor ${name} has shape [${t.shape.join(', ')}], config.json implies [${s.shape.join(', ')}]`, 'config.json and the weights disagree; re-export the model');
    }
    const d = t.dtype === 'F32' || t.dtype === 'F64' ? t.data as Float32Array | Float64Array
      : t.dtype === 'BF16' ? bf16ToFloat32(t.data as Uint16Array) : t.dtype === 'F16' ? halfToFloat32(t.data as Uint16Array) : null;
    if (!d) throw new TesseraError(`${f}: tensor ${name} is ${t.dtype}; tessera imports float weights (F32, F64, BF16, F16)`, 'convert the weights to a float dtype first');
    params.set(d, s.offset); // widened to float32: training continues in float32
  }
  // Extra tensors that would change the computation (biases, experts) are refused, not dropped.
  for (const [f, c] of opened) {
    for (const name of Object.keys(c.tensors)) {
      if (expected.has(name)) continue;
      if (name === 'lm_head.weight' && config.tiedEmbeddings) continue; // some tied exports carry a copy
      if (/rotary_emb\.inv_freq$/.test(name)) continue; // old exports saved this buffer
      throw new TesseraError(`${f}: unexpected tensor ${name} (tessera's LLaMA has no such weight)`, 'only dense LlamaForCausalLM weights without biases can be imported');
    }
  }
}

/** Fixed parity tokens: `rows` sequences of `len` ids in [0, vocab), from a seeded RNG. */
export function parityTokens(vocab: number, rows: number, len: number, seed = 'hf-parity'): Int32Array {
  const rng = makeRng(seed);
  return Int32Array.from({ length: rows * len }, () => Math.floor(rng.nextFloat() * vocab));
}

/** tessera's logits on the parity tokens, as the safetensors file scripts/hf_parity.py compares against. */
export function writeParityLogits(be: Backend, x: HfExportInput, file: string, rows = 2, len = 32): void {
  const T = Math.min(len, x.config.maxSeqLen);
  const tokens = parityTokens(x.config.vocabSize, rows, T);
  const logits = forward(new Graph(be, false), createLlama(x.config, x.params), tokens, rows, T).data;
  writeSafetensors(file, {
    tokens: { dtype: 'I32', shape: [rows, T], data: tokens },
    logits: { dtype: 'F32', shape: [rows, T, x.config.vocabSize], data: logits.slice() },
  }, { source: x.source, fingerprint: fingerprint(x.params), backend: be.name });
}

/** `tessera import --hf DIR`: the HF folder as a tessera checkpoint (step 0, no optimizer state) under outRoot. */
export function importHf(dir: string, outRoot: string): { checkpoint: string; config: ModelConfig; fingerprint: string } {
  const m = readHf(dir);
  const layout = paramLayout(m.config);
  const checkpoint = saveCheckpoint(outRoot, layout, m.params, null, m.tokenizerPath, {
    step: 0, tokensSeen: 0, model: m.config, tokenizer: { hash: m.tokenizer.hash(), vocabSize: m.tokenizer.vocabSize },
    optimizer: { adamw: ADAMW_DEFAULTS, step: 0 }, train: { importedFrom: dir }, valLoss: null,
  });
  return { checkpoint, config: m.config, fingerprint: fingerprint(m.params) };
}

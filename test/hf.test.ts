// Hugging Face export / import: the export of the two fixture models is byte for byte the one
// scripts/hf_parity.py scored with PyTorch (sha256 of config.json and model.safetensors recorded in
// test/golden/hf_parity_*.safetensors), tessera's logits on the same tokens are within 1e-4 of the HF
// forward's, an import gives back the same parameters (fingerprint), and bad HF folders are refused
// with a message naming the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fingerprint } from '../src/compress/index.js';
import { saveTokenizer, trainTokenizer } from '../src/data/index.js';
import { Graph, nativeBackend, referenceBackend, type Backend } from '../src/engine/index.js';
import { exportHf, fromHfConfig, hfName, importHf, readHf } from '../src/eval/hf.js';
import { PARITY_CONFIGS, parityParams, parityTokenizer, type ParityVariant } from '../src/eval/parity-fixture.js';
import { openModel } from '../src/eval/source.js';
import { createLlama, forward, paramLayout } from '../src/model/index.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { TesseraError } from '../src/util/errors.js';
import { projectRoot } from '../src/util/paths.js';
import { getTensor, readSafetensors, toInt32, writeSafetensors, type Tensor } from '../src/util/safetensors.js';

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
const tmp = mkdtempSync(join(tmpdir(), 'tessera-hf-test-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const tokenizerPath = parityTokenizer(tmp);

function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0, den = 1e-30;
  for (let i = 0; i < a.length; i++) { num = Math.max(num, Math.abs(a[i]! - b[i]!)); den = Math.max(den, Math.abs(b[i]!)); }
  return num / den;
}

function exportVariant(variant: ParityVariant): string {
  const out = join(tmp, variant);
  exportHf({ config: PARITY_CONFIGS[variant], params: parityParams(variant), tokenizerPath, source: `parity fixture ${variant}` }, out);
  return out;
}

for (const variant of ['untied', 'tied'] as const) {
  test(`hf ${variant}: the export is the one PyTorch scored, and tessera's logits match the HF forward to 1e-4`, () => {
    const out = exportVariant(variant);
    const file = join(projectRoot(), 'test', 'golden', `hf_parity_${variant}.safetensors`);
    const golden = readSafetensors(file);
    assert.equal(sha(join(out, 'config.json')), golden.metadata.config_sha256, 'config.json differs from the one scripts/hf_parity.py read (regenerate: node scripts/hf-parity-vectors.mjs)');
    assert.equal(sha(join(out, 'model.safetensors')), golden.metadata.weights_sha256, 'model.safetensors differs from the one scripts/hf_parity.py read');
    const tokens = toInt32(golden.tensors.tokens!, file, 'tokens');
    const [B, T] = golden.tensors.tokens!.shape as [number, number];
    const hf = getTensor(golden, file, 'logits', 'F32', [B, T, PARITY_CONFIGS[variant].vocabSize]).data;
    // The model as the export reads back (readHf), through tessera's forward, on both backends.
    const m = readHf(out);
    const backends: Backend[] = [referenceBackend, ...(nativeBackend() ? [nativeBackend()!] : [])];
    for (const be of backends) {
      const logits = forward(new Graph(be, false), createLlama(m.config, m.params), tokens, B, T).data;
      const e = relErr(logits, hf);
      assert.ok(e < 1e-4, `${be.name}: logits rel err ${e}`);
    }
    // The weights carry HF names and shapes; no tessera name is left.
    const st = readSafetensors(join(out, 'model.safetensors'));
    const names = Object.keys(st.tensors).sort();
    assert.deepEqual(names, paramLayout(PARITY_CONFIGS[variant]).specs.map((s) => hfName(s.name)).sort());
    assert.equal(names.includes('lm_head.weight'), variant === 'untied');
    assert.ok(names.includes('model.layers.1.self_attn.k_proj.weight') && names.includes('model.layers.0.mlp.gate_proj.weight'));
    assert.deepEqual(st.tensors['model.layers.0.self_attn.k_proj.weight']!.shape, [PARITY_CONFIGS[variant].nKvHeads * 8, PARITY_CONFIGS[variant].dim]);
  });
}

test('hf config.json: the fields LlamaForCausalLM reads, and they read back into the same ModelConfig', () => {
  const out = exportVariant('tied');
  const c = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(c.architectures, ['LlamaForCausalLM']);
  assert.equal(c.model_type, 'llama');
  assert.equal(c.hidden_size, 48); assert.equal(c.num_hidden_layers, 2); assert.equal(c.num_attention_heads, 6);
  assert.equal(c.num_key_value_heads, 1); assert.equal(c.intermediate_size, 96); assert.equal(c.rope_theta, 500000);
  assert.equal(c.rms_norm_eps, 1e-6); assert.equal(c.vocab_size, 300); assert.equal(c.tie_word_embeddings, true);
  assert.equal(c.hidden_act, 'silu'); assert.equal(c.head_dim, 8);
  assert.deepEqual(fromHfConfig(c, 'config.json'), PARITY_CONFIGS.tied);
  const gen = JSON.parse(readFileSync(join(out, 'generation_config.json'), 'utf8')) as Record<string, unknown>;
  const tc = JSON.parse(readFileSync(join(out, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(gen.eos_token_id, 289); // <|endoftext|> is the tokenizer's last id
  assert.equal(tc.eos_token, '<|endoftext|>');
  assert.equal(tc.tokenizer_class, 'PreTrainedTokenizerFast');
  assert.equal(readFileSync(join(out, 'tokenizer.json'), 'utf8'), readFileSync(tokenizerPath, 'utf8'));
});

test('hf import: the export of a checkpoint imports to a checkpoint with the same fingerprint, config and tokenizer', async () => {
  const out = exportVariant('untied');
  const r = importHf(out, join(tmp, 'imported', 'checkpoints'));
  assert.equal(r.fingerprint, fingerprint(parityParams('untied')));
  const src = await openModel(join(tmp, 'imported'));
  assert.equal(src.kind, 'checkpoint');
  assert.equal(src.fingerprint, fingerprint(parityParams('untied')));
  assert.deepEqual(src.config, PARITY_CONFIGS.untied);
  const ck = loadCheckpoint(r.checkpoint, paramLayout(PARITY_CONFIGS.untied), true);
  assert.equal(ck.m, null, 'an import carries no optimizer state');
  // Round trip again: the imported checkpoint exports to the same bytes.
  const again = join(tmp, 'again');
  exportHf({ config: src.config, params: src.params, tokenizerPath: src.tokenizerPath, source: 'parity fixture untied' }, again);
  assert.equal(sha(join(again, 'model.safetensors')), sha(join(out, 'model.safetensors')));
});

function expectError(f: () => unknown, ...parts: (string | RegExp)[]): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof TesseraError, `expected a TesseraError, got ${String(e)}`);
    for (const p of parts) assert.match(`${e.message} | ${e.hint ?? ''}`, typeof p === 'string' ? new RegExp(p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : p);
    return true;
  });
}

test('hf import refuses what tessera cannot compute exactly, naming the file and what to do', () => {
  const out = exportVariant('untied');
  const cfgPath = join(out, 'config.json');
  const base = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
  const variant = (name: string, patch: Record<string, unknown>): string => {
    const d = join(tmp, `bad-${name}`);
    rmSync(d, { recursive: true, force: true });
    exportHf({ config: PARITY_CONFIGS.untied, params: parityParams('untied'), tokenizerPath, source: 'x' }, d);
    writeFileSync(join(d, 'config.json'), JSON.stringify({ ...base, ...patch }));
    return d;
  };
  const moe = variant('moe', { model_type: 'mixtral', architectures: ['MixtralForCausalLM'], num_local_experts: 8, num_experts_per_tok: 2 });
  expectError(() => readHf(moe), join(moe, 'config.json'), 'MixtralForCausalLM', 'dense LLaMA');
  const moeLlama = variant('moe-llama', { num_local_experts: 8 });
  expectError(() => readHf(moeLlama), join(moeLlama, 'config.json'), 'mixture-of-experts');
  expectError(() => readHf(variant('scaling', { rope_scaling: { rope_type: 'llama3', factor: 8 } })), 'rope_scaling');
  expectError(() => readHf(variant('act', { hidden_act: 'gelu' })), 'hidden_act');
  expectError(() => readHf(variant('bias', { attention_bias: true })), 'attention_bias');
  const shape = variant('shape', { intermediate_size: 128 });
  expectError(() => readHf(shape), join(shape, 'model.safetensors'), 'mlp.gate_proj.weight', 'shape');
  // A tokenizer with more ids than the model embeds: checkpoint/tokenizer mismatch.
  const tokDir = variant('tokenizer', { vocab_size: 200 });
  expectError(() => readHf(tokDir), join(tokDir, 'tokenizer.json'), '290 token ids', 'does not belong');
  // And the same mismatch inside a tessera checkpoint: its tokenizer.json replaced by another one.
  const ck = importHf(out, join(tmp, 'mismatch', 'checkpoints')).checkpoint;
  const other = join(tmp, 'other-tokenizer.json');
  saveTokenizer(trainTokenizer(['another corpus entirely, with other merges'], { vocabSize: 270 }), other);
  copyFileSync(other, join(ck, 'tokenizer.json'));
  return assert.rejects(openModel(ck), (e: unknown) => e instanceof TesseraError && e.message.includes(join(ck, 'tokenizer.json')));
});

test('hf import: a bfloat16 export (as published models ship) is widened to float32 exactly', () => {
  const out = exportVariant('untied');
  const d = join(tmp, 'bf16');
  rmSync(d, { recursive: true, force: true });
  exportHf({ config: PARITY_CONFIGS.untied, params: parityParams('untied'), tokenizerPath, source: 'x' }, d);
  const st = readSafetensors(join(out, 'model.safetensors'));
  const bf: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(st.tensors)) {
    const u32 = new Uint32Array(Float32Array.from(t.data as Float32Array).buffer);
    bf[name] = { dtype: 'BF16', shape: t.shape, data: Uint16Array.from(u32, (x) => x >>> 16) };
  }
  writeSafetensors(join(d, 'model.safetensors'), bf, { format: 'pt' });
  const m = readHf(d);
  const want = parityParams('untied').map((x) => new Float32Array(Uint32Array.of(new Uint32Array(Float32Array.of(x).buffer)[0]! & 0xffff0000).buffer)[0]!);
  assert.equal(fingerprint(m.params), fingerprint(want));
  assert.notEqual(fingerprint(m.params), fingerprint(parityParams('untied')));
});

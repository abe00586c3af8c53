// Regenerates test/golden/hf_parity_{untied,tied}.safetensors: exports the two fixture models of
// src/eval/parity-fixture.ts to the Hugging Face layout, writes tessera's logits, and lets
// scripts/hf_parity.py (PyTorch, HF LLaMA forward from config.json) check them and record its own.
// Run from the repository root after a build:  node scripts/hf-parity-vectors.mjs
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { PARITY_CONFIGS, parityParams, parityTokenizer } from '../dist/src/eval/parity-fixture.js';
import { exportHf, writeParityLogits } from '../dist/src/eval/hf.js';
import { getBackend } from '../dist/src/engine/select.js';

const python = process.env.TESSERA_PYTHON ?? '/usr/bin/python3';
const tmp = mkdtempSync(join(tmpdir(), 'tessera-hf-parity-'));
let failed = false;
try {
  const tokenizerPath = parityTokenizer(tmp);
  for (const variant of Object.keys(PARITY_CONFIGS)) {
    const x = { config: PARITY_CONFIGS[variant], params: parityParams(variant), tokenizerPath, source: `parity fixture ${variant}` };
    const out = join(tmp, variant);
    exportHf(x, out);
    const logits = join(tmp, `${variant}-tessera.safetensors`);
    writeParityLogits(getBackend(), x, logits);
    const r = spawnSync(python, ['scripts/hf_parity.py', out, '--tessera', logits, '--write', join('test', 'golden', `hf_parity_${variant}.safetensors`)], { stdio: 'inherit' });
    if (r.status !== 0) failed = true;
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);

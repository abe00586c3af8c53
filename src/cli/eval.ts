// `tessera eval`, `tessera export --format hf` and `tessera import --hf`: measure a model the way the
// field does, and move it to and from the Hugging Face layout (src/eval/).
import { Command, InvalidArgumentError } from 'commander';
import { getBackend } from '../engine/select.js';
import { CLOZE_DEFAULTS, runEval, type EvalResult } from '../eval/run.js';
import { exportHf, importHf, writeParityLogits } from '../eval/hf.js';
import { openModel } from '../eval/source.js';
import { join } from 'node:path';
import { int } from './options.js';

const collect = (v: string, prev: string[]): string[] => [...prev, v];
const MODEL_HELP = 'a checkpoint (run directory, its checkpoints/, or one step-N), a devnet folder (the newest checkpoint its validators published, running or stopped), or a Hugging Face folder';

/** Progress on stderr (stdout stays the result): rewritten in place on a terminal, a line every 5 s elsewhere. */
function stderrProgress(): (text: string, final?: boolean) => void {
  let last = 0;
  const tty = Boolean(process.stderr.isTTY);
  return (text, final) => {
    const now = Date.now();
    if (tty) {
      if (!final && now - last < 100) return;
      process.stderr.write(`\r\x1b[2K${text}${final ? '\n' : ''}`);
    } else {
      if (!final && now - last < 5000) return;
      process.stderr.write(text + '\n');
    }
    last = now;
  };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

function printResult(r: EvalResult): void {
  console.log(`model: ${r.model.source} (${(r.model.params / 1e6).toFixed(2)}M parameters, fingerprint ${r.model.fingerprint.slice(0, 12)})`);
  if (r.held_out) {
    const h = r.held_out;
    console.log(`held-out (${r.data}): loss ${h.val_loss.toFixed(4)} nats/token, ${h.bits_per_byte.toFixed(4)} bits/byte over ${h.val_tokens.toLocaleString('en-US')} tokens (${h.val_bytes.toLocaleString('en-US')} bytes, windows of ${h.seq})`);
  } else console.log('held-out: skipped (no --data, and the model does not name its dataset)');
  for (const [name, t] of Object.entries(r.tasks)) {
    console.log(`${name.padEnd(16)} ${t.layout.padEnd(9)} n=${String(t.n).padEnd(5)} acc ${pct(t.acc)} ± ${pct(t.acc_stderr)}  acc_norm ${pct(t.acc_norm)} ± ${pct(t.acc_norm_stderr)}  (chance ${pct(t.chance)})`);
  }
  console.log(`done in ${r.elapsed_s.toFixed(1)} s`);
}

export function evalCommand(): Command {
  return new Command('eval')
    .description('evaluate a model: held-out loss and bits per byte, a cloze task from the held-out split, and HellaSwag / ARC / MMLU files by log-likelihood (acc, acc_norm) as lm-evaluation-harness scores them')
    .requiredOption('--checkpoint <path>', MODEL_HELP)
    .option('--data <dir>', 'prepared dataset whose held-out split to use (default: a devnet\'s own dataset; must share the model\'s tokenizer)')
    .option('--task <file>', 'a multiple-choice task file, .jsonl or .parquet in the HellaSwag, ARC or MMLU layout as the datasets ship it; NAME=FILE names it (repeatable)', collect, [])
    .option('--cloze <n>', 'cloze examples built from the held-out split (0 = none)', int('--cloze', 0), CLOZE_DEFAULTS.n)
    .option('--cloze-context <n>', 'context tokens before each cloze blank', int('--cloze-context', 1), CLOZE_DEFAULTS.context)
    .option('--cloze-length <n>', 'tokens of each cloze continuation', int('--cloze-length', 1), CLOZE_DEFAULTS.length)
    .option('--cloze-choices <n>', 'choices per cloze example', int('--cloze-choices', 2), CLOZE_DEFAULTS.choices)
    .option('--val-tokens <n>', 'held-out tokens to predict at most', int('--val-tokens', 1), 1 << 20)
    .option('--seq <n>', 'window length of the held-out loss (default: the model\'s maxSeqLen)', int('--seq', 1))
    .option('--batch <n>', 'sequences per forward pass', int('--batch', 1), 8)
    .option('--limit <n>', 'examples per task file at most (0 = all)', int('--limit', 0), 0)
    .option('--seed <n>', 'seed of the cloze task', int('--seed', 0), CLOZE_DEFAULTS.seed)
    .option('--json', 'print one JSON object (progress goes to stderr)')
    .action(async (o: { checkpoint: string; data?: string; task: string[]; cloze: number; clozeContext: number; clozeLength: number; clozeChoices: number;
      valTokens: number; seq?: number; batch: number; limit: number; seed: number; json?: boolean }) => {
      const r = await runEval(getBackend(), {
        checkpoint: o.checkpoint, data: o.data, tasks: o.task, valTokens: o.valTokens, seq: o.seq, batch: o.batch, limit: o.limit,
        cloze: { n: o.cloze, context: o.clozeContext, length: o.clozeLength, choices: o.clozeChoices, seed: o.seed },
        progress: stderrProgress(),
      });
      if (o.json) console.log(JSON.stringify(r));
      else printResult(r);
    });
}

export function exportCommand(): Command {
  return new Command('export')
    .description('write a model in the Hugging Face layout (LlamaForCausalLM: config.json, model.safetensors, generation_config.json, tokenizer.json, tokenizer_config.json)')
    .requiredOption('--checkpoint <path>', MODEL_HELP)
    .option('--format <name>', 'output format (hf)', (v: string) => { if (v !== 'hf') throw new InvalidArgumentError(`unknown format "${v}" (tessera exports hf)`); return v; }, 'hf')
    .requiredOption('--out <dir>', 'output folder')
    .option('--logits <file>', 'also write tessera\'s logits on fixed tokens to FILE (safetensors), for scripts/hf_parity.py')
    .action(async (o: { checkpoint: string; out: string; logits?: string }) => {
      const src = await openModel(o.checkpoint);
      const files = exportHf({ config: src.config, params: src.params, tokenizerPath: src.tokenizerPath, source: src.description }, o.out);
      console.log(`exported ${src.description} (${(src.params.length / 1e6).toFixed(2)}M parameters, fingerprint ${src.fingerprint.slice(0, 12)}) to ${o.out}:`);
      for (const f of files) console.log(`  ${f}`);
      if (o.logits) {
        writeParityLogits(getBackend(), { config: src.config, params: src.params, tokenizerPath: src.tokenizerPath, source: src.description }, o.logits);
        console.log(`tessera logits on the parity tokens: ${o.logits} (check: /usr/bin/python3 scripts/hf_parity.py ${o.out} --tessera ${o.logits})`);
      }
    });
}

export function importCommand(): Command {
  return new Command('import')
    .description('read a Hugging Face LlamaForCausalLM folder (float32 safetensors, byte-level BPE tokenizer.json) into a tessera checkpoint, to continue pre-training from it')
    .requiredOption('--hf <dir>', 'the Hugging Face model folder (config.json, model.safetensors or its index, tokenizer.json)')
    .requiredOption('--out <dir>', 'run directory: the checkpoint goes to <out>/checkpoints (continue with tessera train --out <dir>)')
    .action((o: { hf: string; out: string }) => {
      const r = importHf(o.hf, join(o.out, 'checkpoints'));
      const c = r.config;
      console.log(`imported ${o.hf}: dim ${c.dim}, layers ${c.nLayers}, heads ${c.nHeads} (kv ${c.nKvHeads}), ffn ${c.ffnHidden}, vocab ${c.vocabSize}${c.tiedEmbeddings ? ', tied embeddings' : ''}`);
      console.log(`checkpoint ${r.checkpoint} (fingerprint ${r.fingerprint})`);
    });
}


// `tessera generate`: sample text from a checkpoint.
import { Command } from 'commander';
import { getBackend } from '../engine/select.js';
import { findCheckpoint } from '../train/checkpoint.js';
import { generate } from '../train/generate.js';
import { TesseraError } from '../util/errors.js';
import { float, int } from './options.js';

export function generateCommand(): Command {
  return new Command('generate')
    .description('sample text from a checkpoint')
    .requiredOption('--checkpoint <path>', 'a run directory, its checkpoints/ directory, or one step-N directory')
    .option('--prompt <text>', 'text to continue', '')
    .option('--tokens <n>', 'tokens to generate', int('--tokens', 1), 100)
    .option('--temperature <x>', 'sampling temperature (0 = greedy)', float('--temperature', 0), 0.8)
    .option('--top-k <n>', 'sample among the k most likely tokens (0 = all)', int('--top-k', 0), 40)
    .option('--seed <n>', 'sampling seed', int('--seed', 0), 1)
    .action((o: { checkpoint: string; prompt: string; tokens: number; temperature: number; topK: number; seed: number }) => {
      const dir = findCheckpoint(o.checkpoint);
      if (!dir) throw new TesseraError(`no checkpoint found at ${o.checkpoint}`, 'train first (tessera train --out DIR) and pass that DIR');
      const text = generate(getBackend(), dir, { prompt: o.prompt, maxTokens: o.tokens, temperature: o.temperature, topK: o.topK, seed: o.seed });
      console.log(o.prompt + text);
    });
}

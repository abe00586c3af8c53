// `tessera data prepare`: corpus → tokenizer → token shards + a held-out validation split.
import { Command } from 'commander';
import { join } from 'node:path';
import { prepareData } from '../data/index.js';
import { float, int } from './options.js';

export function dataCommand(): Command {
  const cmd = new Command('data').description('corpora, tokenizers and token shards');
  cmd.command('prepare')
    .description('tokenize a corpus into shards (default: the bundled public-domain corpus)')
    .argument('[inputs...]', '.txt, .jsonl or .parquet files or folders (default: bundled State of the Union + Moby-Dick)')
    .option('--out <dir>', 'output directory', join('data', 'default'))
    .option('--vocab-size <n>', 'BPE vocabulary size when training a tokenizer', int('--vocab-size', 257), 8192)
    .option('--tokenizer <file>', 'use this tokenizer.json instead of training one')
    .option('--val-fraction <x>', 'fraction of documents held out for validation', float('--val-fraction', 0), 0.02)
    .option('--text-field <name>', 'text field of .jsonl/.parquet records', 'text')
    .option('--seed <n>', 'seed of the train/validation split', int('--seed', 0), 0)
    .action(async (inputs: string[], o: { out: string; vocabSize: number; tokenizer?: string; valFraction: number; textField: string; seed: number }) => {
      const t0 = performance.now();
      const m = await prepareData({
        inputs: inputs.length ? inputs : undefined, outDir: o.out, vocabSize: o.vocabSize, tokenizerPath: o.tokenizer,
        valFraction: o.valFraction, textField: o.textField, seed: o.seed, onProgress: (msg: string) => console.log(`  ${msg}`),
      });
      const n = (x: number) => x.toLocaleString('en-US');
      console.log(`prepared ${o.out} in ${((performance.now() - t0) / 1000).toFixed(1)} s: tokenizer ${m.tokenizer.file} (vocab ${m.tokenizer.vocabSize}, ${m.tokenizer.trained ? 'trained' : 'loaded'}, hash ${m.tokenizer.hash.slice(0, 16)}), ` +
        `train ${n(m.train.tokens)} tokens / ${m.train.documents} documents, val ${n(m.val.tokens)} tokens / ${m.val.documents} documents, ` +
        `unigram entropy ${m.stats.unigramEntropyNats.toFixed(3)} nats, ${m.stats.bytesPerToken.toFixed(2)} bytes/token`);
    });
  return cmd;
}

// `tessera data prepare`: corpus → tokenizer → token shards + a held-out validation split.
import { Command } from 'commander';
import { join } from 'node:path';
import { resolve } from 'node:path';
import { prepareData, publishDataset, DEFAULT_CHUNK_TOKENS } from '../data/index.js';
import { fsNodeDescriptors, openStore, parseDescriptor, type StoreDescriptor } from '../storage/index.js';
import { TesseraError } from '../util/errors.js';
import { float, int } from './options.js';

/** --store: a folder (filesystem bucket) or a descriptor JSON with write keys. */
function storeArg(text: string): StoreDescriptor {
  if (!text.trimStart().startsWith('{')) return fsNodeDescriptors(resolve(text)).write;
  try {
    return parseDescriptor(text);
  } catch (e) {
    throw new TesseraError(`--store: ${(e as Error).message}`, (e as TesseraError).hint);
  }
}

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
  cmd.command('publish')
    .description('upload a prepared dataset (index, tokenizer, shards, chunk tables) to one or more buckets that serve it read-only; resumable')
    .argument('<dir>', 'a folder prepared by tessera data prepare')
    .requiredOption('--store <where>', 'a bucket to publish to: a folder, or a descriptor JSON {"v":1,"kind":"s3",...} with write keys; repeat for mirrors',
      (v: string, prev: string[] = []) => [...prev, v])
    .option('--chunk-tokens <n>', 'tokens per verifiable chunk (the unit of ranged reads and of the cache)', int('--chunk-tokens', 1), DEFAULT_CHUNK_TOKENS)
    .action(async (dir: string, o: { store: string[]; chunkTokens: number }) => {
      const t0 = performance.now();
      const targets = o.store.map((w, i) => { const d = storeArg(w); return { name: `mirror ${i} (${d.kind === 'fs' ? d.path : `${d.endpoint}/${d.bucket}`})`, descriptor: d, store: openStore(d, 'write') }; });
      try {
        const r = await publishDataset(resolve(dir), targets, { chunkTokens: o.chunkTokens, log: (l) => console.log(`  ${l}`) });
        const up = r.mirrors.reduce((n, m) => n + m.bytesUp, 0);
        console.log(`published dataset ${r.hash} to ${r.mirrors.length} mirror(s) in ${((performance.now() - t0) / 1000).toFixed(1)} s (${(up / 1e6).toFixed(1)} MB uploaded now)`);
        console.log('validators list the mirrors in the run manifest: tessera validator ... --data-mirror <read-only descriptor or folder> (one per mirror)');
      } finally {
        for (const t of targets) t.store.close();
      }
    });
  return cmd;
}

// `tessera train` (single-node training with progress, validation, checkpoints and resume) and
// `tessera start` (= npm start: prepare the bundled corpus if needed, then train on it).
import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { getBackend } from '../engine/select.js';
import { getPreset, presetNames } from '../model/index.js';
import { runTraining, type TrainOptions } from '../train/loop.js';
import { openTrainData } from '../train/batches.js';
import { prepareData } from '../data/index.js';
import { float, int } from './options.js';

interface TrainFlags {
  preset: string; data: string; out: string; steps: number; batch: number; seq: number; lr: number; minLr?: number;
  warmup: number; clip: number; weightDecay: number; seed: number; evalEvery: number; evalBatches: number;
  ckptEvery: number; timeLimit: number; resume: boolean;
}

function addTrainOptions(cmd: Command, d: { data: string; out: string; steps: number }): Command {
  return cmd
    .option('--preset <name>', `model shape: ${presetNames().join(', ')}`, 'reference')
    .option('--data <dir>', 'prepared data directory (tessera data prepare)', d.data)
    .option('--out <dir>', 'run directory: checkpoints go to <out>/checkpoints', d.out)
    .option('--steps <n>', 'total optimizer steps (the cosine schedule ends here)', int('--steps', 1), d.steps)
    .option('--batch <n>', 'sequences per step', int('--batch', 1), 8)
    .option('--seq <n>', 'tokens per sequence', int('--seq', 2), 256)
    .option('--lr <x>', 'peak learning rate', float('--lr', 0), 2e-3)
    .option('--min-lr <x>', 'final learning rate (default: lr/10)', float('--min-lr', 0))
    .option('--warmup <n>', 'linear warmup steps', int('--warmup', 0), 50)
    .option('--clip <x>', 'global gradient-norm clip (0 = off)', float('--clip', 0), 1.0)
    .option('--weight-decay <x>', 'AdamW decoupled weight decay for matrices', float('--weight-decay', 0), 0.1)
    .option('--seed <n>', 'seed for initialization and data sampling', int('--seed', 0), 1)
    .option('--eval-every <n>', 'validate every n steps', int('--eval-every', 1), 100)
    .option('--eval-batches <n>', 'validation batches', int('--eval-batches', 1), 8)
    .option('--ckpt-every <n>', 'checkpoint every n steps', int('--ckpt-every', 1), 200)
    .option('--time-limit <s>', 'stop (with a checkpoint) after this many seconds of training; 0 = none', float('--time-limit', 0), 0)
    .option('--no-resume', 'ignore existing checkpoints in --out and start from scratch');
}

async function train(f: TrainFlags): Promise<void> {
  const model = getPreset(f.preset);
  const data = openTrainData(f.data);
  const o: TrainOptions = {
    model, data, outDir: f.out, steps: f.steps, batch: f.batch, seq: f.seq, lr: f.lr, minLr: f.minLr ?? f.lr / 10,
    warmup: f.warmup, clip: f.clip, weightDecay: f.weightDecay, seed: f.seed, evalEvery: f.evalEvery,
    evalBatches: f.evalBatches, ckptEvery: f.ckptEvery, timeLimitS: f.timeLimit, resume: f.resume,
  };
  console.log(`train: preset ${f.preset}, data ${f.data} (${data.train.length.toLocaleString('en-US')} train / ${data.val.length.toLocaleString('en-US')} val tokens, vocab ${data.vocabSize}), out ${f.out}`);
  console.log(`       steps ${o.steps}, batch ${o.batch}×${o.seq}, lr ${o.lr} → ${o.minLr} (warmup ${o.warmup}), clip ${o.clip}, wd ${o.weightDecay}, seed ${o.seed}${o.timeLimitS ? `, time limit ${o.timeLimitS}s` : ''}`);
  const s = await runTraining(getBackend(), o);
  console.log(`done (${s.stoppedBy}): step ${s.step}, ${s.tokensSeen.toLocaleString('en-US')} tokens, train loss ${s.trainLoss.toFixed(4)}, val loss ${s.valLoss?.toFixed(4) ?? 'n/a'} vs unigram entropy ${data.unigramEntropy.toFixed(4)}, ${Math.round(s.tokensPerS)} tok/s`);
  console.log(`checkpoint: ${s.checkpoint}`);
  console.log(`try: npx tessera generate --checkpoint ${f.out} --prompt "The nation"`);
}

export function trainCommand(): Command {
  return addTrainOptions(new Command('train').description('train a model on one machine (resumes from the newest checkpoint in --out)'),
    { data: join('data', 'default'), out: join('runs', 'default'), steps: 1000 })
    .action((f: TrainFlags) => train(f));
}

export function startCommand(): Command {
  return addTrainOptions(new Command('start').description('the main job (npm start): prepare the bundled corpus if needed, then train on it with live progress'),
    { data: join('data', 'default'), out: join('runs', 'default'), steps: 2000 })
    .action(async (f: TrainFlags) => {
      if (!existsSync(join(f.data, 'manifest.json'))) {
        console.log(`preparing the bundled corpus into ${f.data} (once) ...`);
        await prepareData({ outDir: f.data, onProgress: (m: string) => console.log(`  ${m}`) });
      }
      await train(f);
    });
}

// `tessera bench hetero`: full replicas beside pipeline groups (loss at equal tokens per replica)
// and a group's utilization over real sockets at shaped link rates; writes bench/hetero.md/.json/.svg.
import { Command } from 'commander';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getBackend } from '../engine/select.js';
import { getPreset } from '../model/index.js';
import { openTrainData } from '../train/batches.js';
import { validateCodecConfig } from '../compress/index.js';
import { TesseraError } from '../util/errors.js';
import { float, int } from './options.js';
import { HETERO_CONFIGS, HETERO_DEFAULTS, HETERO_DEFAULT_CONFIGS, heteroSummary, runHeteroLoss, type ConfigResult, type HeteroConfigName, type HeteroLossOptions } from '../bench/hetero.js';
import { measureUtilization, resolveLinks } from '../bench/hetero-util.js';
import { heteroTables, writeHeteroReport } from '../bench/hetero-report.js';
import { ACTIVATION_KINDS, type ActivationKind } from '../hetero/activations.js';
import type { UtilizationResult } from '../hetero/pipeline.js';

interface Opts {
  preset: string; layers?: number; data: string; replicas: number; stages: number; rank: number; micro: number; innerSteps: number; rounds: number;
  batch: number; seq: number; innerLr: number; warmup: number; alpha: number; topk: number; evalEvery: number; evalBatches: number;
  configs: string; parallel: number; partOut?: string; utilization: boolean; loss: boolean; utilCodecs: string; utilRates: string;
  utilBatch: number; utilMicro: number; utilSteps: number; utilLinks: string; out: string; json?: boolean; record: boolean; notes?: string;
}

const list = <T extends string>(s: string, allowed: readonly T[], what: string): T[] => {
  const xs = s.split(',').map((x) => x.trim()).filter(Boolean) as T[];
  const bad = xs.filter((x) => !allowed.includes(x));
  if (bad.length) throw new TesseraError(`unknown ${what}: ${bad.join(', ')}`, `choose from ${allowed.join(', ')}`);
  return xs;
};

const parseRate = (s: string): number => {
  const m = /^(\d+(?:\.\d+)?)\s*(g|m|k)?(?:bit|b)?(?:\/s|ps)?$/i.exec(s.trim());
  if (!m) throw new TesseraError(`bad link rate "${s}"`, 'use e.g. 1gbit, 100mbit or 0 for unlimited');
  return Number(m[1]) * ({ g: 1e9, m: 1e6, k: 1e3 }[(m[2] ?? '').toLowerCase() as 'g' | 'm' | 'k'] ?? 1);
};

export function benchHeteroCommand(): Command {
  const d = HETERO_DEFAULTS;
  return new Command('hetero')
    .description('heterogeneous SparseLoCo: R replicas at equal tokens, some of them 2-stage pipeline groups with compressed activations; and a group\'s utilization over real sockets at 1 Gb/s and 100 Mb/s')
    .option('--preset <name>', 'model shape (its vocabulary is replaced by the data\'s)', 'small')
    .option('--layers <n>', 'override the preset\'s layer count', int('--layers', 2))
    .option('--data <dir>', 'prepared data directory (tessera data prepare; a small vocabulary keeps this fast, e.g. --vocab-size 1024)', 'data/default')
    .option('--replicas <n>', 'replicas R (each configuration)', int('--replicas', 2), d.replicas)
    .option('--stages <n>', 'stages S of a pipeline group', int('--stages', 2), d.stages)
    .option('--rank <k>', 'subspace rank k (activation bytes per token ≈ k/d of dense)', int('--rank', 1), d.rank)
    .option('--micro <n>', 'micro-batches per inner step in a group (must divide --batch)', int('--micro', 1), d.micro)
    .option('--inner-steps <n>', 'inner steps H per outer round', int('--inner-steps', 1), d.H)
    .option('--rounds <n>', 'outer rounds (tokens per replica = rounds·H·batch·seq)', int('--rounds', 1), d.rounds)
    .option('--batch <n>', 'sequences per replica step', int('--batch', 1), d.batch)
    .option('--seq <n>', 'sequence length', int('--seq', 2), d.seq)
    .option('--inner-lr <x>', 'peak inner AdamW learning rate', float('--inner-lr', 0), d.innerLr)
    .option('--warmup <n>', 'learning-rate warmup steps (then cosine to lr/10)', int('--warmup', 0), d.warmup)
    .option('--alpha <x>', 'SparseLoCo outer step α', float('--alpha', 0), d.alpha)
    .option('--topk <n>', 'SparseLoCo values kept per 64×64 chunk', int('--topk', 1), d.codec.topk)
    .option('--eval-every <n>', 'validation loss every n rounds (and after the last)', int('--eval-every', 1), d.evalEvery)
    .option('--eval-batches <n>', 'validation batches', int('--eval-batches', 1), d.evalBatches)
    .option('--configs <list>', `configurations, comma-separated: ${HETERO_CONFIGS.join(',')}`, HETERO_DEFAULT_CONFIGS.join(','))
    .option('--parallel <n>', 'run up to n configurations at once, each in its own process (deterministic: same numbers as one by one)', int('--parallel', 1), 1)
    .option('--part-out <file>', '(internal) write this run\'s loss results to a file')
    .option('--no-loss', 'skip the loss part (the loss results already in --out/hetero.json are kept)')
    .option('--no-utilization', 'skip the utilization part (the utilization results already in --out/hetero.json are kept)')
    .option('--util-codecs <list>', `codecs measured for utilization: ${ACTIVATION_KINDS.join(',')}`, 'subspace,int8,dense')
    .option('--util-rates <list>', 'inter-stage link rates (0 = unlimited)', '0,1gbit,100mbit')
    .option('--util-links <how>', 'how the inter-stage link is shaped: tc (each stage in its own network namespace, veth links shaped by tc tbf; root), model (user-space rate model over loopback), tc,model (both), or auto: tc where namespaces work, else model', 'auto')
    .option('--util-batch <n>', 'sequences per inner step in the utilization runs', int('--util-batch', 1), 128)
    .option('--util-micro <n>', 'micro-batches per inner step in the utilization runs', int('--util-micro', 1), 32)
    .option('--util-steps <n>', 'inner steps per utilization run (the first is warm-up)', int('--util-steps', 3), 6)
    .option('--notes <text>', 'a paragraph appended to bench/hetero.md')
    .option('--out <dir>', 'where hetero.md/.json/.svg are written', 'bench')
    .option('--no-record', 'print only; write nothing under --out')
    .option('--json', 'print the summary as one JSON object')
    .action(async (o: Opts) => {
      const preset = getPreset(o.preset);
      const model = { ...preset, ...(o.layers ? { nLayers: o.layers } : {}) };
      const data = openTrainData(o.data);
      const configs = list(o.configs, HETERO_CONFIGS, 'configuration') as HeteroConfigName[];
      const log = (l: string) => (o.json ? process.stderr.write(`${l}\n`) : console.log(l));
      const lossOpts: HeteroLossOptions = { ...d, model, data, replicas: o.replicas, stages: o.stages, rank: o.rank, micro: o.micro, H: o.innerSteps,
        rounds: o.rounds, batch: o.batch, seq: o.seq, innerLr: o.innerLr, warmup: o.warmup, alpha: o.alpha, codec: { ...d.codec, topk: o.topk },
        evalEvery: o.evalEvery, evalBatches: o.evalBatches, configs, log };
      validateCodecConfig(lossOpts.codec);
      let results: ConfigResult[] = [];
      if (o.loss) {
        if (o.parallel > 1 && configs.length > 1) results = await runParallel(o, configs, log);
        else results = runHeteroLoss(getBackend(), lossOpts, (partial) => { if (o.partOut) writeFileSync(o.partOut, JSON.stringify(partial)); });
        if (o.partOut) { writeFileSync(o.partOut, JSON.stringify(results)); return; }
      }
      // A skipped part keeps what the last recorded run in --out measured (so the two parts can run separately).
      const kept = keptResults(o, log);
      if (!o.loss) results = kept.results;
      let util: UtilizationResult[] = o.utilization ? [] : kept.util;
      if (o.utilization) {
        const links = await resolveLinks(o.utilLinks, log);
        log(`utilization: 2 stages as processes over TCP (${links.map((l) => (l === 'tc' ? 'in network namespaces, links shaped by tc tbf' : 'on loopback, links modelled in user space')).join('; then ')}), batch ${o.utilBatch}×${o.seq}, ${o.utilMicro} micro-batches, ${o.utilSteps} steps`);
        util = await measureUtilization({ model: { ...model, vocabSize: data.vocabSize, maxSeqLen: Math.max(model.maxSeqLen, o.seq) }, data: o.data, rank: o.rank,
          batch: o.utilBatch, seq: o.seq, micro: o.utilMicro, steps: o.utilSteps, codecs: list(o.utilCodecs, ACTIVATION_KINDS, 'codec'),
          rates: o.utilRates.split(',').map(parseRate), links, seed: 1, log });
      }
      // The headline figures come from tc-shaped links where they were measured, else from the user-space model.
      const method = util.some((u) => u.link === 'tc') ? 'tc' : 'model';
      const row = (codec: string, bps: number, m: string = method) => util.find((u) => u.codec === codec && u.rateBps === bps && (u.link ?? 'model') === m);
      const at = (codec: string, bps: number) => row(codec, bps)?.utilization ?? null;
      const ex = (codec: string, bps: number) => row(codec, bps)?.utilizationExSched ?? null;
      const both = method === 'tc' && util.some((u) => (u.link ?? 'model') === 'model');
      const summary = {
        ...heteroSummary(results, lossOpts),
        pipeline_utilization: at('subspace', 1e9), pipeline_utilization_100mbit: at('subspace', 1e8), pipeline_utilization_unlimited: at('subspace', 0),
        pipeline_utilization_dense_1gbit: at('dense', 1e9), pipeline_utilization_dense_100mbit: at('dense', 1e8),
        pipeline_utilization_int8_100mbit: at('int8', 1e8),
        pipeline_utilization_without_run_queue_delay: ex('subspace', 1e9), pipeline_utilization_100mbit_without_run_queue_delay: ex('subspace', 1e8),
        ...(method === 'tc' ? { pipeline_utilization_without_run_queue_outside_computing: row('subspace', 1e9)?.utilizationExRunQueue ?? null, pipeline_utilization_100mbit_without_run_queue_outside_computing: row('subspace', 1e8)?.utilizationExRunQueue ?? null } : {}),
        link: method === 'tc' ? 'tc tbf on the veth links of two network namespaces (one per stage), real TCP sockets between the hosts\' addresses'
          : 'user-space rate model over real TCP sockets on loopback',
        ...(both ? { pipeline_utilization_user_space_model: row('subspace', 1e9, 'model')?.utilization ?? null, pipeline_utilization_100mbit_user_space_model: row('subspace', 1e8, 'model')?.utilization ?? null } : {}),
      };
      if (o.record) writeHeteroReport(o.out, results, util, summary, o.loss ? lossOpts : null, o.notes ?? '', kept.settings);
      if (o.json) console.log(JSON.stringify(summary));
      else { console.log(heteroTables(results, util)); console.log(JSON.stringify(summary, null, 1)); }
    });
}

function keptResults(o: Opts, log: (l: string) => void): { results: ConfigResult[]; util: UtilizationResult[]; settings?: string } {
  if (!o.record || (o.loss && o.utilization)) return { results: [], util: [] };
  try {
    const j = JSON.parse(readFileSync(join(o.out, 'hetero.json'), 'utf8')) as { results?: ConfigResult[]; utilization?: UtilizationResult[]; settings?: string };
    log(`keeping the ${o.loss ? 'utilization' : o.utilization ? 'loss' : 'loss and utilization'} results recorded in ${join(o.out, 'hetero.json')}`);
    return { results: j.results ?? [], util: j.utilization ?? [], settings: o.loss ? undefined : j.settings };
  } catch {
    return { results: [], util: [] };
  }
}

/** Each configuration in its own `tessera bench hetero --configs X --part-out F` process, at most o.parallel at once. */
async function runParallel(o: Opts, configs: HeteroConfigName[], log: (l: string) => void): Promise<ConfigResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-hetero-'));
  try {
    const argv = process.argv.slice(1).filter((a, i, all) => !['--configs', '--parallel', '--part-out'].includes(a) && !['--configs', '--parallel', '--part-out'].includes(all[i - 1] ?? ''));
    const queue = [...configs];
    const results = new Map<HeteroConfigName, ConfigResult>();
    const worker = async (): Promise<void> => {
      for (let c = queue.shift(); c; c = queue.shift()) {
        const file = join(dir, `${c}.json`);
        const child = spawn(process.execPath, [...argv.filter((a) => a !== '--json'), '--configs', c, '--part-out', file, '--no-utilization'], { stdio: ['ignore', 'pipe', 'inherit'] });
        child.stdout!.on('data', (b: Buffer) => { for (const l of b.toString().split('\n').filter(Boolean)) log(`[${c}] ${l}`); });
        const code = await new Promise<number | null>((r) => child.on('exit', r));
        if (code !== 0) throw new TesseraError(`bench hetero: configuration ${c} failed (exit ${code})`);
        results.set(c, (JSON.parse(readFileSync(file, 'utf8')) as ConfigResult[])[0]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(o.parallel, configs.length) }, worker));
    return configs.map((c) => results.get(c)!);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}



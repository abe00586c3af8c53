// `tessera bench ...`: benchmarks whose results are recorded under bench/ (not timed test assertions).
import { Command } from 'commander';
import { getBackend } from '../engine/select.js';
import { benchEngine } from '../bench/engine.js';
import { benchStep } from '../bench/step.js';
import { recordSoak, runSoak, soakMarkdown } from '../bench/soak.js';
import { recordChaos, runChaos, parseFaults, FAULT_KINDS } from '../bench/chaos.js';
import { float, int } from './options.js';
import { getPreset } from '../model/index.js';
import { modelInfo } from '../model/info.js';
import { openTrainData } from '../train/batches.js';
import { CONVERGENCE_DEFAULTS, METHODS, runConvergence, type Method } from '../bench/convergence.js';
import { convergenceTable, writeConvergenceReport } from '../bench/convergence-report.js';
import { writeStudyReport } from '../bench/convergence-study.js';
import { readFileSync } from 'node:fs';
import { TesseraError } from '../util/errors.js';
import { dataBenchMarkdown, DATA_BENCH_DEFAULTS, runDataBench } from '../bench/data.js';
import { machineLine } from '../bench/machine.js';
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchCodec, formatCodecBench } from '../bench/codec.js';
import { CODEC_DEFAULTS, validateCodecConfig } from '../compress/index.js';

export function benchCommand(): Command {
  const cmd = new Command('bench').description('benchmarks (results recorded under bench/)');
  cmd.command('engine')
    .description('one training step (forward + backward + AdamW) of the reference shape on tessera and on PyTorch')
    .option('--batch <n>', 'sequences per step', int('--batch', 1), 8)
    .option('--seq <n>', 'sequence length', int('--seq', 2), 256)
    .option('--steps <n>', 'timed steps (median reported)', int('--steps', 1), 5)
    .option('--warmup <n>', 'untimed steps first', int('--warmup', 0), 2)
    .option('--no-torch', 'skip the PyTorch comparison')
    .option('--json', 'print one JSON object')
    .action((o: { batch: number; seq: number; steps: number; warmup: number; torch: boolean; json?: boolean }) => {
      const r = benchEngine(getBackend(), o);
      if (o.json) return console.log(JSON.stringify(r));
      const f = (x: number | null, d = 0) => (x === null ? 'n/a' : x.toFixed(d));
      console.log(`reference shape: d=${r.shape.dim} L=${r.shape.layers} H=${r.shape.heads}/${r.shape.kv_heads} ffn=${r.shape.ffn} V=${r.shape.vocab}, batch ${r.shape.batch}×${r.shape.seq} (${(r.shape.params / 1e6).toFixed(2)}M params)`);
      console.log(`tessera (${r.backend}, ${r.threads} threads): ${f(r.tessera_tokens_per_s)} tokens/s, ${f(r.tessera_step_s * 1000)} ms/step, ${f(r.tessera_gflops, 1)} GFLOP/s`);
      console.log(`pytorch: ${f(r.torch_tokens_per_s)} tokens/s (${r.torch_note ?? ''})`);
      console.log(`ratio (tessera/pytorch): ${f(r.ratio, 2)} | SGEMM peak ${f(r.sgemm_peak_gflops, 1)} GFLOP/s | MFU ${r.mfu === null ? 'n/a' : (100 * r.mfu).toFixed(1) + '%'} | peak RSS ${f(r.peak_rss_mb)} MB`);
    });
  cmd.command('step')
    .description('one inner training step (forward + backward + AdamW) of a model shape on this machine: median ms (TESSERA_THREADS=1 for one node\'s share)')
    .option('--preset <name>', 'model shape', 'small')
    .option('--batch <n>', 'sequences per step', int('--batch', 1), 8)
    .option('--seq <n>', 'sequence length', int('--seq', 2), 128)
    .option('--vocab-size <n>', 'vocabulary', int('--vocab-size', 2), 8192)
    .option('--steps <n>', 'timed steps (median reported)', int('--steps', 1), 4)
    .option('--json', 'print one JSON object')
    .action((o: { preset: string; batch: number; seq: number; vocabSize: number; steps: number; json?: boolean }) => {
      const r = benchStep(o);
      console.log(o.json ? JSON.stringify(r) : `${r.preset} ${r.batch}×${r.seq} (vocab ${r.vocabSize}): ${r.ms_per_step.toFixed(1)} ms per step (${r.backend}, threads ${r.threads}, median of ${r.steps})`);
    });
  cmd.command('data')
    .description('a ≥ 200 MB dataset on a private Ceph RGW (two mirrors): what a new miner fetches in its first and later windows, after a restart, and with a shard altered on one mirror; appends to bench/data.md')
    .option('--size-mb <n>', 'dataset size', float('--size-mb', 1), DATA_BENCH_DEFAULTS.sizeMb)
    .option('--shards <n>', 'train shards', int('--shards', 1), DATA_BENCH_DEFAULTS.shards)
    .option('--chunk-tokens <n>', 'tokens per verifiable chunk', int('--chunk-tokens', 1), DATA_BENCH_DEFAULTS.chunkTokens)
    .option('--windows <n>', 'windows of one miner', int('--windows', 2), DATA_BENCH_DEFAULTS.windows)
    .option('--cache-mb <n>', 'chunk cache bound', float('--cache-mb', 1), DATA_BENCH_DEFAULTS.cacheMb)
    .option('--out <dir>', 'where data.md is', 'bench')
    .option('--no-record', 'print only; do not append to data.md')
    .option('--json', 'print one JSON object')
    .action(async (o: { sizeMb: number; shards: number; chunkTokens: number; windows: number; cacheMb: number; out: string; record: boolean; json?: boolean }) => {
      const opts = { ...DATA_BENCH_DEFAULTS, sizeMb: o.sizeMb, shards: o.shards, chunkTokens: o.chunkTokens, windows: o.windows, cacheMb: o.cacheMb };
      const r = await runDataBench({ ...opts, log: o.json ? undefined : (l) => console.log(`[data] ${l}`) });
      const md = dataBenchMarkdown(r, opts, machineLine());
      if (o.json) console.log(JSON.stringify(r));
      else console.log(md);
      if (o.record) {
        const file = join(o.out, 'data.md');
        if (!existsSync(file)) writeFileSync(file, '# Published datasets: what a miner fetches (tessera bench data)\n\n');
        appendFileSync(file, md + '\n');
      }
    });
  cmd.command('soak')
    .description('npm start as a user runs it (tessera devnet at its defaults) for a long time, optionally with busy processes and stop/restart cycles; appends to bench/soak.md')
    .option('--minutes <n>', 'how long', float('--minutes', 0.1), 60)
    .option('--busy <n>', 'CPU-spinning processes running beside it', int('--busy', 0), 0)
    .option('--restarts <n>', 'stop/restart cycles of the whole devnet, evenly spread', int('--restarts', 0), 0)
    .option('--dir <dir>', 'keep the devnet in this folder (default: a temporary one, removed afterwards)')
    .option('--title <text>', 'section title in bench/soak.md')
    .option('--out <dir>', 'where soak.md is', 'bench')
    .option('--no-record', 'print only; do not append to soak.md')
    .option('--json', 'print one JSON object')
    .action(async (o: { minutes: number; busy: number; restarts: number; dir?: string; title?: string; out: string; record: boolean; json?: boolean }) => {
      const r = await runSoak({ minutes: o.minutes, busy: o.busy, restarts: o.restarts, dir: o.dir, log: o.json ? undefined : (l) => console.log(`[soak] ${l}`) });
      const title = o.title ?? `${o.minutes} min${o.busy ? `, ${o.busy} busy` : ''}${o.restarts ? `, ${o.restarts} restarts` : ''}`;
      if (o.record) console.error(`recorded in ${recordSoak(o.out, r, title)}`);
      console.log(o.json ? JSON.stringify(r) : soakMarkdown(r, title));
    });
  cmd.command('chaos')
    .description('a devnet (chain, storage, 3 miners, 2 validators) hit by seeded faults (kill -9 at failpoints, outages, a cut link, a full disk, damaged state, the leader killed); checks nothing is lost or corrupt and all agree; appends to bench/chaos.md')
    .option('--seed <n>', 'seed of the fault order, targets and moments', int('--seed', 0), 1)
    .option('--faults <list>', `'all' (22 faults), 'ci' (6; 7 with --hosts: and link-cut), or a comma-separated list of kinds: ${FAULT_KINDS.join(', ')}`, 'all')
    .option('--storage <kind>', "'ceph' (a private Ceph RGW; default when installed) or 'fs' (faults that need a gateway are skipped)")
    .option('--hosts', 'every process (chain, Ceph RGW, each miner and validator) in its own network namespace on one bridge; link-cut takes the miner\'s namespace link down (root and Ceph needed; storage is Ceph)')
    .option('--block-ms <ms>', 'block time (a window is 12 blocks)', int('--block-ms', 100), 500)
    .option('--recover-windows <n>', 'windows a fault may take to recover before it counts as not survived', int('--recover-windows', 1), 8)
    .option('--dir <dir>', 'keep the devnet in this folder (default: a temporary one, removed afterwards)')
    .option('--out <dir>', 'where chaos.md is', 'bench')
    .option('--no-record', 'print only; do not append to chaos.md')
    .option('--json', 'print one JSON object')
    .action(async (o: { seed: number; faults: string; storage?: string; hosts?: boolean; blockMs: number; recoverWindows: number; dir?: string; out: string; record: boolean; json?: boolean }) => {
      if (o.storage !== undefined && o.storage !== 'ceph' && o.storage !== 'fs') throw new TesseraError(`--storage must be 'ceph' or 'fs' (got '${o.storage}')`);
      let faults;
      try { faults = parseFaults(o.faults, o.hosts === true); } catch (e) { throw new TesseraError((e as Error).message, 'see tessera bench chaos --help'); }
      const r = await runChaos({ seed: o.seed, faults, storage: o.storage as 'ceph' | 'fs' | undefined, hosts: o.hosts === true, blockMs: o.blockMs, recoverWindows: o.recoverWindows,
        dir: o.dir, keep: o.dir !== undefined, log: o.json ? (l) => console.error(`[chaos] ${l}`) : (l) => console.log(`[chaos] ${l}`) });
      if (o.record) console.error(`recorded in ${recordChaos(o.out, r)}`);
      if (o.json) {
        const { faults_injected, faults_survived, uploads_lost, objects_corrupt_seen, windows_to_recover, fingerprints_agree, ...rest } = r;
        console.log(JSON.stringify({ faults_injected, faults_survived, uploads_lost, objects_corrupt_seen, windows_to_recover, fingerprints_agree, ...rest }));
      } else console.log(JSON.stringify(r, null, 2));
      if (r.faults_survived < r.faults_injected || r.uploads_lost > 0 || r.objects_corrupt_seen > 0 || !r.fingerprints_agree) process.exitCode = 1;
    });
  cmd.command('codec')
    .description('SparseLoCo codec on a ~100M-parameter layout: compression vs dense fp32 (12-bit and entropy-coded indices), encode and 20-peer aggregate time')
    .option('--peers <n>', 'peers aggregated', int('--peers', 1), 20)
    .option('--vector-chunk <n>', `values per chunk of a 1-D tensor (default ${CODEC_DEFAULTS.vectorChunk} = topk: every value sent; 4096: top-64 of 4096 like the matrices)`, int('--vector-chunk', 1), CODEC_DEFAULTS.vectorChunk)
    .option('--json', 'print one JSON object')
    .action(async (o: { peers: number; vectorChunk: number; json?: boolean }) => {
      const cfg = { ...CODEC_DEFAULTS, vectorChunk: o.vectorChunk };
      validateCodecConfig(cfg);
      const r = await benchCodec({ peers: o.peers, cfg });
      console.log(o.json ? JSON.stringify(r) : formatCodecBench(r));
    });
  const d = CONVERGENCE_DEFAULTS;
  cmd.command('convergence')
    .description('R simulated replicas, same tokens per replica: AdamW DDP vs DiLoCo vs DeMo vs SparseLoCo (12-bit and entropy-coded)')
    .option('--preset <name>', 'model shape', 'reference')
    .option('--data <dir>', 'prepared data directory', 'data/default')
    .option('--replicas <n>', 'replicas R', int('--replicas', 1), d.replicas)
    .option('--inner-steps <n>', 'inner steps H per outer round', int('--inner-steps', 1), d.H)
    .option('--rounds <n>', 'outer rounds (tokens per replica = rounds·H·batch·seq)', int('--rounds', 1), d.rounds)
    .option('--batch <n>', 'sequences per replica step', int('--batch', 1), d.batch)
    .option('--seq <n>', 'sequence length', int('--seq', 2), d.seq)
    .option('--inner-lr <x>', 'peak inner AdamW learning rate (also DDP and solo)', float('--inner-lr', 0), d.innerLr)
    .option('--warmup <n>', 'learning-rate warmup steps (then cosine to lr/10)', int('--warmup', 0), d.warmup)
    .option('--alpha <x>', 'SparseLoCo outer SGD step α', float('--alpha', 0), d.sparselocoAlpha)
    .option('--beta <x>', 'SparseLoCo error-feedback decay β', float('--beta', 0), d.codec.beta)
    .option('--topk <n>', 'SparseLoCo values kept per 64×64 chunk', int('--topk', 1), d.codec.topk)
    .option('--diloco-lr <x>', 'DiLoCo outer Nesterov learning rate', float('--diloco-lr', 0), d.dilocoLr)
    .option('--diloco-momentum <x>', 'DiLoCo outer Nesterov momentum', float('--diloco-momentum', 0), d.dilocoMomentum)
    .option('--sparseloco-momentum <x>', 'SparseLoCo outer Nesterov momentum on the sparse aggregate with lr --alpha (0: plain SGD, the protocol)', float('--sparseloco-momentum', 0), d.sparselocoMomentum)
    .option('--overlap <mode>', 'SparseLoCo training base: none (θ of the round), stale (θ one aggregate older: communication behind compute), eager (stale less the replica\'s own last update), rebase (eager, the update measured from θ of the round)', d.overlap)
    .option('--h-warmup', 'DiLoCo/SparseLoCo: rounds of 1, 2, 4, … inner steps up to H first (same total steps)')
    .option('--moment-sync-every <n>', 'DiLoCo/SparseLoCo: average the replicas\' AdamW moments every n rounds (DES-LOC; 8 bytes per parameter, counted); 0 = never', int('--moment-sync-every', 0), d.momentSyncEvery)
    .option('--inner-optimizer <name>', 'DiLoCo/SparseLoCo inner optimizer: adamw, or muon (Muon on hidden matrices, AdamW elsewhere: MuLoCo)', 'adamw')
    .option('--no-sparse-quant', 'SparseLoCo ablation: send the kept values exactly (top-k only, no 2-bit table)')
    .option('--no-sparse-clip', 'SparseLoCo ablation: no per-tensor clip to the median peer norm')
    .option('--sparse-mean <rule>', 'SparseLoCo aggregate per coordinate: senders (÷ peers that sent it: Templar, the protocol) or replicas (÷ R: the paper\'s formula)', 'senders')
    .option('--demo-lr <x>', 'DeMo learning rate (sign step size, scaled by the inner schedule)', float('--demo-lr', 0), d.demo.lr)
    .option('--eval-batches <n>', 'validation batches (of batch×seq tokens) per measurement', int('--eval-batches', 1), d.evalBatches)
    .option('--eval-every <n>', 'measure validation loss every n rounds (and after the last)', int('--eval-every', 1), d.evalEvery)
    .option('--methods <list>', `comma-separated subset of ${METHODS.join(',')}`, METHODS.join(','))
    .option('--out <dir>', 'where convergence.md/.json/.svg are written', 'bench')
    .action((o: { preset: string; data: string; replicas: number; innerSteps: number; rounds: number; batch: number; seq: number; innerLr: number; warmup: number; alpha: number; beta: number; topk: number; dilocoLr: number; dilocoMomentum: number; sparselocoMomentum: number; overlap: string; hWarmup?: boolean; momentSyncEvery: number; innerOptimizer: string; sparseQuant: boolean; sparseClip: boolean; sparseMean: string; demoLr: number; evalBatches: number; evalEvery: number; methods: string; out: string }) => {
      const methods = o.methods.split(',').map((m) => m.trim()).filter(Boolean) as Method[];
      const bad = methods.filter((m) => !METHODS.includes(m));
      if (bad.length) throw new TesseraError(`unknown method(s): ${bad.join(', ')}`, `choose from ${METHODS.join(', ')}`);
      if (!['none', 'stale', 'eager', 'rebase'].includes(o.overlap)) throw new TesseraError(`unknown --overlap ${o.overlap}`, 'choose none, stale, eager or rebase');
      if (o.innerOptimizer !== 'adamw' && o.innerOptimizer !== 'muon') throw new TesseraError(`unknown --inner-optimizer ${o.innerOptimizer}`, 'choose adamw or muon');
      if (o.sparseMean !== 'senders' && o.sparseMean !== 'replicas') throw new TesseraError(`unknown --sparse-mean ${o.sparseMean}`, 'choose senders or replicas');
      const model = getPreset(o.preset);
      const data = openTrainData(o.data);
      const opts = { ...d, model, data, replicas: o.replicas, H: o.innerSteps, rounds: o.rounds, batch: o.batch, seq: o.seq,
        innerLr: o.innerLr, warmup: o.warmup, sparselocoAlpha: o.alpha, dilocoLr: o.dilocoLr, dilocoMomentum: o.dilocoMomentum, evalEvery: o.evalEvery, evalBatches: o.evalBatches, sparselocoMomentum: o.sparselocoMomentum, overlap: o.overlap as 'none' | 'stale' | 'eager' | 'rebase', hWarmup: !!o.hWarmup, momentSyncEvery: o.momentSyncEvery, innerOptimizer: o.innerOptimizer as 'adamw' | 'muon', demo: { ...d.demo, lr: o.demoLr },
        sparseAblation: { quant: o.sparseQuant, clip: o.sparseClip, mean: o.sparseMean as 'senders' | 'replicas' },
        codec: { ...d.codec, beta: o.beta, topk: o.topk }, methods, log: (l: string) => console.log(l) };
      validateCodecConfig(opts.codec);
      const params = modelInfo({ ...model, vocabSize: data.vocabSize }).params;
      const results = runConvergence(getBackend(), opts, (partial) => writeConvergenceReport(o.out, partial, opts, params));
      console.log(convergenceTable(results));
      console.log(`written: ${o.out}/convergence.md, convergence.json, convergence.svg`);
    });
  cmd.command('convergence-study')
    .description('report of the convergence study (runs left by scripts/convergence-study.mjs): final loss vs tuned DDP, bytes per replica, tokens per parameter; writes convergence.md/.json/.svg')
    .option('--dir <dir>', 'the study\'s runs', 'runs/study')
    .option('--preset <name>', 'model shape of the runs', 'micro')
    .option('--data <dir>', 'prepared data of the runs (for the vocabulary)', 'data/v512')
    .option('--notes <file>', 'markdown appended to convergence.md (the reading of the results)')
    .option('--load <text>', 'how loaded the machine was while the runs ran (written into convergence.md)', 'under load from parallel work')
    .option('--out <dir>', 'where convergence.md/.json/.svg are written', 'bench')
    .action((o: { dir: string; preset: string; data: string; notes?: string; load: string; out: string }) => {
      const model = getPreset(o.preset), data = openTrainData(o.data);
      const params = modelInfo({ ...model, vocabSize: data.vocabSize }).params;
      const r = writeStudyReport(o.dir, o.out, params, o.preset, o.notes ? readFileSync(o.notes, 'utf8') : '', o.load);
      console.log(JSON.stringify({ tokens_per_param: r.tokens_per_param, targets: r.targets, methods: r.methods.map((m) => [m.label, m.final_loss, m.gap_vs_ddp]) }, null, 1));
      console.log(`written: ${o.out}/convergence.md, convergence.json, convergence.svg`);
    });
  return cmd;
}

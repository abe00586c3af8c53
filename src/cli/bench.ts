// `tessera bench ...`: benchmarks whose results are recorded under bench/ (not timed test assertions).
import { Command } from 'commander';
import { getBackend } from '../engine/select.js';
import { benchEngine } from '../bench/engine.js';
import { int } from './options.js';

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
  return cmd;
}

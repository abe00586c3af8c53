// `tessera model info`: parameters, bytes per replica and FLOPs per token of a preset.
import { Command } from 'commander';
import { PRESETS, getPreset, modelInfo } from '../model/index.js';

const gb = (b: number) => (b >= 1e9 ? `${(b / 1e9).toFixed(2)} GB` : `${(b / 1e6).toFixed(2)} MB`);
const count = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : `${(n / 1e6).toFixed(2)}M`);

export function modelCommand(): Command {
  const cmd = new Command('model').description('model shapes and sizing');
  cmd.command('info')
    .description('print parameters, bytes per replica (weights, grads, AdamW, error feedback) and FLOPs per token')
    .option('--preset <name>', `one of: ${Object.keys(PRESETS).join(', ')}`, 'reference')
    .option('--json', 'print JSON')
    .action((o: { preset: string; json?: boolean }) => {
      const c = getPreset(o.preset);
      const i = modelInfo(c);
      if (o.json) {
        console.log(JSON.stringify({ preset: o.preset, config: c, params: i.params, matmulParams: i.matmulParams, bytes: i.bytes, flopsPerToken: i.flopsPerToken }));
        return;
      }
      console.log(`preset ${o.preset}: ${PRESETS[o.preset.toLowerCase()]!.note}`);
      console.log(`  shape       dim ${c.dim}, layers ${c.nLayers}, heads ${c.nHeads} (kv ${c.nKvHeads}), ffn ${c.ffnHidden}, vocab ${c.vocabSize}, seq ${c.maxSeqLen}${c.tiedEmbeddings ? ', tied embeddings' : ''}`);
      console.log(`  parameters  ${count(i.params)} (${i.params.toLocaleString('en-US')}; ${count(i.matmulParams)} in matmuls)`);
      console.log(`  bytes per replica (fp32): weights ${gb(i.bytes.weights)}, grads ${gb(i.bytes.grads)}, AdamW ${gb(i.bytes.adamw)}, error feedback ${gb(i.bytes.errorFeedback)}; total ${gb(i.bytes.total)}`);
      console.log(`  training FLOPs per token at seq ${c.maxSeqLen}: ${(i.flopsPerToken / 1e9).toFixed(3)} GFLOP (6·N_matmul + 12·L·H·Dh·T)`);
    });
  return cmd;
}

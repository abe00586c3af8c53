// Writes the convergence results: a markdown table, the raw curves as JSON, and an SVG plot
// (validation loss vs tokens per replica, and vs bytes sent per replica on a log axis).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { plotSvg } from '../util/plot.js';
import { machineLine } from './machine.js';
import type { ConvergenceOptions, MethodResult } from './convergence.js';

export function convergenceTable(results: MethodResult[]): string {
  const ddp = results.find((r) => r.method === 'AdamW DDP');
  const diloco = results.find((r) => r.method === 'DiLoCo');
  const rows = results.map((r) => {
    const vsDdp = ddp ? `${(((r.finalValLoss - ddp.finalValLoss) / ddp.finalValLoss) * 100).toFixed(2)}%` : 'n/a';
    const lessThanDiloco = !diloco ? 'n/a' : r.bytesPerReplica === 0 ? '— (sends nothing)' : `${(diloco.bytesPerReplica / r.bytesPerReplica).toFixed(1)}×`;
    return `| ${r.method} | ${r.finalValLoss.toFixed(4)} | ${vsDdp} | ${(r.bytesPerReplica / 1e6).toFixed(3)} | ${lessThanDiloco} | ${r.bitsPerParamPerRound.toFixed(4)} | ${r.rounds} | ${r.wallS.toFixed(0)} |`;
  });
  return ['| method | final val loss | vs DDP | MB sent per replica | DiLoCo bytes ÷ this | bits/param/round | rounds | wall s |',
    '|---|---|---|---|---|---|---|---|', ...rows].join('\n');
}

export function writeConvergenceReport(dir: string, results: MethodResult[], o: ConvergenceOptions, params: number): void {
  mkdirSync(dir, { recursive: true });
  const settings = `R=${o.replicas}, H=${o.H}, rounds=${o.rounds}, batch ${o.batch}×${o.seq} per replica-step, ` +
    `${(o.rounds * o.H * o.batch * o.seq).toLocaleString('en-US')} tokens per replica, model d=${o.model.dim} L=${o.model.nLayers} ` +
    `(${(params / 1e6).toFixed(2)}M params), inner AdamW lr ${o.innerLr} (warmup ${o.warmup}, cosine), SparseLoCo α=${o.sparselocoAlpha} ` +
    `top-${o.codec.topk}/${o.codec.tile}² β=${o.codec.beta}, DiLoCo Nesterov lr ${o.dilocoLr} μ ${o.dilocoMomentum}, DeMo lr ${o.demo.lr} β ${o.demo.beta} top-${o.demo.topk}/${o.demo.tile}²`;
  const md = `# Convergence: SparseLoCo vs AdamW DDP, DiLoCo, DeMo\n\nRecorded ${machineLine()}.\n\nSettings: ${settings}.\n\n` +
    `${convergenceTable(results)}\n\nPlot: convergence.svg; curves: convergence.json. Produced by \`tessera bench convergence\`.\n`;
  writeFileSync(join(dir, 'convergence.md'), md);
  writeFileSync(join(dir, 'convergence.json'), JSON.stringify({ machine: machineLine(), settings, results }, null, 1));
  const series = (f: (p: MethodResult['curve'][number]) => number) => results.map((r) => ({ name: r.method, x: r.curve.map(f), y: r.curve.map((p) => p.valLoss) }));
  writeFileSync(join(dir, 'convergence.svg'), plotSvg([
    { title: 'validation loss vs tokens', xLabel: 'tokens per replica', yLabel: 'validation loss (nats)', series: series((p) => p.tokensPerReplica) },
    { title: 'validation loss vs bytes sent', xLabel: 'bytes sent per replica', yLabel: 'validation loss (nats)', logX: true, series: series((p) => p.bytesPerReplica) },
  ], `${machineLine()} | ${settings}`.slice(0, 260)));
}

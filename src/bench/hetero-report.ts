// Writes `tessera bench hetero` results: bench/hetero.md (tables), hetero.json (raw), hetero.svg
// (validation loss vs tokens per replica for every configuration, and utilization vs link rate).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { plotSvg, type Panel } from '../util/plot.js';
import { machineLine } from './machine.js';
import type { ConfigResult, HeteroLossOptions } from './hetero.js';
import type { UtilizationResult } from '../hetero/pipeline.js';

export type HeteroSummary = Record<string, unknown>;

const pct = (x: unknown) => (typeof x === 'number' ? `${(100 * x).toFixed(2)}%` : 'n/a');

export function heteroTables(results: ConfigResult[], util: UtilizationResult[]): string {
  const hom = results.find((r) => r.config === 'homogeneous')?.finalValLoss;
  const rows = results.map((r) => `| ${r.config} | ${r.replicas.join(', ')} | ${r.finalValLoss.toFixed(4)} | ${hom ? pct((r.finalValLoss - hom) / hom) : 'n/a'} | ${r.boundaryBytesPerToken ? r.boundaryBytesPerToken.toFixed(1) : '—'} | ${r.wallS.toFixed(0)} |`);
  const loss = ['| configuration | replicas | final val loss | vs homogeneous | boundary bytes/token (fwd+bwd) | wall s |', '|---|---|---|---|---|---|', ...rows].join('\n');
  if (util.length === 0) return loss;
  const urows = util.map((u) => `| ${u.codec} | ${u.rateLabel} | ${u.link === 'tc' ? 'tc tbf (netns)' : 'user-space model'} | ${u.micro} | ${u.steps} | ${u.utilization.toFixed(3)} | ${u.utilizationExSched.toFixed(3)} | ${u.utilizationExRunQueue !== undefined ? u.utilizationExRunQueue.toFixed(3) : '—'} | ${u.stallMsPerStep.toFixed(0)} | ${u.schedMsPerStep.toFixed(0)} | ${u.runQueueAllMsPerStep !== undefined ? u.runQueueAllMsPerStep.toFixed(0) : '—'} | ${u.busiestStage} | ${u.stageBusyMs.map((b) => b.toFixed(0)).join(' / ')} | ${u.wallMs.toFixed(0)} | ${(u.bytesPerStep / 1e3).toFixed(1)} | ${u.wireBytesPerStep ? (u.wireBytesPerStep / 1e3).toFixed(1) : '—'} | ${u.linkMsPerStep.toFixed(1)} |`);
  const ut = ['| codec | link | shaped by | micro-batches | steps | pipeline_utilization | without run-queue delay | without any run-queue time outside computing (kernel) | stall ms/step | run-queue ms/step | run-queue ms/step, all (kernel) | busiest stage | busy ms per step per stage | wall ms per step | kB per step | kB per step on the veth | link ms per step |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|', ...urows].join('\n');
  return `${loss}\n\n${ut}`;
}

export function writeHeteroReport(dir: string, results: ConfigResult[], util: UtilizationResult[], summary: HeteroSummary,
  o: HeteroLossOptions | null, notes: string, keptSettings?: string): void {
  mkdirSync(dir, { recursive: true });
  const settings = keptSettings && !o ? keptSettings : o ? `R=${o.replicas}, H=${o.H}, rounds=${o.rounds}, batch ${o.batch}×${o.seq} per replica-step (${o.micro} micro-batches in a group), ` +
    `${(o.rounds * o.H * o.batch * o.seq).toLocaleString('en-US')} tokens per replica, model d=${o.model.dim} L=${o.model.nLayers} vocab ${o.data.vocabSize}, ` +
    `S=${o.stages} stages, subspace rank k=${o.rank}, inner AdamW lr ${o.innerLr} (warmup ${o.warmup}, cosine), SparseLoCo α=${o.alpha} top-${o.codec.topk}/${o.codec.tile}² β=${o.codec.beta}` : 'loss part not run';
  const md = `# Heterogeneous SparseLoCo: full replicas beside pipeline groups\n\nRecorded ${machineLine()}, under load from parallel work ` +
    `(8 engineers share this machine's 2 cores; wall times are not comparable between runs).\n\nSettings: ${settings}.\n\n` +
    `${heteroTables(results, util)}\n\nSummary (\`--json\`):\n\n\`\`\`json\n${JSON.stringify(summary, null, 1)}\n\`\`\`\n\n${notes}\n\nPlot: hetero.svg; curves: hetero.json. Produced by \`tessera bench hetero\`.\n`;
  writeFileSync(join(dir, 'hetero.md'), md);
  writeFileSync(join(dir, 'hetero.json'), JSON.stringify({ machine: machineLine(), settings, summary, results, utilization: util }, null, 1));
  const panels: Panel[] = [];
  if (results.length) panels.push({ title: 'validation loss vs tokens', xLabel: 'tokens per replica', yLabel: 'validation loss (nats)',
    series: results.map((r) => ({ name: r.config, x: r.curve.map((p) => p.tokensPerReplica), y: r.curve.map((p) => p.valLoss) })) });
  if (util.length) {
    const codecs = [...new Set(util.map((u) => u.codec))];
    panels.push({ title: 'pipeline utilization vs link rate (shaped links)', xLabel: 'link rate (bit/s)', yLabel: 'utilization of the busiest stage', logX: true,
      series: codecs.map((c) => { const us = util.filter((u) => u.codec === c && u.rateBps > 0).sort((a, b) => a.rateBps - b.rateBps); return { name: c, x: us.map((u) => u.rateBps), y: us.map((u) => u.utilization) }; }) });
  }
  if (panels.length) writeFileSync(join(dir, 'hetero.svg'), plotSvg(panels));
}

// The convergence study's report (issue 17): reads the runs that scripts/convergence-study.mjs left
// under runs/study/<name>/ (each one `tessera bench convergence` process: convergence.json + args.json)
// and writes bench/convergence.md, .json and .svg — final loss per method relative to tuned AdamW DDP
// (Charles et al.'s "percentage of final loss relative to DDP"), bytes per replica, tokens per parameter,
// and the sweeps that chose each method's settings.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { plotSvg } from '../util/plot.js';
import { machineLine } from './machine.js';
import type { MethodResult } from './convergence.js';

export interface StudyRun { name: string; args: string[]; results: MethodResult[] }

/** Every finished run under `dir` (those with a convergence.json), by name. */
export function readStudy(dir: string): StudyRun[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((n) => existsSync(join(dir, n, 'convergence.json'))).sort().map((name) => ({
    name,
    args: existsSync(join(dir, name, 'args.json')) ? JSON.parse(readFileSync(join(dir, name, 'args.json'), 'utf8')) as string[] : [],
    results: (JSON.parse(readFileSync(join(dir, name, 'convergence.json'), 'utf8')) as { results: MethodResult[] }).results,
  }));
}

/** The value of flag `k` in a run's CLI arguments (undefined when absent). */
export const argOf = (args: readonly string[], k: string): string | undefined => { const i = args.indexOf(k); return i >= 0 ? args[i + 1] : undefined; };

/** The settings a run was tuned to, in words (inner lr, H, outer settings, variant flags). */
export function settingsOf(args: readonly string[]): string {
  const a = (k: string) => argOf(args, k), parts = [`inner lr ${a('--inner-lr') ?? '2e-3'}`];
  if (a('--batch') && a('--batch') !== '8') parts.push(`batch ${a('--batch')}`);
  const m = a('--methods');
  if (m === 'diloco' || m === 'sparseloco') parts.push(`H ${a('--inner-steps')}`);
  if (m === 'diloco') parts.push(`outer Nesterov lr ${a('--diloco-lr') ?? '0.7'} μ ${a('--diloco-momentum') ?? '0.9'}`);
  if (m === 'sparseloco') {
    parts.push(`α ${a('--alpha') ?? '1'}`);
    if (a('--sparseloco-momentum')) parts.push(`outer Nesterov μ ${a('--sparseloco-momentum')}`);
    if (args.includes('--h-warmup')) parts.push('H warm-up 1, 2, 4, …');
    if (a('--moment-sync-every')) parts.push(`AdamW moments averaged every ${a('--moment-sync-every')} rounds`);
    if (a('--inner-optimizer') === 'muon') parts.push('Muon inner (MuLoCo)');
    if (a('--topk')) parts.push(`top-${a('--topk')}/4096`);
    if (a('--beta')) parts.push(`EF β ${a('--beta')}`);
    if (args.includes('--no-sparse-quant')) parts.push('no 2-bit (exact values)');
    if (args.includes('--no-sparse-clip')) parts.push('no median clip');
    if (a('--sparse-mean') === 'replicas') parts.push('aggregate ÷ R');
  }
  if (m === 'demo') parts.push(`DeMo lr ${a('--demo-lr') ?? '3e-4'}`);
  return parts.join(', ');
}

export interface StudyRow {
  label: string; run: string; settings: string; final_loss: number; gap_vs_ddp: number | null;
  bytes_per_replica: number; diloco_bytes_over_this: number | null; rounds: number; wall_s: number;
}

/** Rows of the final table: one per (run, method result), labelled; gap relative to the tuned DDP run. */
export function studyRows(runs: StudyRun[], prefix: string, ddp: number | null, dilocoBytes: number | null): StudyRow[] {
  const rows: StudyRow[] = [];
  const order = ['ddp', 'solo', 'diloco-H30', 'diloco-H10', 'diloco-H5', 'sparseloco-H30', 'sparseloco-H10', 'sparseloco-H5', 'demo'];
  const rank = (n: string) => { const i = order.indexOf(n.replace(/^(final|extra)-/, '')); return i < 0 ? order.length : i; };
  for (const r of runs.filter((x) => x.name.startsWith(prefix)).sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name))) {
    for (const m of r.results) {
      const H = argOf(r.args, '--inner-steps'), local = ['DiLoCo', 'SparseLoCo 12-bit', 'SparseLoCo entropy'].includes(m.method);
      const variant = r.name.replace(/^(final|extra|tune|ablate)-[a-z]+(-H\d+)?-?/, '');
      rows.push({
        label: `${m.method}${local ? ` H=${H}` : ''}${variant ? ` (${variant})` : ''}`, run: r.name, settings: settingsOf(r.args),
        final_loss: m.finalValLoss, gap_vs_ddp: ddp === null ? null : (100 * (m.finalValLoss - ddp)) / ddp,
        bytes_per_replica: m.bytesPerReplica, diloco_bytes_over_this: dilocoBytes && m.bytesPerReplica > 0 ? dilocoBytes / m.bytesPerReplica : null,
        rounds: m.rounds, wall_s: m.wallS,
      });
    }
  }
  return rows;
}

const pct = (x: number | null) => (x === null ? 'n/a' : `${x >= 0 ? '+' : ''}${x.toFixed(2)}%`);

function table(rows: StudyRow[]): string {
  return ['| method | settings | final val loss | vs DDP | MB sent per replica | DiLoCo H=30 bytes ÷ this | rounds | wall s |', '|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.label} | ${r.settings} | ${r.final_loss.toFixed(4)} | ${pct(r.gap_vs_ddp)} | ${(r.bytes_per_replica / 1e6).toFixed(3)} | ${r.diloco_bytes_over_this === null ? '—' : `${r.diloco_bytes_over_this < 10 ? r.diloco_bytes_over_this.toPrecision(2) : r.diloco_bytes_over_this.toFixed(1)}×`} | ${r.rounds} | ${r.wall_s.toFixed(0)} |`)].join('\n');
}

export interface StudyReport {
  machine: string; preset: string; params: number; replicas: number; tokens_per_replica: number; tokens_per_param: number;
  methods: StudyRow[]; extras: StudyRow[]; tuning: StudyRow[]; ablations: StudyRow[]; sweeps: { run: string; settings: string; final_loss: number; wall_s: number }[];
  targets: { sparseloco_within_3pct_of_ddp: boolean | null; sparseloco_not_worse_than_diloco: boolean | null; sparseloco_100x_fewer_bytes_12bit: boolean | null; sparseloco_100x_fewer_bytes_entropy: boolean | null };
}

/** Builds the report from the runs in `dir` and writes convergence.md/.json/.svg to `out`; returns it. */
export function writeStudyReport(dir: string, out: string, params: number, preset: string, notes = '', load = 'under load from parallel work'): StudyReport {
  const runs = readStudy(dir);
  const ddpRun = runs.find((r) => r.name === 'final-ddp'), dilRun = runs.find((r) => r.name === 'final-diloco-H30');
  const ddp = ddpRun?.results[0]?.finalValLoss ?? null, dilocoBytes = dilRun?.results[0]?.bytesPerReplica ?? null;
  const methods = studyRows(runs, 'final-', ddp, dilocoBytes), extras = studyRows(runs, 'extra-', ddp, dilocoBytes);
  const tuning = studyRows(runs, 'tune-', ddp, dilocoBytes), ablations = studyRows(runs, 'ablate-', ddp, dilocoBytes);
  const any = runs.find((r) => r.name.startsWith('final-'))?.results[0] ?? runs[0]?.results[0];
  const replicas = Number(argOf(ddpRun?.args ?? runs[0]?.args ?? [], '--replicas') ?? 4);
  const tokensPerReplica = any?.curve.at(-1)?.tokensPerReplica ?? 0;
  const sweeps = runs.filter((r) => r.name.startsWith('sweep-')).map((r) => ({ run: r.name, settings: settingsOf(r.args), final_loss: r.results[0]!.finalValLoss, wall_s: r.results[0]!.wallS }));
  const sp = methods.find((r) => r.run === 'final-sparseloco-H30' && r.label.startsWith('SparseLoCo 12-bit'));
  const spE = methods.find((r) => r.run === 'final-sparseloco-H30' && r.label.startsWith('SparseLoCo entropy'));
  const dil = methods.find((r) => r.run === 'final-diloco-H30');
  const report: StudyReport = {
    machine: machineLine(), preset, params, replicas, tokens_per_replica: tokensPerReplica, tokens_per_param: (replicas * tokensPerReplica) / params,
    methods, extras, tuning, ablations, sweeps,
    targets: {
      sparseloco_within_3pct_of_ddp: sp?.gap_vs_ddp == null ? null : sp.gap_vs_ddp <= 3,
      sparseloco_not_worse_than_diloco: sp && dil ? sp.final_loss <= dil.final_loss : null,
      sparseloco_100x_fewer_bytes_12bit: sp?.diloco_bytes_over_this == null ? null : sp.diloco_bytes_over_this >= 100,
      sparseloco_100x_fewer_bytes_entropy: spE?.diloco_bytes_over_this == null ? null : spE.diloco_bytes_over_this >= 100,
    },
  };
  mkdirSync(out, { recursive: true });
  const sweepTable = ['| sweep run | settings | final val loss | wall s |', '|---|---|---|---|',
    ...sweeps.map((s) => `| ${s.run} | ${s.settings} | ${s.final_loss.toFixed(4)} | ${s.wall_s.toFixed(0)} |`)].join('\n');
  const md = `# Convergence at the literature's budget: SparseLoCo vs tuned AdamW DDP, DiLoCo, DeMo\n\n` +
    `Recorded ${report.machine}; the machine was shared (${load}).\n\n` +
    `Model: preset \`${preset}\` (${params.toLocaleString('en-US')} parameters), R = ${replicas} replicas, ${tokensPerReplica.toLocaleString('en-US')} tokens per replica, ` +
    `**${report.tokens_per_param.toFixed(1)} tokens per parameter** (all replicas together, as Charles et al. count).\n\n` +
    `## Final runs (each method at its best swept setting)\n\n${table(methods)}\n\n` +
    (tuning.length ? `## Tuning at the full budget (same tokens; batch × inner lr, DiLoCo outer lr/μ, SparseLoCo α; final loss only)\n\n${table(tuning)}\n\n` : '') +
    (ablations.length ? `## Ablations: why SparseLoCo at H=30 trails DiLoCo (one factor at a time from the protocol, full budget)\n\n${table(ablations)}\n\n` : '') +
    (extras.length ? `## Closing the gap: SparseLoCo H=30 variants\n\n${table(extras)}\n\n` : '') +
    (sweeps.length ? `## Sweeps of session 6 (a third of the budget at batch 8; the finals of solo, DeMo and H = 10/5 take the best of each family)\n\n${sweepTable}\n\n` : '') +
    `Plot: convergence.svg; curves and fields (\`tokens_per_param\`, per method \`final_loss\`, \`gap_vs_ddp\`): convergence.json. ` +
    `Produced by \`node scripts/convergence-study.mjs\` then \`tessera bench convergence-study\`.\n` + (notes ? `\n${notes}\n` : '');
  writeFileSync(join(out, 'convergence.md'), md);
  const curves = runs.filter((r) => r.name.startsWith('final-') || r.name.startsWith('extra-')).flatMap((r) => r.results.filter((m) => m.method !== 'SparseLoCo entropy').map((m) => ({ run: r.name, method: m.method, curve: m.curve })));
  writeFileSync(join(out, 'convergence.json'), JSON.stringify({ ...report, curves }, null, 1));
  const series = (f: (p: MethodResult['curve'][number]) => number, logX: boolean) => curves.filter((c) => c.run.startsWith('final-'))
    .map((c) => ({ name: c.run.replace(/^final-/, ''), x: c.curve.map(f).map((x) => (logX ? Math.max(x, 1) : x)), y: c.curve.map((p) => p.valLoss) }));
  writeFileSync(join(out, 'convergence.svg'), plotSvg([
    { title: 'validation loss vs tokens per replica', xLabel: 'tokens per replica', yLabel: 'validation loss (nats)', series: series((p) => p.tokensPerReplica, false) },
    { title: 'validation loss vs bytes sent per replica', xLabel: 'bytes sent per replica (solo: 1)', yLabel: 'validation loss (nats)', logX: true, series: series((p) => p.bytesPerReplica, true) },
  ], `${report.machine} | ${preset}, ${params} params, R=${replicas}, ${report.tokens_per_param.toFixed(1)} tokens/param`.slice(0, 260)));
  return report;
}

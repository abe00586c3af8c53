#!/usr/bin/env node
// The convergence study at the literature's budget (issue 17): short per-method sweeps, then final
// runs with each method's best setting, each run one `tessera bench convergence` process writing
// runs/study/<name>/convergence.json. Resumable (a run whose json exists is skipped); `--workers N`
// runs N at once with TESSERA_THREADS=1 each. `node scripts/convergence-study.mjs --phase P`, where
// P is baselines | sparse | final | extras | all (session 6), or ablate | tune | tune-outer | promote (session 7:
// ablations, full-budget tuning of DDP / DiLoCo / SparseLoCo, the best tune runs copied to final-*);
// then `tessera bench convergence-study`.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const arg = (k, d) => { const i = process.argv.indexOf(k); return i > 0 ? process.argv[i + 1] : d; };
const phase = arg('--phase', 'all');
const workers = Number(arg('--workers', '2'));
const dir = arg('--dir', 'runs/study');
const data = arg('--data', 'data/v512');
const preset = arg('--preset', 'micro');
/** Inner steps of a full run (1140 = 38 rounds of H = 30; 8×32 tokens per replica-step: 20.3 tokens per parameter of micro at R = 4). */
const full = Number(arg('--steps', '1140'));
const short = Math.round(full / 3);
mkdirSync(dir, { recursive: true });

const common = ['--preset', preset, '--data', data, '--replicas', '4', '--batch', '8', '--seq', '32', '--warmup', '50', '--eval-batches', '32'];
/** A run of `method` for `steps` inner steps at H (rounds = steps / H); extra CLI args appended. */
function job(name, method, steps, H, extra = [], evalEvery = 1000) {
  return { name, args: [...common, '--methods', method, '--inner-steps', String(H), '--rounds', String(Math.round(steps / H)), '--eval-every', String(evalEvery), ...extra] };
}
const result = (name) => {
  const f = join(dir, name, 'convergence.json');
  if (!existsSync(f)) return undefined;
  return JSON.parse(readFileSync(f, 'utf8')).results[0];
};
/** The sweep run with the lowest final loss among `names` (those finished). */
function best(names) {
  let b;
  for (const n of names) { const r = result(n); if (r && (!b || r.finalValLoss < b.loss)) b = { name: n, loss: r.finalValLoss }; }
  return b?.name;
}
const lrs = (xs) => xs.map((x) => x.toExponential(0).replace('+', ''));

function baselines() {
  const j = [];
  for (const lr of [2e-3, 4e-3, 8e-3, 1.6e-2]) j.push(job(`sweep-ddp-lr${lrs([lr])}`, 'ddp', short, 30, ['--inner-lr', String(lr)]));
  for (const lr of [4e-3, 8e-3, 1.6e-2]) j.push(job(`sweep-solo-lr${lrs([lr])}`, 'solo', short, 30, ['--inner-lr', String(lr)]));
  for (const lr of [4e-3, 8e-3]) for (const [olr, mu] of [[0.4, 0.9], [0.7, 0.9], [1.0, 0.9], [1.0, 0]]) {
    j.push(job(`sweep-diloco-H30-lr${lrs([lr])}-o${olr}-m${mu}`, 'diloco', short, 30, ['--inner-lr', String(lr), '--diloco-lr', String(olr), '--diloco-momentum', String(mu)]));
  }
  for (const dlr of [3e-4, 1e-3, 3e-3]) j.push(job(`sweep-demo-lr${lrs([dlr])}`, 'demo', short, 30, ['--inner-lr', '4e-3', '--demo-lr', String(dlr)]));
  return j;
}

function sparse() {
  const j = [];
  for (const lr of [4e-3, 8e-3, 1.6e-2]) j.push(job(`sweep-sparseloco-H30-lr${lrs([lr])}`, 'sparseloco', short, 30, ['--inner-lr', String(lr)]));
  return j;
}

/** The flags of the best sweep run of a family (its name encodes them; we reread the job list). */
function bestArgs(prefix, fallback) {
  const all = [...baselines(), ...sparse()].filter((x) => x.name.startsWith(prefix));
  const b = best(all.map((x) => x.name));
  const jb = all.find((x) => x.name === b);
  if (!jb) { console.log(`[study] no finished sweep for ${prefix}; using ${fallback.join(' ')}`); return fallback; }
  const keep = [];
  for (const k of ['--inner-lr', '--diloco-lr', '--diloco-momentum', '--demo-lr']) {
    const i = jb.args.indexOf(k);
    if (i > 0) keep.push(k, jb.args[i + 1]);
  }
  return keep;
}

function final() {
  const ddp = bestArgs('sweep-ddp-', ['--inner-lr', '4e-3']);
  const solo = bestArgs('sweep-solo-', ['--inner-lr', '4e-3']);
  const dil = bestArgs('sweep-diloco-H30-', ['--inner-lr', '4e-3', '--diloco-lr', '0.7', '--diloco-momentum', '0.9']);
  const demo = bestArgs('sweep-demo-', ['--inner-lr', '4e-3', '--demo-lr', '1e-3']);
  const sp = bestArgs('sweep-sparseloco-H30-', ['--inner-lr', '4e-3']);
  return [
    job('final-ddp', 'ddp', full, 30, ddp, 1),
    job('final-solo', 'solo', full, 30, solo, 1),
    job('final-diloco-H30', 'diloco', full, 30, dil, 1),
    job('final-sparseloco-H30', 'sparseloco', full, 30, sp, 1),
    job('final-demo', 'demo', full, 30, demo, 1),
    job('final-diloco-H10', 'diloco', full, 10, dil, 3),
    job('final-sparseloco-H10', 'sparseloco', full, 10, sp, 3),
    job('final-sparseloco-H5', 'sparseloco', full, 5, sp, 6),
    job('final-diloco-H5', 'diloco', full, 5, dil, 6),
  ];
}

/** Gap-closing variants of SparseLoCo at H = 30 (issue 17, step 3), at the full budget. */
function extras() {
  const sp = bestArgs('sweep-sparseloco-H30-', ['--inner-lr', '4e-3']);
  const v = (name, extra) => job(`extra-sparseloco-H30-${name}`, 'sparseloco', full, 30, [...sp, ...extra], 1);
  return [
    v('alpha2', ['--alpha', '2']),
    v('nesterov-a0.5-m0.9', ['--alpha', '0.5', '--sparseloco-momentum', '0.9']),
    v('hwarmup', ['--h-warmup']),
    v('muon', ['--inner-optimizer', 'muon']),
    v('desloc-every10', ['--moment-sync-every', '10']),
  ];
}

/**
 * Why SparseLoCo at H = 30 trails DiLoCo (issue 17, session 7): one-factor ablations at the full budget,
 * each from the tuned SparseLoCo setting, only the final loss measured.
 */
function ablate() {
  const sp = bestArgs('sweep-sparseloco-H30-', ['--inner-lr', '4e-3']);
  const v = (name, extra, method = 'sparseloco') => job(`ablate-${method}-H30-${name}`, method, full, 30, [...sp.filter((x, i, a) => !extra.includes(x) && !(i > 0 && extra.includes(a[i - 1]))), ...extra], 1000);
  return [
    v('protocol', []),
    v('noquant', ['--no-sparse-quant']),
    v('noclip', ['--no-sparse-clip']),
    v('mean-replicas', ['--sparse-mean', 'replicas']),
    v('noquant-noclip', ['--no-sparse-quant', '--no-sparse-clip']),
    v('topk128', ['--topk', '128']),
    v('topk256', ['--topk', '256']),
    v('topk1024', ['--topk', '1024']),
    v('beta0.9', ['--beta', '0.9']),
    v('beta0.99', ['--beta', '0.99']),
    v('beta0.8', ['--beta', '0.8']),
  ];
}

/**
 * Tuning at the full budget, equally for the three methods of the targets (issue 17, session 7): per-replica
 * batch 2 (the same tokens as batch 8: 152 rounds at H = 30 instead of 38 — Charles et al. tune the batch per
 * method) × inner lr 2e-3, 4e-3, 8e-3, and batch 4 at 4e-3; batch 8 is each method's session-6 final
 * (tune-*-b8-* are those runs, renamed).
 * Then (tune-outer) DiLoCo's outer Nesterov (0.7, 0.9) and SparseLoCo's α 0.7 and 1.5, each at its best run.
 */
/** (batch, inner lr) pairs run for every method; batch 8 is the session-6 finals. */
const tuneGrid = [[2, 2e-3], [2, 4e-3], [2, 8e-3], [4, 4e-3]];
/** A full-budget run at per-replica batch b (steps scaled so the tokens stay the same), about 19 validation points. */
function tuneJob(name, method, b, H, extra) {
  const steps = Math.round((full * 8) / b), rounds = Math.round(steps / H);
  const args = [...common.map((x, i) => (common[i - 1] === '--batch' ? String(b) : x)), '--methods', method, '--inner-steps', String(H), '--rounds', String(rounds), '--eval-every', String(Math.max(1, Math.round(rounds / 19))), ...extra];
  return { name, args };
}
function tune() {
  const j = [];
  for (const [b, lr] of tuneGrid) {
    const l = lrs([lr]);
    j.push(tuneJob(`tune-sparseloco-H30-b${b}-lr${l}-a1`, 'sparseloco', b, 30, ['--inner-lr', String(lr), '--alpha', '1']));
    j.push(tuneJob(`tune-diloco-H30-b${b}-lr${l}-o1-m0`, 'diloco', b, 30, ['--inner-lr', String(lr), '--diloco-lr', '1', '--diloco-momentum', '0']));
    j.push(tuneJob(`tune-ddp-b${b}-lr${l}`, 'ddp', b, 30, ['--inner-lr', String(lr)]));
  }
  return j;
}
/** The finished tune run with the lowest loss among names starting with `prefix`, or undefined. */
function bestTune(prefix) {
  const all = [...tune(), ...tuneAlpha(), ...edge(), ...b8];
  const b = best(all.map((x) => x.name).filter((n) => n.startsWith(prefix)));
  return b ? all.find((x) => x.name === b) : undefined;
}
/** The session-6 batch-8 finals, renamed tune-*-b8-* (their json is there; listed so best() sees them). */
const b8 = ['tune-ddp-b8-lr8e-3', 'tune-diloco-H30-b8-lr8e-3-o1-m0', 'tune-sparseloco-H30-b8-lr4e-3-a1'].map((name) => ({ name, args: [] }));
function tuneAlpha() {
  const out = [];
  const set = (args, k, v) => args.map((x, i) => (args[i - 1] === k ? String(v) : x));
  const bs = best(tune().concat(b8).map((x) => x.name).filter((n) => n.startsWith('tune-sparseloco-')));
  const js = tune().find((x) => x.name === bs);
  if (js) for (const a of [0.7, 1.5]) out.push({ name: bs.replace(/-a1$/, `-a${a}`), args: set(js.args, '--alpha', a) });
  const bd = best(tune().concat(b8).map((x) => x.name).filter((n) => n.startsWith('tune-diloco-')));
  const jd = tune().find((x) => x.name === bd);
  if (jd) out.push({ name: bd.replace(/-o1-m0$/, '-o0.7-m0.9'), args: set(set(jd.args, '--diloco-lr', 0.7), '--diloco-momentum', 0.9) });
  return out;
}
/** The final runs of DDP, DiLoCo H = 30 and SparseLoCo H = 30: each method's best tune run (copied, with its ≈ 19-point curve); no new runs. */
function promote() {
  for (const [prefix, name] of [['tune-ddp-', 'final-ddp'], ['tune-diloco-H30-', 'final-diloco-H30'], ['tune-sparseloco-H30-', 'final-sparseloco-H30']]) {
    const jb = bestTune(prefix);
    if (!jb) { console.log(`[study] no finished tune run for ${prefix}`); continue; }
    cpSync(join(dir, jb.name), join(dir, name), { recursive: true });
    console.log(`[study] ${name} = ${jb.name} (loss ${result(jb.name).finalValLoss.toFixed(4)})`);
  }
  return [];
}

/** Where a method's best sat at the edge of the grid: SparseLoCo at batch 2 lr 1e-3 and α 2; DiLoCo (best at batch 4) and DDP at batch 4 lr 8e-3, DiLoCo outer lr 1.5 and 2. */
function edge() {
  return [
    tuneJob('tune-sparseloco-H30-b2-lr1e-3-a1', 'sparseloco', 2, 30, ['--inner-lr', '0.001', '--alpha', '1']),
    tuneJob('tune-diloco-H30-b4-lr8e-3-o1-m0', 'diloco', 4, 30, ['--inner-lr', '0.008', '--diloco-lr', '1', '--diloco-momentum', '0']),
    tuneJob('tune-ddp-b4-lr8e-3', 'ddp', 4, 30, ['--inner-lr', '0.008']),
    tuneJob('tune-sparseloco-H30-b2-lr2e-3-a2', 'sparseloco', 2, 30, ['--inner-lr', '0.002', '--alpha', '2']),
    tuneJob('tune-diloco-H30-b4-lr4e-3-o1.5-m0', 'diloco', 4, 30, ['--inner-lr', '0.004', '--diloco-lr', '1.5', '--diloco-momentum', '0']),
    tuneJob('tune-diloco-H30-b4-lr4e-3-o2-m0', 'diloco', 4, 30, ['--inner-lr', '0.004', '--diloco-lr', '2', '--diloco-momentum', '0']),
    // the outer step of each at the other's batch, and batch 1 (304 rounds) for all three
    tuneJob('tune-diloco-H30-b2-lr4e-3-o1.5-m0', 'diloco', 2, 30, ['--inner-lr', '0.004', '--diloco-lr', '1.5', '--diloco-momentum', '0']),
    tuneJob('tune-sparseloco-H30-b4-lr4e-3-a1.5', 'sparseloco', 4, 30, ['--inner-lr', '0.004', '--alpha', '1.5']),
    tuneJob('tune-sparseloco-H30-b1-lr2e-3-a1.5', 'sparseloco', 1, 30, ['--inner-lr', '0.002', '--alpha', '1.5']),
    tuneJob('tune-diloco-H30-b1-lr4e-3-o1.5-m0', 'diloco', 1, 30, ['--inner-lr', '0.004', '--diloco-lr', '1.5', '--diloco-momentum', '0']),
    tuneJob('tune-ddp-b1-lr4e-3', 'ddp', 1, 30, ['--inner-lr', '0.004']),
  ];
}

const phases = { baselines, sparse, final, extras, ablate, tune, 'tune-outer': tuneAlpha, edge, promote };
const order = phase === 'all' ? ['baselines', 'sparse', 'final', 'extras'] : phase.split(',');

async function runAll(jobs) {
  const queue = jobs.filter((x) => !existsSync(join(dir, x.name, 'convergence.json')));
  console.log(`[study] ${jobs.length} runs, ${queue.length} to do, ${workers} at once`);
  const one = (x) => new Promise((resolve) => {
    const t0 = Date.now();
    const out = join(dir, x.name);
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'args.json'), JSON.stringify(x.args));
    const p = spawn('nice', ['-n', '19', process.execPath, 'bin/tessera.js', 'bench', 'convergence', ...x.args, '--out', out],
      { env: { ...process.env, TESSERA_THREADS: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    p.stdout.on('data', (d) => { log += d; });
    p.stderr.on('data', (d) => { log += d; });
    p.on('close', (code) => {
      writeFileSync(join(out, 'run.log'), log);
      const r = result(x.name);
      console.log(`[study] ${new Date().toISOString()} ${x.name}: ${code === 0 && r ? `loss ${r.finalValLoss.toFixed(4)}` : `FAILED (exit ${code})`} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      resolve();
    });
  });
  const lanes = Array.from({ length: workers }, async () => { for (let x; (x = queue.shift());) await one(x); });
  await Promise.all(lanes);
}

for (const ph of order) {
  console.log(`[study] phase ${ph}`);
  await runAll(phases[ph]());
}

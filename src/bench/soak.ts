// `tessera bench soak`: `npm start` as a user runs it — `tessera devnet` at its defaults (the same
// Devnet the command starts, in its own folder) — for a long time, optionally with busy processes
// competing for the CPUs and with stop/restart cycles of the whole devnet (what Ctrl-C and running it
// again do). Then, from what the nodes recorded: the learning figures of bench network
// (learningReport), fingerprint agreement over every window, the validation loss against the corpus's
// unigram entropy, and per restart whether an upload anchored in time was rejected and whether the
// model kept learning after it. Results are appended to bench/soak.md.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Devnet, readFingerprints, readStatus, readTimeline, type DevnetOptions } from '../devnet/index.js';
import type { TimelineEntry } from '../neurons/types.js';
import { learningReport, type LearningReport } from './network.js';
import { machineLine } from './machine.js';

export interface SoakOptions {
  minutes: number;
  /** Busy processes (one CPU-spinning node process each), started once the devnet runs (after its window calibration) and kept to the end. */
  busy?: number;
  /** Stop/restart cycles of the whole devnet, evenly spread over the run. */
  restarts?: number;
  /** Devnet folder (kept); default a temporary one, removed afterwards. */
  dir?: string;
  /** Extra devnet options (tests); a soak proper uses the defaults. */
  devnet?: Partial<DevnetOptions>;
  log?: (line: string) => void;
}

export interface RestartCheck {
  /** The window the chain was in when the devnet stopped, and when it ran again. */
  stoppedIn: number;
  resumedIn: number;
  /** Honest uploads anchored in time (miner's margin ≥ 0) in the windows around the restart that the validator did not accept. */
  in_time_rejected: number;
  /** Validation loss of the last window before the stop and the best of the windows after the restart. */
  val_before: number | null;
  val_after_best: number | null;
  /** Windows after the restart whose fingerprint changed (the model kept moving). */
  windows_learning_after: number;
}

export interface SoakReport extends LearningReport {
  minutes: number;
  busy: number;
  restarts: RestartCheck[];
  blocks_per_window: number;
  block_ms: number;
  windows_scored: number;
  fingerprints_agree: boolean;
  windows_compared: number;
  mismatched_windows: number[];
  val_loss_first: number | null;
  val_loss_last: number | null;
  unigram_entropy: number | null;
  /** unigram entropy − final val loss (nats; the target is ≥ 1). */
  nats_below_unigram: number | null;
  in_time_rejected: number;
  wall_s: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A CPU-bound process (the "other job" on the user's machine). */
function busyProcess(): ChildProcess {
  return spawn(process.execPath, ['-e', 'let x = 0; for (;;) { x = (x * 1103515245 + 12345) % 2147483648; }'], { stdio: 'ignore' });
}

/** Fingerprint agreement over every window any two nodes applied. */
export function agreementOf(fps: readonly Map<number, string>[]): { agree: boolean; windows: number; mismatches: number[] } {
  const windows = new Set(fps.flatMap((m) => [...m.keys()]));
  const mismatches: number[] = [];
  let compared = 0;
  for (const w of [...windows].sort((a, b) => a - b)) {
    const at = fps.filter((m) => m.has(w)).map((m) => m.get(w));
    if (at.length < 2) continue;
    compared++;
    if (new Set(at).size > 1) mismatches.push(w);
  }
  return { agree: compared > 0 && mismatches.length === 0, windows: compared, mismatches };
}

/** Honest uploads anchored in time (margin ≥ 0) in windows the validator scored that it did not accept. */
export function inTimeRejected(validator: readonly TimelineEntry[], honest: ReadonlyMap<number, readonly TimelineEntry[]>, windows?: (w: number) => boolean): number {
  const byWindow = new Map(validator.map((e) => [e.window, e]));
  let n = 0;
  for (const [uid, entries] of honest) {
    for (const e of entries) {
      const v = byWindow.get(e.window);
      if (!v || (windows && !windows(e.window))) continue;
      if (e.outcome === 'uploaded' && typeof e.margin_ms === 'number' && e.margin_ms >= 0 && !(v.valid ?? []).includes(uid)) n++;
    }
  }
  return n;
}

export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'tessera-soak-'));
  const log = o.log ?? ((): void => {});
  const t0 = performance.now();
  const busy: ChildProcess[] = [];
  const segments = (o.restarts ?? 0) + 1, segmentMs = (o.minutes * 60_000) / segments;
  const cycles: { stoppedIn: number; resumedIn: number }[] = [];
  let net: Devnet | null = null;
  try {
    for (let s = 0; s < segments; s++) {
      net = await Devnet.start({ dir, miners: 3, run: {}, storage: { kind: 'fs' }, log: (l) => log(`[devnet] ${l}`), ...o.devnet });
      // The other job starts once the network runs (after the window was calibrated on a quiet machine: the harder case).
      if (s === 0) for (let i = 0; i < (o.busy ?? 0); i++) busy.push(busyProcess());
      const resumedIn = (await net.snapshot()).window ?? 0;
      if (s > 0) cycles[s - 1]!.resumedIn = resumedIn;
      log(`segment ${s + 1}/${segments}: running ${(segmentMs / 60_000).toFixed(1)} min from window ${resumedIn}`);
      const end = Date.now() + segmentMs;
      while (Date.now() < end) {
        await sleep(Math.min(30_000, end - Date.now()));
        const snap = await net.snapshot();
        const v = snap.nodes.find((r) => r.role === 'validator')?.status;
        log(`window ${snap.window}: val loss ${v?.valLoss?.toFixed(4) ?? '-'}; fingerprints ${snap.agreement.mismatches.length ? `DISAGREE at ${snap.agreement.mismatches.join(' ')}` : `agree over ${snap.agreement.windowsChecked} windows`}`);
      }
      const stoppedIn = (await net.snapshot()).window ?? 0;
      await net.stop();
      if (s < segments - 1) { cycles.push({ stoppedIn, resumedIn: -1 }); log(`stopped in window ${stoppedIn} (restart ${s + 1} of ${segments - 1})`); await sleep(3000); }
    }
  } finally {
    for (const b of busy) b.kill('SIGKILL');
    await net?.stop();
  }
  const nodes = JSON.parse(readFileSync(join(dir, 'devnet.json'), 'utf8')) as { run: { blocksPerWindow: number }; blockMs: number; miners: string[]; behaviors?: Record<string, string>; data: string };
  const vTl = readTimeline(join(dir, 'nodes', 'validator'));
  const honest = new Map(nodes.miners.filter((m) => !nodes.behaviors?.[m]).map((m) => [readStatus(join(dir, 'nodes', m))?.uid ?? -1, readTimeline(join(dir, 'nodes', m))] as const).filter(([u]) => u >= 0));
  const ag = agreementOf(['validator', ...nodes.miners].map((n) => readFingerprints(join(dir, 'nodes', n))));
  const manifest = join(nodes.data, 'manifest.json');
  const unigram = existsSync(manifest) ? (JSON.parse(readFileSync(manifest, 'utf8')) as { stats?: { unigramEntropyNats?: number }; unigramEntropyNats?: number }) : null;
  const entropy = unigram?.stats?.unigramEntropyNats ?? unigram?.unigramEntropyNats ?? null;
  const vals = vTl.filter((e) => typeof e.val_loss === 'number').map((e) => e.val_loss!);
  const restarts: RestartCheck[] = cycles.map((c) => {
    const around = (w: number): boolean => w >= c.stoppedIn - 1 && w <= c.resumedIn + 2;
    const before = vTl.filter((e) => e.window < c.resumedIn && typeof e.val_loss === 'number').at(-1)?.val_loss ?? null;
    const after = vTl.filter((e) => e.window >= c.resumedIn && typeof e.val_loss === 'number').map((e) => e.val_loss!);
    const fp = vTl.filter((e) => e.window >= c.resumedIn - 1);
    return {
      ...c, in_time_rejected: inTimeRejected(vTl, honest, around), val_before: before, val_after_best: after.length ? Math.min(...after) : null,
      windows_learning_after: fp.filter((e, i) => i > 0 && e.fingerprint !== fp[i - 1]!.fingerprint).length,
    };
  });
  const last = vals.at(-1) ?? null;
  const report: SoakReport = {
    minutes: o.minutes, busy: o.busy ?? 0, restarts, blocks_per_window: nodes.run.blocksPerWindow, block_ms: nodes.blockMs, windows_scored: vTl.length,
    ...learningReport(vTl, honest), fingerprints_agree: ag.agree, windows_compared: ag.windows, mismatched_windows: ag.mismatches,
    val_loss_first: vals[0] ?? null, val_loss_last: last, unigram_entropy: entropy, nats_below_unigram: entropy !== null && last !== null ? entropy - last : null,
    in_time_rejected: inTimeRejected(vTl, honest), wall_s: (performance.now() - t0) / 1000,
  };
  if (o.dir === undefined) rmSync(dir, { recursive: true, force: true });
  return report;
}

/** One section of bench/soak.md. */
export function soakMarkdown(r: SoakReport, title: string): string {
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`, f = (x: number | null, d = 3): string => (x === null ? '-' : x.toFixed(d));
  const lines = [
    `## ${title}`, '', `${machineLine()}; \`tessera devnet\` defaults (3 miners + 1 validator, filesystem storage), ${r.minutes} min` +
      `${r.busy ? `, ${r.busy} busy process(es) beside it, started after the window was calibrated` : ''}${r.restarts.length ? `, ${r.restarts.length} stop/restart cycle(s)` : ''}; ` +
      `window ${r.blocks_per_window} blocks × ${r.block_ms} ms (calibrated); wall ${(r.wall_s / 60).toFixed(1)} min.`, '',
    '| figure | value |', '| --- | --- |',
    `| windows scored by the validator | ${r.windows_scored} |`,
    `| honest uploads accepted | ${r.uploads_accepted} / ${r.honest_miner_windows} = **${pct(r.uploads_accepted_share)}** |`,
    `| late or skipped honest uploads | ${r.late_uploads} |`,
    `| empty-aggregate windows / stalled windows | ${r.empty_aggregate_windows} / ${r.stalled_windows} |`,
    `| uploads anchored in time but not accepted | ${r.in_time_rejected} |`,
    `| leader changes | ${r.leader_changes} |`,
    `| fingerprints agree | ${r.fingerprints_agree ? 'yes' : `NO (windows ${r.mismatched_windows.join(', ')})`} over ${r.windows_compared} windows |`,
    `| margin before the deadline (mean / min) | ${f(r.margin_ms_mean, 0)} ms / ${f(r.margin_ms_min, 0)} ms |`,
    `| inner steps per upload (mean, H = 30) | ${f(r.steps_mean, 1)} |`,
    `| validation loss first → last | ${f(r.val_loss_first)} → ${f(r.val_loss_last)} |`,
    `| unigram entropy of the corpus; last val loss below it | ${f(r.unigram_entropy)} nats; **${f(r.nats_below_unigram)} nats** |`,
  ];
  for (const [i, c] of r.restarts.entries()) {
    lines.push(`| restart ${i + 1}: stopped in window ${c.stoppedIn}, resumed in ${c.resumedIn} | in-time uploads rejected ${c.in_time_rejected}; val loss ${f(c.val_before)} before → best ${f(c.val_after_best)} after; ${c.windows_learning_after} windows moved the model after |`);
  }
  return lines.join('\n') + '\n\n';
}

/** Appends a section to <outDir>/soak.md (created with a header). */
export function recordSoak(outDir: string, r: SoakReport, title: string): string {
  const file = join(outDir, 'soak.md');
  if (!existsSync(file)) writeFileSync(file, '# Soak: `npm start` for an hour, under load, and through restarts\n\nRecorded with `tessera bench soak` (src/bench/soak.ts); figures as defined in src/bench/network.ts.\n\n');
  appendFileSync(file, soakMarkdown(r, title));
  return file;
}

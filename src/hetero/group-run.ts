// Starts a pipeline group as S stage processes (stage-main.ts) on this machine and collects what
// they print; used by the utilization bench and the tests. Each stage runs single-threaded
// (TESSERA_THREADS=1), like a node of the devnet.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import type { StageProcessConfig } from './stage-main.js';

export interface StageEvent { event: 'step' | 'end'; stage: number; ok?: boolean; reason?: string; [k: string]: unknown }

export interface RunningStage {
  proc: ChildProcess;
  events: StageEvent[];
  /** Resolves with the final event (or a synthetic one when the process died without printing it) and the exit code. */
  done: Promise<{ end: StageEvent; code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  /** Resolves when the stage has printed a step event for `step`. */
  stepDone(step: number): Promise<void>;
}

const MAIN = join(dirname(fileURLToPath(import.meta.url)), 'stage-main.js');

export function startStage(c: StageProcessConfig, env: NodeJS.ProcessEnv = {}): RunningStage {
  const proc = spawn(process.execPath, [MAIN, JSON.stringify(c)], { env: { ...process.env, TESSERA_THREADS: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const events: StageEvent[] = [];
  const waiting: { step: number; resolve: () => void }[] = [];
  let buf = '', stderr = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        const e = JSON.parse(line) as StageEvent;
        events.push(e);
        if (e.event === 'step') for (const w of waiting.filter((x) => x.step <= (e.step as number))) { w.resolve(); waiting.splice(waiting.indexOf(w), 1); }
      } catch { /* not an event line */ }
    }
  });
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const done = new Promise<{ end: StageEvent; code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    proc.on('exit', (code, signal) => {
      setImmediate(() => {
        const end = events.find((e) => e.event === 'end') ?? { event: 'end', stage: c.stage, ok: false, reason: `process exited (${signal ?? code})` };
        resolve({ end, code, signal, stderr });
      });
    });
  });
  let exited = false;
  proc.on('exit', () => { exited = true; });
  const stepDone = (step: number) => new Promise<void>((resolve, reject) => {
    if (events.some((e) => e.event === 'step' && (e.step as number) >= step)) return resolve();
    if (exited) return reject(new Error(`stage ${c.stage} exited before step ${step}: ${stderr.slice(-2000)}`));
    waiting.push({ step, resolve });
    proc.once('exit', () => setImmediate(() => reject(new Error(`stage ${c.stage} exited before step ${step}: ${stderr.slice(-2000)}`))));
  });
  return { proc, events, done, stepDone };
}

export function startGroup(base: Omit<StageProcessConfig, 'stage'>, env: NodeJS.ProcessEnv = {}): RunningStage[] {
  return Array.from({ length: base.stages }, (_, stage) => startStage({ ...base, stage }, env));
}

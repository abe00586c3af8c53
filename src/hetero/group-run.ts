// Starts a pipeline group as S stage processes (stage-main.ts) on this machine and collects what
// they print; used by the utilization bench and the tests. Each stage runs single-threaded
// (TESSERA_THREADS=1), like a node of the devnet. With a HostNet, stage s runs inside host s's
// network namespace and listens on that host's address (the links between them shaped by tc).
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import type { HostNet } from '../hosts/netns.js';
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

/** Starts a process: here, or inside a host's network namespace. */
export type SpawnIn = (cmd: string, args: readonly string[], opts: SpawnOptions) => ChildProcess;

export function startStage(c: StageProcessConfig, env: NodeJS.ProcessEnv = {}, spawnIn: SpawnIn = spawn): RunningStage {
  const proc = spawnIn(process.execPath, [MAIN, JSON.stringify(c)], { env: { ...process.env, TESSERA_THREADS: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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

/**
 * Starts the S stages of a group. With `net`, stage s runs in the namespace of net.hosts[s] (it needs
 * at least S hosts) and listens on that host's address; the links are then tc's, not modelled.
 */
export function startGroup(base: Omit<StageProcessConfig, 'stage'>, env: NodeJS.ProcessEnv = {}, net?: HostNet): RunningStage[] {
  if (net && net.hosts.length < base.stages) throw new Error(`startGroup: ${base.stages} stages need ${base.stages} hosts, the HostNet has ${net.hosts.length}`);
  return Array.from({ length: base.stages }, (_, stage) => {
    if (!net) return startStage({ ...base, stage }, env);
    const h = net.hosts[stage]!;
    return startStage({ ...base, stage, host: h.ip, externalLinks: true }, env, (cmd, args, opts) => net.spawn(h.name, cmd, args, opts));
  });
}

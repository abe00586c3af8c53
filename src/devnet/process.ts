// Child processes of a devnet: `node bin/tessera.js <command> ...` in its own process group (so a
// terminal Ctrl-C reaches only the orchestrator, which then stops them in order), output appended to
// a log file the child writes directly (it outlives the orchestrator's pipes).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { projectRoot } from '../util/paths.js';
import { TesseraError } from '../util/errors.js';

/** Set in every child: the orchestrator's pid (a node whose parent disappears stops itself). */
export const PARENT_ENV = 'TESSERA_DEVNET_PARENT';
/** The line `tessera chain` prints once it listens (followed by the URL); the orchestrator waits for it. */
export const CHAIN_READY_PREFIX = 'tessera chain: ready at ';

export interface Exit { code: number | null; signal: NodeJS.Signals | null }

export class TesseraProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  exit: Exit | null = null;
  readonly startedAt = Date.now();

  /** `netns`: run inside this network namespace (`ip netns exec` execs the command: the pid, signals and parent stay the same). */
  constructor(readonly name: string, readonly args: string[], readonly logFile: string, env: Record<string, string> = {}, readonly netns?: string) {
    mkdirSync(dirname(logFile), { recursive: true });
    const fd = openSync(logFile, 'a');
    const argv = [join(projectRoot(), 'bin', 'tessera.js'), ...args];
    try {
      this.child = spawn(netns ? 'ip' : process.execPath, netns ? ['netns', 'exec', netns, process.execPath, ...argv] : argv, {
        stdio: ['ignore', fd, fd], detached: true, env: { ...process.env, ...env, [PARENT_ENV]: String(process.pid) },
      });
    } finally {
      closeSync(fd);
    }
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => { this.exit = { code, signal }; resolve(this.exit); });
      this.child.once('error', () => { this.exit ??= { code: -1, signal: null }; resolve(this.exit); });
    });
  }

  get running(): boolean { return this.exit === null; }
  get pid(): number | undefined { return this.child.pid; }

  signal(sig: NodeJS.Signals): void {
    if (this.running) try { this.child.kill(sig); } catch { /* already gone */ }
  }

  /** Sends `sig`, waits up to graceMs, then SIGKILL. */
  async stop(sig: NodeJS.Signals = 'SIGINT', graceMs = 20_000): Promise<Exit> {
    if (!this.running) return this.exit!;
    this.signal(sig);
    const t = setTimeout(() => this.signal('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(t);
    }
  }

  /** The log's last lines (for error messages). */
  tail(lines = 15): string {
    return tailOf(this.logFile, lines);
  }
}

export function tailOf(file: string, lines = 15): string {
  if (!existsSync(file)) return '';
  const size = statSync(file).size;
  const text = readFileSync(file, 'utf8').slice(Math.max(0, size - 16384));
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * Waits for a line starting with `prefix` written to `p.logFile` after byte `from`; returns the rest
 * of that line. Fails with the log's tail if the process exits first or the time runs out.
 */
export async function waitForLine(p: TesseraProcess, from: number, prefix: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(p.logFile)) {
      const text = readFileSync(p.logFile).subarray(from).toString('utf8');
      const line = text.split('\n').find((l) => l.startsWith(prefix));
      if (line !== undefined) return line.slice(prefix.length);
    }
    if (!p.running) throw new TesseraError(`${p.name} exited (${p.exit!.code ?? p.exit!.signal}) during start:\n${p.tail()}`, `see ${p.logFile}`);
    if (Date.now() > deadline) throw new TesseraError(`${p.name} did not start within ${timeoutMs / 1000} s:\n${p.tail()}`, `see ${p.logFile}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const fileSize = (f: string): number => (existsSync(f) ? statSync(f).size : 0);

/** In a devnet child: polls whether the orchestrator is still the parent (node has no PR_SET_PDEATHSIG). */
export function watchParent(onGone: () => void): NodeJS.Timeout | undefined {
  const want = Number(process.env[PARENT_ENV]);
  if (!Number.isInteger(want) || want <= 0) return undefined;
  const t = setInterval(() => {
    if (process.ppid !== want) { clearInterval(t); onGone(); }
  }, 2000);
  t.unref();
  return t;
}

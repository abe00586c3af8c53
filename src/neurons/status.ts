// What a node shows the outside world, under its dataDir: status.json (rewritten atomically on
// every phase change), timeline.jsonl (one line per window), fingerprints.jsonl ({window,
// fingerprint} after each applied window) and node.log. Also the per-window stopwatch. These files are
// what the node shows, not what it needs: a write that fails (a full disk) is counted and said once on
// stderr, the node carries on, and once writes succeed again the log says how many were lost.
import { appendFileSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NodeMetrics } from './metrics.js';
import type { NodeStatus, Phase, TimelineEntry } from './types.js';

export const STATUS_FILE = 'status.json';
export const TIMELINE_FILE = 'timeline.jsonl';
export const FINGERPRINTS_FILE = 'fingerprints.jsonl';
export const LOG_FILE = 'node.log';

export function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
  renameSync(tmp, path);
}

export class StatusBoard {
  readonly status: NodeStatus;
  /** Status-file writes that failed since the last one that succeeded, and the first error. */
  private lost = 0;
  private lostSince = '';
  /** Prometheus metrics fed by everything written here (served with --metrics-port). */
  readonly metrics: NodeMetrics;

  constructor(private readonly dir: string, init: Pick<NodeStatus, 'name' | 'role' | 'hotkey'>) {
    mkdirSync(dir, { recursive: true });
    this.metrics = new NodeMetrics(init.role, init.name);
    this.status = {
      ...init, uid: null, phase: 'starting', window: 0, block: 0, loss: null, valLoss: null, fingerprint: null,
      fingerprintWindow: null, bytesUp: 0, bytesDown: 0, updatedAt: new Date().toISOString(),
    };
    this.flush();
  }

  get phase(): Phase { return this.status.phase; }

  /** Sets the phase (and any other fields) and rewrites status.json. */
  set(phase: Phase, fields: Partial<NodeStatus> = {}): void {
    Object.assign(this.status, fields, { phase });
    this.metrics.phaseChanged(phase, this.status.window);
    this.metrics.losses(fields.loss, fields.valLoss);
    if (fields.weights) this.metrics.weights(fields.weights);
    this.flush();
  }

  /** Updates fields without a phase change (written with the next flush or phase change). */
  note(fields: Partial<NodeStatus>): void {
    Object.assign(this.status, fields);
    this.metrics.losses(fields.loss, fields.valLoss);
  }

  addBytes(up: number, down: number): void {
    this.status.bytesUp += up;
    this.status.bytesDown += down;
    this.metrics.bytes(this.status.bytesUp, this.status.bytesDown);
  }

  flush(): void {
    this.status.updatedAt = new Date().toISOString();
    this.write(STATUS_FILE, () => writeJsonAtomic(join(this.dir, STATUS_FILE), this.status));
  }

  timeline(entry: TimelineEntry): void {
    this.write(TIMELINE_FILE, () => appendFileSync(join(this.dir, TIMELINE_FILE), JSON.stringify(entry) + '\n'));
    this.metrics.timeline(entry);
  }

  fingerprint(window: number, fingerprint: string): void {
    this.write(FINGERPRINTS_FILE, () => appendFileSync(join(this.dir, FINGERPRINTS_FILE), JSON.stringify({ window, fingerprint }) + '\n'));
    this.metrics.fingerprint(fingerprint);
    this.set(this.status.phase, { fingerprint, fingerprintWindow: window });
  }

  logLine(line: string): void {
    this.write(LOG_FILE, () => appendFileSync(join(this.dir, LOG_FILE), `${new Date().toISOString()} ${line}\n`));
  }

  /** One status-file write; a failure is counted (and said once), the first success after failures says how many were lost. */
  private write(file: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (this.lost++ === 0) {
        this.lostSince = new Date().toISOString();
        process.stderr.write(`[${this.status.name}] cannot write ${join(this.dir, file)} (${(e as Error).message}); carrying on without status files until writes succeed again (free disk space)\n`);
      }
      return;
    }
    if (this.lost > 0 && file !== LOG_FILE) {
      const n = this.lost;
      this.lost = 0;
      this.logLine(`[${this.status.name}] status files writable again: ${n} write(s) lost since ${this.lostSince} (disk full or failing)`);
    }
  }
}

type Part = 'train' | 'encode' | 'upload' | 'gather' | 'apply' | 'score';

/** Seconds per part of one window (performance.now()); idle = the rest of the window. */
export class Stopwatch {
  private readonly t0 = performance.now();
  readonly s: Record<Part, number> = { train: 0, encode: 0, upload: 0, gather: 0, apply: 0, score: 0 };
  payloadBytes = 0;
  bytesDown = 0;

  async time<T>(part: Part, fn: () => Promise<T> | T): Promise<T> {
    const t = performance.now();
    try {
      return await fn();
    } finally {
      this.s[part] += (performance.now() - t) / 1000;
    }
  }

  entry(window: number, fingerprint: string): TimelineEntry {
    const window_s = (performance.now() - this.t0) / 1000;
    const busy = Object.values(this.s).reduce((a, b) => a + b, 0);
    const r = (x: number): number => Math.round(x * 1e4) / 1e4;
    return {
      window, train_s: r(this.s.train), encode_s: r(this.s.encode), upload_s: r(this.s.upload), gather_s: r(this.s.gather),
      apply_s: r(this.s.apply), idle_s: r(Math.max(0, window_s - busy)), ...(this.s.score > 0 ? { score_s: r(this.s.score) } : {}),
      window_s: r(window_s), payloadBytes: this.payloadBytes,
      bytesDown: this.bytesDown, fingerprint,
    };
  }
}

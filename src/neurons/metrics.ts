// Prometheus metrics of one node (prom-client), fed by the node's StatusBoard (phase changes, the
// per-window timeline, fingerprints, bytes) and by the validator's scoring; served as text at
// http://HOST:PORT/metrics when the node runs with --metrics-port. Names and labels stay
// low-cardinality: no per-window label; `uid` labels are bounded by the registered miners.
// The README's "Metrics" section lists every metric; test/observability.test.ts checks that list.
import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { MinerResult } from '../gauntlet/index.js';
import type { Phase, TimelineEntry } from './types.js';

/** The parts of a window the timeline measures (seconds), as the `part` label of tessera_phase_seconds. */
export const WINDOW_PARTS = ['train', 'encode', 'upload', 'gather', 'apply', 'score', 'idle'] as const;

const PHASE_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 40, 80, 160];

export class NodeMetrics {
  readonly registry = new Registry();
  private readonly window: Gauge;
  private readonly phase: Gauge;
  private readonly phaseSeconds: Histogram;
  private readonly windowSeconds: Histogram;
  private readonly loss: Gauge;
  private readonly valLoss: Gauge;
  private readonly payloadBytes: Gauge;
  private readonly bytesUp: Counter;
  private readonly bytesDown: Counter;
  private readonly steps: Gauge;
  private readonly margin: Gauge;
  private readonly uploads: Counter;
  private readonly checked: Counter;
  private readonly score: Gauge;
  private readonly weight: Gauge;
  private readonly fpChanges: Counter;
  private readonly syncMismatches: Counter;
  private readonly retries: Counter;
  private current: Phase | null = null;
  private lastFingerprint: string | null = null;
  private lastUp = 0;
  private lastDown = 0;

  constructor(readonly role: 'miner' | 'validator', readonly name: string) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ role, node: name });
    const g = (name: string, help: string, labelNames: string[] = []): Gauge => new Gauge({ name, help, labelNames, registers });
    const c = (name: string, help: string, labelNames: string[] = []): Counter => new Counter({ name, help, labelNames, registers });
    this.window = g('tessera_window', 'the window the node works on');
    this.phase = g('tessera_phase', '1 for the phase the node is in, 0 for the others', ['phase']);
    this.phaseSeconds = new Histogram({ name: 'tessera_phase_seconds', help: 'seconds per window spent in each part (train, encode, upload, gather, apply, score, idle)', labelNames: ['part'], buckets: PHASE_BUCKETS, registers });
    this.windowSeconds = new Histogram({ name: 'tessera_window_seconds', help: 'seconds from the start of the node\'s work on a window to its end', buckets: PHASE_BUCKETS, registers });
    this.loss = g('tessera_loss', 'miner: last inner-loop training loss; validator: last evaluation loss (nats/token)');
    this.valLoss = g('tessera_val_loss', 'validator: validation loss after applying the last window (nats/token)');
    this.payloadBytes = g('tessera_payload_bytes', 'miner: bytes of the last payload it uploaded');
    this.bytesUp = c('tessera_bytes_up_total', 'bytes this node wrote to storage');
    this.bytesDown = c('tessera_bytes_down_total', 'bytes this node read from storage');
    this.steps = g('tessera_inner_steps', 'miner: inner steps trained in the last window');
    this.margin = g('tessera_deadline_margin_seconds', 'miner: deadline minus the time its last anchor was included (negative: late)');
    this.uploads = c('tessera_uploads_total', 'miner: its uploads by outcome (uploaded, already_uploaded, conflict, late, none)', ['outcome']);
    this.checked = c('tessera_uploads_checked_total', 'validator: miners\' uploads it checked, accepted or rejected by reason (missing, late, invalid, ...)', ['result', 'reason']);
    this.score = g('tessera_miner_score', 'validator: the newest Gauntlet numbers per miner (kind: final, loss_score, indicator_ma, sync, ordinal)', ['uid', 'kind']);
    this.weight = g('tessera_miner_weight', 'validator: the weight it last set per miner uid', ['uid']);
    this.fpChanges = c('tessera_fingerprint_changes_total', 'applied windows that changed the model\'s fingerprint (a stalled network stops counting)');
    this.syncMismatches = c('tessera_sync_mismatches_total', 'times this node\'s fingerprint differed from the leader\'s record and it re-synced');
    this.retries = c('tessera_retries_total', 'chain or storage calls (or whole windows) retried after a failure');
  }

  /** A phase change (StatusBoard.set). */
  phaseChanged(phase: Phase, window: number): void {
    if (phase === 'retry' && this.current !== 'retry') this.retries.inc();
    if (this.current !== null && this.current !== phase) this.phase.set({ phase: this.current }, 0);
    this.phase.set({ phase }, 1);
    this.current = phase;
    this.window.set(window);
  }

  /** Totals of bytes moved so far (StatusBoard's running sums). */
  bytes(up: number, down: number): void {
    if (up > this.lastUp) this.bytesUp.inc(up - this.lastUp);
    if (down > this.lastDown) this.bytesDown.inc(down - this.lastDown);
    this.lastUp = Math.max(this.lastUp, up);
    this.lastDown = Math.max(this.lastDown, down);
  }

  losses(loss: number | null | undefined, valLoss: number | null | undefined): void {
    if (typeof loss === 'number' && Number.isFinite(loss)) this.loss.set(loss);
    if (typeof valLoss === 'number' && Number.isFinite(valLoss)) this.valLoss.set(valLoss);
  }

  /** One window's timeline entry. */
  timeline(e: TimelineEntry): void {
    const secs: Record<(typeof WINDOW_PARTS)[number], number | undefined> = {
      train: e.train_s, encode: e.encode_s, upload: e.upload_s, gather: e.gather_s, apply: e.apply_s, score: e.score_s, idle: e.idle_s,
    };
    for (const part of WINDOW_PARTS) if (secs[part] !== undefined) this.phaseSeconds.observe({ part }, secs[part]!);
    this.windowSeconds.observe(e.window_s);
    if (this.role === 'miner') {
      this.payloadBytes.set(e.payloadBytes);
      this.uploads.inc({ outcome: e.outcome ?? 'none' });
      if (e.steps !== undefined) this.steps.set(e.steps);
      if (typeof e.margin_ms === 'number') this.margin.set(e.margin_ms / 1000);
    }
    if (typeof e.val_loss === 'number') this.valLoss.set(e.val_loss);
  }

  fingerprint(fp: string): void {
    if (this.lastFingerprint !== null && fp !== this.lastFingerprint) this.fpChanges.inc();
    this.lastFingerprint = fp;
  }

  syncMismatch(): void { this.syncMismatches.inc(); }

  /** Validator: a scored window — accepted uploads, rejections by reason, the newest numbers per miner. */
  scored(miners: readonly MinerResult[], rejected: ReadonlyMap<number, { reason: string }>): void {
    for (const m of miners) {
      const r = rejected.get(m.uid);
      if (m.status === 'ok' && !r) this.checked.inc({ result: 'accepted', reason: 'ok' });
      else this.checked.inc({ result: 'rejected', reason: r?.reason ?? m.status });
      const uid = String(m.uid);
      this.score.set({ uid, kind: 'final' }, m.final);
      if (m.score !== null) this.score.set({ uid, kind: 'loss_score' }, m.score);
      this.score.set({ uid, kind: 'indicator_ma' }, m.ma);
      this.score.set({ uid, kind: 'sync' }, m.sync);
      this.score.set({ uid, kind: 'ordinal' }, m.ordinal);
    }
  }

  weights(w: Record<number, number>): void {
    this.weight.reset();
    for (const [uid, x] of Object.entries(w)) this.weight.set({ uid }, x);
  }

  text(): Promise<string> { return this.registry.metrics(); }
}

/** Serves GET /metrics on host:port (0: any free port); resolves with its URL. The server does not keep the process alive. */
export function serveMetrics(metrics: NodeMetrics, port: number, host = '127.0.0.1'): Promise<{ url: string; server: Server }> {
  // Process CPU, memory, event-loop lag: only for a served registry (in-process test networks hold many).
  collectDefaultMetrics({ register: metrics.registry, prefix: 'tessera_process_' });
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    metrics.text().then((t) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(t),
      (e: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${e.message}\n`));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      server.unref();
      const a = server.address() as { port: number };
      resolve({ url: `http://${host.includes(':') ? `[${host}]` : host}:${a.port}/metrics`, server });
    });
  });
}

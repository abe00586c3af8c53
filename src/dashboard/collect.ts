// Reads a network into DashboardState: a devnet folder (running or stopped: the nodes' status.json,
// timeline.jsonl, fingerprints.jsonl, node.log, the chain — live or its saved state — and the leading
// validator's receipts from its bucket), a running Devnet in this process (the same, plus process
// states and events), or a chain URL alone (chain and receipts; no node files).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Metagraph } from '../chain/index.js';
import { devnetChainView, liveChainView, validatorStore, type ChainView } from '../devnet/chain-view.js';
import { readRecord, type DevnetRecord } from '../devnet/config.js';
import type { Devnet } from '../devnet/orchestrator.js';
import { fingerprintAgreement, readFingerprints, readStatus, readTimeline, type Agreement } from '../devnet/view.js';
import { explainUid, type ScoreReceipt } from '../gauntlet/index.js';
import { paramLayout } from '../model/index.js';
import { readReceipts, runIdsIn } from '../neurons/receipts.js';
import type { NodeStatus, TimelineEntry } from '../neurons/types.js';
import { leaderOf, windowOf } from '../protocol/index.js';
import type { ReadOnlyStore } from '../storage/index.js';
import { alertsOf, lossesFromLog, lossSeries, scoreRows, seriesOf, type DashboardState, type MinerView, type NodeView } from './model.js';

export interface SourceOptions {
  /** A devnet folder. */
  dir?: string;
  /** A running chain (used when there is no dir). */
  chain?: string;
  /** The devnet this process runs (tessera devnet): process states and events too. */
  devnet?: Devnet;
  /** Windows of each node's timeline sent to the page (default 40). */
  timelineWindows?: number;
  /** With --chain: the run whose receipts to read (default: the only run in the leader's bucket). */
  runId?: string;
}

interface NodeFiles { name: string; dir: string; status: NodeStatus | null; timeline: TimelineEntry[]; role: 'miner' | 'validator' }

const TIMELINE_WINDOWS = 40;

/** A node's state from its status file alone (another process runs it): stopped, running (wrote lately), or silent for how long. */
function fileState(s: NodeStatus | null, record: DevnetRecord | null): string {
  if (!s) return 'no status';
  if (s.phase === 'stopped') return 'stopped';
  const age = Date.now() - Date.parse(s.updatedAt);
  const windowMs = record ? record.run.blocksPerWindow * record.blockMs : 60_000;
  return age <= Math.max(2 * windowMs, 30_000) ? 'running' : `silent ${Math.round(age / 1000)} s`;
}

export class DashboardSource {
  private readonly receiptCache = new Map<string, ScoreReceipt>();
  private store: { text: string; store: ReadOnlyStore } | null = null;
  private receipts: ScoreReceipt[] = [];
  private cached: { at: number; state: Promise<DashboardState> } | null = null;

  constructor(readonly o: SourceOptions) {}

  get dir(): string | undefined { return this.o.devnet?.root ?? this.o.dir; }

  /** The state, computed at most once a second however many pages ask. */
  state(): Promise<DashboardState> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < 1000) return this.cached.state;
    const state = this.compute();
    this.cached = { at: now, state };
    state.catch(() => { if (this.cached?.state === state) this.cached = null; });
    return state;
  }

  /** `tessera score explain` text for a miner uid (window: the one taken apart; default the newest). */
  async explain(uid: number, window?: number): Promise<string> {
    if (this.receipts.length === 0) await this.state();
    if (this.receipts.length === 0) return `no score receipts yet: a validator writes its first one about two windows after the run starts`;
    return explainUid(this.receipts, uid, { window });
  }

  close(): void {
    this.store?.store.close();
    this.store = null;
  }

  private async chainView(record: DevnetRecord | null): Promise<ChainView | null> {
    const dir = this.dir;
    try {
      if (dir && record) return await devnetChainView(dir);
      if (this.o.chain) return await liveChainView(this.o.chain);
    } catch { /* shown as "chain unavailable" */ }
    return null;
  }

  /** Run ids found in the leader's bucket (--chain without --run-id), for the page's notes. */
  private runIds: string[] = [];

  private async readReceiptsOf(view: ChainView | null, runId: string | null, leader: number | null): Promise<ScoreReceipt[]> {
    if (!view || leader === null || typeof view.commitments[leader] !== 'string') return this.receipts;
    const text = view.commitments[leader]!;
    if (this.store?.text !== text) {
      this.store?.store.close();
      this.store = { text, store: validatorStore(view, leader) };
    }
    try {
      if (runId === null) {
        this.runIds = await runIdsIn(this.store.store);
        if (this.runIds.length !== 1) return this.receipts;
        runId = this.runIds[0]!;
      }
      this.receipts = (await readReceipts(this.store.store, runId, { cache: this.receiptCache })).receipts;
    } catch { /* a bucket that does not answer now: keep what was read */ }
    return this.receipts;
  }

  private nodeFiles(dir: string): NodeFiles[] {
    const nodesDir = join(dir, 'nodes');
    if (!existsSync(nodesDir)) return [];
    const out: NodeFiles[] = [];
    for (const name of readdirSync(nodesDir).sort()) {
      const d = join(nodesDir, name);
      const status = readStatus(d);
      let role: 'miner' | 'validator' | null = status?.role ?? null;
      if (!role) {
        try { role = (JSON.parse(readFileSync(join(d, 'config.json'), 'utf8')) as { role: 'miner' | 'validator' }).role; } catch { continue; }
      }
      out.push({ name, dir: d, status, timeline: readTimeline(d), role });
    }
    // Validators first, then miners, each by name (miner-2 before miner-10).
    const key = (n: NodeFiles): string => `${n.role === 'validator' ? 0 : 1}${n.name.replace(/\d+/g, (x) => x.padStart(6, '0'))}`;
    return out.sort((a, b) => key(a).localeCompare(key(b)));
  }

  private async compute(): Promise<DashboardState> {
    const dir = this.dir;
    const record = dir ? readRecord(dir) : null;
    const view = await this.chainView(record);
    const m: Metagraph | null = view?.metagraph ?? null;
    const runId = record?.run.runId ?? view?.runId ?? this.o.runId ?? null;
    const leader = m ? leaderOf(m) : null;
    const receipts = await this.readReceiptsOf(view, runId, leader);
    const files = dir ? this.nodeFiles(dir) : [];
    const snap = this.o.devnet ? await this.o.devnet.snapshot().catch(() => null) : null;
    const stateOf = new Map(snap?.nodes.map((r) => [r.name, r.state]) ?? []);
    const agreement: Agreement = fingerprintAgreement(files.map((f) => readFingerprints(f.dir)));
    const uidOf = (f: NodeFiles): number | null => {
      if (f.status?.uid !== null && f.status?.uid !== undefined) return f.status.uid;
      const i = m && f.status?.hotkey ? m.hotkeys.indexOf(f.status.hotkey) : -1;
      return i >= 0 ? i : null;
    };
    const nodes: NodeView[] = files.map((f) => {
      const s = f.status, uid = uidOf(f);
      const at = (v: number[] | undefined): number | null => (uid !== null && v && uid < v.length ? v[uid]! : null);
      return {
        name: f.name, role: f.role, behavior: f.role === 'miner' ? (record?.behaviors?.[f.name] ?? 'honest') : null, uid,
        state: stateOf.get(f.name) ?? fileState(s, record),
        phase: s?.phase ?? null, window: s?.window ?? null, loss: s?.loss ?? null, valLoss: s?.valLoss ?? null,
        bytesUp: s?.bytesUp ?? 0, bytesDown: s?.bytesDown ?? 0, fingerprint: s?.fingerprint ?? null,
        agrees: s?.fingerprint && s.fingerprintWindow === agreement.window ? s.fingerprint === agreement.fingerprint : null,
        marginMs: s?.marginMs ?? null, steps: s?.steps ?? null, lastError: s?.lastError ?? null, metricsUrl: s?.metricsUrl ?? null,
        stake: at(m?.stake), incentive: at(m?.Incentive), emission: at(m?.Emission), updatedAt: s?.updatedAt ?? null,
      };
    });

    const validators = files.filter((f) => f.role === 'validator');
    const leadFiles = validators.find((f) => uidOf(f) === leader) ?? validators[0];
    const minerFiles = files.filter((f) => f.role === 'miner');
    const train = new Map(minerFiles.map((f) => {
      let s = seriesOf(f.timeline, (e) => e.loss);
      if (s.size === 0 && existsSync(join(f.dir, 'node.log'))) s = lossesFromLog(readFileSync(join(f.dir, 'node.log'), 'utf8'));
      return [f.name, s] as const;
    }));
    const losses = lossSeries(seriesOf(leadFiles?.timeline ?? [], (e) => e.val_loss), train);

    // Miners: every uid the receipts scored, plus the miners with files; names from the files.
    const rows = scoreRows(receipts);
    const nameOfUid = new Map(nodes.filter((n) => n.uid !== null).map((n) => [n.uid!, n.name]));
    const minerUids = new Set<number>([...rows.keys(), ...nodes.filter((n) => n.role === 'miner' && n.uid !== null).map((n) => n.uid!)]);
    const miners: MinerView[] = [...minerUids].sort((a, b) => a - b).map((uid) => ({
      name: nameOfUid.get(uid) ?? null, uid, last: rows.get(uid)?.at(-1) ?? null, history: rows.get(uid) ?? [],
      incentive: m && uid < m.n ? m.Incentive[uid]! : null, emission: m && uid < m.n ? m.Emission[uid]! : null,
    }));

    const run = record?.run;
    const params = run ? paramLayout(run.model).total : null;
    const payloads = minerFiles.map((f) => f.timeline.filter((e) => e.payloadBytes > 0).at(-1)?.payloadBytes).filter((x): x is number => x !== undefined).sort((a, b) => a - b);
    const payloadBytes = payloads.length ? payloads[Math.floor(payloads.length / 2)]! : null;
    const timeline = Object.fromEntries(files.map((f) => [f.name, f.timeline.slice(-(this.o.timelineWindows ?? TIMELINE_WINDOWS))]));
    const alerts = alertsOf({
      miners: new Map(minerFiles.map((f) => [f.name, f.timeline])), validator: leadFiles?.timeline ?? [], receipts, agreement,
      nodes: nodes.map((n) => ({ name: n.name, state: n.state, lastError: n.lastError })), innerSteps: run?.innerSteps ?? null,
      chainWindow: view?.live && m && run ? windowOf(m.block, run.blocksPerWindow) : null, validatorName: leadFiles?.name ?? null,
    });
    if (!view) alerts.unshift({ level: 'error', text: `chain unavailable (${this.o.chain ?? (dir ? `devnet ${dir}` : 'none given')})` });
    const manifest = record ? join(record.data, 'manifest.json') : null;
    let entropy: number | null = null;
    try { entropy = manifest ? (JSON.parse(readFileSync(manifest, 'utf8')) as { stats?: { unigramEntropyNats?: number } }).stats?.unigramEntropyNats ?? null : null; } catch { /* no dataset here */ }
    const notes: string[] = [];
    if (!dir) notes.push('read from the chain and the validator\'s bucket only: loss curves, timelines and node states need --dir DEVNET_DIR');
    if (runId === null && this.runIds.length > 1) notes.push(`the leader's bucket holds receipts of several runs (${this.runIds.join(', ')}): pick one with --run-id`);
    const shownRun = runId ?? (this.runIds.length === 1 ? this.runIds[0]! : null);
    const blocksPerWindow = run?.blocksPerWindow ?? null;
    return {
      at: Date.now(), source: view?.source ?? dir ?? this.o.chain ?? '', live: view?.live ?? false, runId: shownRun, preset: record?.preset ?? null, params,
      blockMs: record?.blockMs ?? null, blocksPerWindow, innerSteps: run?.innerSteps ?? null,
      chain: { block: m?.block ?? null, window: m && blocksPerWindow ? windowOf(m.block, blocksPerWindow) : null, lastEpoch: m?.lastEpoch ?? null, tempo: m?.tempo ?? null },
      entropy, nodes, losses, timeline, miners,
      network: {
        agreement, bytesUp: nodes.reduce((s, n) => s + n.bytesUp, 0), bytesDown: nodes.reduce((s, n) => s + n.bytesDown, 0),
        payloadBytes, bitsPerParam: payloadBytes !== null && params ? (payloadBytes * 8) / params : null,
        leader: leader === null ? null : { uid: leader, name: nameOfUid.get(leader) ?? null }, receipts: receipts.length,
        aggregated: leadFiles?.timeline.at(-1)?.aggregated ?? null,
      },
      alerts, events: snap?.events.slice(-30) ?? [], notes,
    };
  }
}

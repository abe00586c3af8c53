// `tessera bench chaos`: a devnet (chain, object storage, miners, two validators as processes) that is
// hit by faults at seeded moments, one after the other, each followed by a restart (but the last: the
// leader killed for good), and what must hold after each:
//   - no partial or corrupt object is ever visible to a reader (an audit reads every object of every
//     bucket while the run goes on, and a multipart upload's key while its writer or the gateway dies);
//   - no node's local state is damaged, or it is detected and rebuilt with a clear message;
//   - every live node agrees on the fingerprint of every window;
//   - a restarted miner contributes by its first full window: its upload of the first window it mined
//     after the restart (or of the next, when it came back too late in that one) is scored valid and in
//     time; it is aggregated from the window after (the peer list of a window is fixed by the scores of
//     the window before, when the miner was down);
//   - every upload that landed in time (its digest anchored on chain before the deadline) is scored ok
//     in some validator's receipt (nothing lost), and every receipt verifies.
//
// The kill -9s land at exact places through failpoints (src/util/failpoint.ts): the harness arms one
// in the target's state folder, the process freezes there and the harness SIGKILLs it; the devnet's
// supervisor (orchestrator.ts) restarts nodes and the chain, the harness restarts the S3 gateway.
// With `hosts` every process (chain, Ceph RGW, each node) runs in its own network namespace
// (Devnet's `hosts` option, src/hosts/netns.ts) and the harness reaches them over the bridge.
//
// Fault kinds (windows_to_recover: from the window the fault began to the first window where what it
// hit works again: the target miner aggregated, the target validator scoring, every live miner aggregated):
//   kill-miner-train           miner killed after its first inner step of a window
//   kill-miner-upload          miner killed after its payload is in its bucket, before the anchor
//   kill-miner-chain-call      miner killed after its anchor call landed, before it used the answer
//   kill-validator-checkpoint  validator killed after the checkpoint object, before the latest pointer
//   kill-validator-chain-call  validator killed after its peer-list anchor landed
//   kill-chain-chain-call      chain killed after journaling a call, before answering it
//   kill-gateway-upload        radosgw killed -9 while a miner is starting its upload (Ceph only)
//   kill-multipart-writer      a writer process killed -9 between the parts and the completion of a multipart upload (Ceph only)
//   kill-gateway-multipart     radosgw killed -9 at the same point of a multipart upload; the writer retries (Ceph only)
//   chain-down                 the chain stopped for 2 windows
//   storage-down               the S3 gateway stopped for 2 windows (Ceph only)
//   link-cut                   one miner's link cut for 2 windows: with --hosts its namespace's veth down at both ends
//                              (reads and writes); without, its chain and own-bucket connections through a relay
//   disk-full                  one miner's state folder (a small tmpfs) full for 2 windows (root only)
//   corrupt-state              a stopped miner's miner-state.safetensors damaged, then the miner started
//   leader-killed              the leading validator killed and never restarted (last)
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DevnetChainClient, type Metagraph } from '../chain/index.js';
import { Devnet, fingerprintAgreement, readFingerprints, readStatus, readTimeline, type DevnetOptions, type RunOverrides } from '../devnet/index.js';
import { tailOf } from '../devnet/process.js';
import type { NodeConfigFile } from '../devnet/config.js';
import { parseReceipt, verifyReceipt } from '../gauntlet/index.js';
import { paramLayout } from '../model/index.js';
import type { NodeConfig, RunConfig } from '../neurons/types.js';
import { MINER_STATE_FILE } from '../neurons/inner.js';
import {
  deadlineBlockOf, decodeCheckpoint, inTimeAnchors, keys, parseRecord, runHash, runPrefix, sha256Hex, uploadDeadlineMs, verifyPayload,
} from '../protocol/index.js';
import { cephInstalled, openStore, readRgw, S3Store, startGateway, stopRgw, type ReadOnlyStore, type S3Descriptor, type StoreDescriptor } from '../storage/index.js';
import { FAILPOINT_ENV, FAILPOINT_FILE, FAILPOINT_HIT } from '../util/failpoint.js';
import { projectRoot } from '../util/paths.js';
import { makeRng, type Rng } from '../util/rng.js';
import { multipartBytes } from './chaos-writer.js';
import { machineLine } from './machine.js';
import { Relay, RelayProcess } from './relay.js';
import { readRecord } from '../devnet/config.js';
import { STORAGE_HOST } from '../devnet/hosts.js';
import { hostsUnavailable, removeHosts } from '../hosts/netns.js';
import { TesseraError } from '../util/errors.js';
import { createServer } from 'node:net';
import type { TensorShape } from '../compress/index.js';

export const FAULT_KINDS = [
  'kill-miner-train', 'kill-miner-upload', 'kill-miner-chain-call', 'kill-validator-checkpoint', 'kill-validator-chain-call',
  'kill-chain-chain-call', 'kill-gateway-upload', 'kill-multipart-writer', 'kill-gateway-multipart', 'chain-down', 'storage-down',
  'link-cut', 'disk-full', 'corrupt-state', 'leader-killed',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

const NEEDS_CEPH: ReadonlySet<FaultKind> = new Set(['kill-gateway-upload', 'kill-multipart-writer', 'kill-gateway-multipart', 'storage-down']);

/** The bench's faults (22; shuffled by the seed, leader-killed last). */
export const FULL_SCHEDULE: FaultKind[] = [
  'kill-miner-train', 'kill-miner-train', 'kill-miner-upload', 'kill-miner-upload', 'kill-miner-chain-call', 'kill-miner-chain-call',
  'kill-validator-checkpoint', 'kill-validator-checkpoint', 'kill-validator-chain-call', 'kill-validator-chain-call',
  'kill-chain-chain-call', 'kill-chain-chain-call', 'kill-gateway-upload', 'kill-multipart-writer', 'kill-gateway-multipart',
  'chain-down', 'storage-down', 'link-cut', 'disk-full', 'corrupt-state', 'corrupt-state', 'leader-killed',
];
/** The CI-sized subset (filesystem storage; disk-full is skipped, with the reason, where mounting a tmpfs is not permitted). */
export const CI_SCHEDULE: FaultKind[] = ['kill-miner-upload', 'kill-miner-chain-call', 'kill-validator-checkpoint', 'kill-chain-chain-call', 'corrupt-state', 'disk-full'];
/** The CI-sized subset on network hosts (Ceph storage): the same, and a miner's namespace link cut. */
export const CI_HOSTS_SCHEDULE: FaultKind[] = [...CI_SCHEDULE, 'link-cut'];

/** 'all', 'ci' (CI_HOSTS_SCHEDULE with `hosts`) or a comma-separated list of kinds. */
export function parseFaults(text: string, hosts = false): FaultKind[] {
  if (text === 'all') return [...FULL_SCHEDULE];
  if (text === 'ci') return [...(hosts ? CI_HOSTS_SCHEDULE : CI_SCHEDULE)];
  return text.split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
    if (!(FAULT_KINDS as readonly string[]).includes(s)) throw new Error(`unknown fault kind '${s}' (kinds: ${FAULT_KINDS.join(', ')}, or 'all' / 'ci')`);
    return s as FaultKind;
  });
}

/** A seeded order: the faults shuffled (Fisher–Yates), leader-killed moved to the end. */
export function scheduleFaults(faults: readonly FaultKind[], rng: Rng): FaultKind[] {
  const rest = faults.filter((f) => f !== 'leader-killed'), last = faults.filter((f) => f === 'leader-killed');
  for (let i = rest.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [rest[i], rest[j]] = [rest[j]!, rest[i]!];
  }
  return [...rest, ...last];
}

export interface FaultRecord {
  kind: FaultKind;
  target: string;
  /** Window the fault began in, and the first window where what it hit worked again (null: not within the bound). */
  window: number;
  recovered_window: number | null;
  windows_to_recover: number | null;
  survived: boolean;
  detail: string;
}

export interface ChaosReport {
  seed: number;
  storage: 'fs' | 'ceph';
  /** Whether every process ran on its own network host (namespace); the link cut is then a real one. */
  hosts: boolean;
  /** The network hosts' id (`tsr…`; every namespace, veth and the bridge carry it), removed when the run ends; null without hosts. */
  hosts_id: string | null;
  faults_injected: number;
  faults_survived: number;
  uploads_in_time: number;
  uploads_lost: number;
  lost: Array<{ window: number; uid: number }>;
  objects_checked: number;
  objects_corrupt_seen: number;
  corrupt: string[];
  windows_to_recover: Partial<Record<FaultKind, number[]>>;
  fingerprints_agree: boolean;
  windows_compared: number;
  mismatched_windows: number[];
  receipts: number;
  receipts_verified: number;
  failing_nodes: string[];
  skipped: string[];
  faults: FaultRecord[];
  windows: number;
  window_s: number;
  wall_s: number;
}

export interface ChaosOptions {
  seed?: number;
  faults?: FaultKind[];
  storage?: 'fs' | 'ceph';
  /** Every process in its own network namespace (needs root and Ceph; storage is then Ceph). */
  hosts?: boolean;
  blockMs?: number;
  run?: RunOverrides;
  /** Windows a fault may take to recover before it counts as not survived (default 8). */
  recoverWindows?: number;
  dir?: string;
  keep?: boolean;
  data?: string;
  log?: (line: string) => void;
}

/** A tiny model: windows of 12 blocks. */
export const CHAOS_RUN: RunOverrides = { preset: 'tiny', blocksPerWindow: 12, innerSteps: 8, batch: 4, seq: 32, innerLr: 3e-3, alpha: 1, checkpointEvery: 2 };
const LINK_MINER = 'miner-3';
const DISK_MINER = 'miner-2';
const TMPFS_SIZE = '48m';
/** How long a process frozen at a failpoint waits for its kill -9 (the harness kills at once; a starved harness still lands it there). */
const KILL_HOLD_MS = 120_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** kill -9; false when the process is already gone. */
function killed(pid: number): boolean {
  try { process.kill(pid, 'SIGKILL'); return true; } catch { return false; }
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => { const port = (s.address() as { port: number }).port; s.close(() => res(port)); });
  });
}

/** Whether this process may mount a tmpfs (root, and mount(8) allowed here); the reason when not. */
function canMount(probe: string): string | null {
  if (process.getuid?.() !== 0) return 'disk-full needs root (it mounts a small tmpfs under a node\'s state folder)';
  try {
    mkdirSync(probe, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'pipe' });
    execFileSync('umount', [probe], { stdio: 'pipe' });
    rmSync(probe, { recursive: true, force: true });
    return null;
  } catch (e) {
    rmSync(probe, { recursive: true, force: true });
    return `disk-full needs mount(8) of a tmpfs, which is not permitted here (${(e as Error).message.split('\n')[0]})`;
  }
}

/**
 * Reads every object of every node's bucket while the run goes on and checks it for what its key says
 * it is (a signed payload, a protocol record, a checkpoint matching its pointer, a receipt): anything
 * a reader could see that does not check out is counted as corrupt.
 */
class ObjectAudit {
  checked = 0;
  readonly corrupt: string[] = [];
  private readonly seen = new Set<string>();
  private readonly stores = new Map<string, ReadOnlyStore>();
  private metagraph: Metagraph | null = null;
  private readonly shapes: TensorShape[];
  private readonly runHash: string;

  constructor(private readonly run: RunConfig, private readonly client: () => DevnetChainClient) {
    this.shapes = paramLayout(run.model).specs.map((s) => s.shape);
    this.runHash = runHash(run);
  }

  add(name: string, d: StoreDescriptor): void {
    if (!this.stores.has(name)) this.stores.set(name, openStore(d, 'read'));
  }

  private bad(what: string): void {
    this.corrupt.push(what);
  }

  async sweep(): Promise<void> {
    this.metagraph = await this.client().metagraph().catch(() => this.metagraph);
    for (const [name, store] of this.stores) {
      let list: string[];
      try { list = await store.list(`${runPrefix(this.run.runId)}/`); } catch { continue; } // storage down: next sweep
      for (const key of list) {
        const mutable = key.endsWith('/latest.json');
        if (!mutable && this.seen.has(`${name}:${key}`)) continue;
        let bytes: Uint8Array | null;
        try { bytes = await store.get(key); } catch { continue; }
        if (bytes === null) continue; // deleted since the listing (old applied copies)
        const why = await this.check(store, key, bytes);
        this.checked++;
        this.seen.add(`${name}:${key}`);
        if (why) this.bad(`${name}:${key}: ${why}`);
      }
    }
  }

  private async check(store: ReadOnlyStore, key: string, bytes: Uint8Array): Promise<string | null> {
    const rest = key.slice(runPrefix(this.run.runId).length + 1);
    const m = /^(gradients|applied)\/(\d+)\/(\d+)\.tslc$/.exec(rest);
    if (m) {
      const window = Number(m[2]), uid = Number(m[3]);
      const hotkey = this.metagraph?.hotkeys[uid];
      if (!hotkey) return null; // not checkable yet
      const v = await verifyPayload(bytes, { shapes: this.shapes, cfg: this.run.codec, modelHash: this.runHash, window, uid, maxSteps: this.run.innerSteps }, hotkey);
      return v.ok ? null : `payload ${v.reason}: ${v.detail}`;
    }
    const record = (kind: Parameters<typeof parseRecord>[1]): string | null => { const r = parseRecord(bytes, kind); return r.ok ? null : `${kind} record ${r.reason}: ${r.detail}`; };
    if (/^probes\//.test(rest)) return record('probe');
    if (/^peers\//.test(rest)) return record('peers');
    if (/^aggregates\//.test(rest)) return record('aggregate');
    if (rest === 'start.json') return record('start');
    if (/^receipts\//.test(rest)) { const r = parseReceipt(bytes); return r.ok ? null : `receipt: ${r.reason}`; }
    if (rest === 'checkpoints/latest.json') {
      const r = parseRecord(bytes, 'checkpoint');
      if (!r.ok) return `checkpoint pointer ${r.reason}`;
      let ck: Uint8Array | null;
      try { ck = await store.get(r.value.key); } catch { return null; }
      if (!ck) return `the latest pointer names ${r.value.key}, which is not there`;
      if (sha256Hex(ck) !== r.value.sha256) return `the latest pointer's checkpoint ${r.value.key} has another sha256 (partial?)`;
      return null;
    }
    if (/^checkpoints\/\d+\.safetensors$/.test(rest)) {
      const d = decodeCheckpoint(bytes, paramLayout(this.run.model), this.runHash);
      return d.ok ? null : `checkpoint: ${d.reason}`;
    }
    return null; // not a protocol object
  }

  close(): void {
    for (const s of this.stores.values()) s.close();
  }
}

export async function runChaos(o: ChaosOptions = {}): Promise<ChaosReport> {
  const seed = o.seed ?? 1;
  const rng = makeRng(`chaos-${seed}`);
  const log = o.log ?? ((): void => {});
  const hosts = o.hosts ?? false;
  if (hosts) {
    const why = await hostsUnavailable();
    if (why) throw new TesseraError(`--hosts: ${why}`, 'run as root on Linux, or without --hosts (every node on loopback, the link cut through a relay)');
    if (o.storage === 'fs') throw new TesseraError('--hosts needs Ceph storage: the object storage must be a server on its own network host', 'drop --storage fs');
    if (!cephInstalled()) throw new TesseraError('--hosts needs Ceph RGW (the object storage on its own network host), which is not installed', 'apt-get install ceph-mon ceph-osd radosgw ceph-common; or run without --hosts');
  }
  const storage = hosts ? 'ceph' : (o.storage ?? (cephInstalled() ? 'ceph' : 'fs'));
  const skipped: string[] = [];
  let wanted = o.faults ?? FULL_SCHEDULE;
  if (storage !== 'ceph') {
    const drop = wanted.filter((f) => NEEDS_CEPH.has(f));
    if (drop.length) skipped.push(`${[...new Set(drop)].join(', ')}: need Ceph RGW storage (${cephInstalled() ? 'run with --storage ceph' : 'not installed: apt-get install ceph-mon ceph-osd radosgw ceph-common'})`);
    wanted = wanted.filter((f) => !NEEDS_CEPH.has(f));
  }
  const root = o.dir ?? mkdtempSync(join(tmpdir(), 'tessera-chaos-'));
  if (wanted.includes('disk-full')) {
    const why = canMount(join(root, 'mount-probe'));
    if (why) { skipped.push(why); wanted = wanted.filter((f) => f !== 'disk-full'); }
  }
  const schedule = scheduleFaults(wanted, rng);
  const blockMs = o.blockMs ?? 500;
  const run = { ...CHAOS_RUN, ...o.run };
  const windowMs = blockMs * (run.blocksPerWindow ?? 12);
  const recoverWindows = o.recoverWindows ?? 8;
  const t0 = performance.now();
  const prevEnv = process.env[FAILPOINT_ENV];
  process.env[FAILPOINT_ENV] = '1'; // the chain process inherits it; nodes get it through nodeEnv

  // The disk-full miner's state folder is a tmpfs from the start (mounted before any node starts, so
  // the mount namespace `ip netns exec` gives a node has it too); without hosts the link miner reaches
  // the chain and its bucket through relays, with hosts its own link is cut.
  let mounted: string | null = null;
  if (schedule.includes('disk-full')) {
    mounted = join(root, 'nodes', DISK_MINER);
    mkdirSync(mounted, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_SIZE}`, 'tmpfs', mounted], { stdio: 'pipe' });
  }
  // Relays run as processes of their own, started when the link miner's config is first written (then the chain's and the gateway's ports are known).
  const relays = new Map<'chain' | 's3', RelayProcess>();
  const relayPorts = { chain: await freePort(), s3: await freePort() };
  const relayTo = (which: 'chain' | 's3', url: string): string => {
    const u = new URL(url);
    if (!relays.has(which)) relays.set(which, RelayProcess.spawn(relayPorts[which], u.hostname, Number(u.port)));
    return Relay.rewrite(url, relayPorts[which]);
  };
  const direct = new Map<string, StoreDescriptor>();
  const relayed = (d: StoreDescriptor): StoreDescriptor => (d.kind === 's3' ? { ...d, endpoint: relayTo('s3', d.endpoint) } : d);
  const nodeConfig = (name: string, cfg: NodeConfigFile): NodeConfigFile => {
    direct.set(name, cfg.publicRead);
    if (hosts || name !== LINK_MINER || !schedule.includes('link-cut')) return cfg;
    // Its own link: the chain and its writes to its bucket. Others read its bucket directly: the bucket is in
    // object storage (R2, S3), not behind the miner's link.
    return { ...cfg, chainUrl: relayTo('chain', cfg.chainUrl), store: relayed(cfg.store) };
  };

  const devOpts: DevnetOptions = {
    dir: root, miners: 3, validators: 2, run, blockMs, storage: storage === 'ceph' ? { kind: 'ceph' } : { kind: 'fs' }, data: o.data,
    vocabSize: 512, autoStop: false, nodeEnv: { [FAILPOINT_ENV]: '1' }, nodeConfig, log: (l) => log(`devnet: ${l}`),
    ...(hosts ? { hosts: {} } : {}), // unshaped links: the faults are the point here
  };
  let net: Devnet | null = null;
  const faults: FaultRecord[] = [];
  let audit: ObjectAudit | null = null;
  let auditing = true;
  let auditLoop: Promise<void> = Promise.resolve();
  // Ctrl-C / SIGTERM: stop everything this run started (the devnet, Ceph, relays, the tmpfs) before exiting.
  let cleaning: Promise<void> | null = null;
  const cleanup = (): Promise<void> => (cleaning ??= (async () => {
    auditing = false;
    await auditLoop.catch(() => {});
    audit?.close();
    if (net) await net.stop().catch(() => {});
    if (storage === 'ceph') await stopRgw(join(root, 'ceph')).catch(() => {}); // a gateway this harness was restarting when stopped (by pid: any namespace)
    // Network hosts: the devnet removes its own on stop; if it was interrupted while starting (no Devnet yet), its record names them.
    if (hosts) {
      if (net?.hostNet) await net.hostNet.destroy().catch((e: Error) => log(`network hosts: ${e.message}`));
      let id: string | undefined;
      try { id = readRecord(root)?.hostsId; } catch { /* no readable record: nothing was made */ }
      if (id) await removeHosts(id).catch((e: Error) => log(`network hosts ${id}: ${e.message}`));
    }
    for (const r of relays.values()) await r.close();
    if (mounted) {
      try { execFileSync('umount', [mounted], { stdio: 'pipe' }); } catch { try { execFileSync('umount', ['-l', mounted], { stdio: 'pipe' }); } catch (e) { log(`could not unmount ${mounted}: ${(e as Error).message}`); } }
    }
    if (prevEnv === undefined) delete process.env[FAILPOINT_ENV]; else process.env[FAILPOINT_ENV] = prevEnv;
    if (!o.keep && o.dir === undefined) rmSync(root, { recursive: true, force: true });
    else log(`kept ${root}`);
  })());
  const onSignal = (sig: NodeJS.Signals): void => { log(`${sig}: stopping the devnet, Ceph and the relays, unmounting the tmpfs${hosts ? ', removing the network hosts' : ''}`); void cleanup().finally(() => process.exit(130)); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    net = await Devnet.start(devOpts);
    const d = net;
    const client = (): DevnetChainClient => new DevnetChainClient({ url: d.chainUrl, retries: 0, requestTimeoutMs: 3000 });
    audit = new ObjectAudit(d.run, client);
    const a = audit;
    for (const [name, desc] of direct) a.add(name, desc);
    auditLoop = (async () => { while (auditing) { await a.sweep().catch(() => {}); await sleep(1000); } })();

    const h = new Harness(d, client, rng, windowMs, recoverWindows, log, storage, root, relays);
    await h.waitWindow((await h.window()) + 3, 30 * windowMs); // the run started, every miner aggregated once
    await h.untilAllAggregated(recoverWindows);
    for (const [i, kind] of schedule.entries()) {
      log(`fault ${i + 1}/${schedule.length}: ${kind}`);
      const r = await h.inject(kind, i);
      faults.push(r);
      log(`  ${r.survived ? 'survived' : 'NOT SURVIVED'}: ${r.target} in window ${r.window}, recovered ${r.recovered_window ?? '-'} (${r.windows_to_recover ?? '-'} windows); ${r.detail}`);
    }
    await h.waitWindow((await h.window()) + 2, 10 * windowMs);
    auditing = false;
    await auditLoop;
    await a.sweep().catch(() => {});
    h.checkAggregatedAgain();
    const lost = await h.lostUploads();
    const receipts = await h.receipts();
    const failing = [...d.nodes.values()].filter((n) => n.failing).map((n) => n.name);
    await d.stop();
    const agreement = fingerprintAgreement([...d.nodes.values()].map((n) => readFingerprints(n.dataDir)));
    const byKind: Partial<Record<FaultKind, number[]>> = {};
    for (const f of faults) if (f.windows_to_recover !== null) (byKind[f.kind] ??= []).push(f.windows_to_recover);
    const head = d.history.get('validator-2') ?? [];
    return {
      seed, storage, hosts, hosts_id: d.hostNet?.id ?? null, faults_injected: faults.length, faults_survived: faults.filter((f) => f.survived).length,
      uploads_in_time: lost.inTime, uploads_lost: lost.lost.length, lost: lost.lost,
      objects_checked: a.checked, objects_corrupt_seen: a.corrupt.length + h.multipartCorrupt.length, corrupt: [...a.corrupt, ...h.multipartCorrupt],
      windows_to_recover: byKind, fingerprints_agree: agreement.windowsChecked > 0 && agreement.mismatches.length === 0,
      windows_compared: agreement.windowsChecked, mismatched_windows: agreement.mismatches,
      receipts: receipts.total, receipts_verified: receipts.verified, failing_nodes: failing, skipped, faults,
      windows: head.length ? head.at(-1)!.window - head[0]!.window : 0, window_s: windowMs / 1000, wall_s: (performance.now() - t0) / 1000,
    };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}

/** The faults themselves and what is checked after each. */
class Harness {
  readonly multipartCorrupt: string[] = [];
  /** A restarted miner must also be aggregated again (the window after it was scored valid, by the peer-list rule); checked at the end, from the timelines. */
  private readonly aggregatedAgain: Array<{ record: FaultRecord; uid: number; from: number }> = [];
  /** window → miner uids whose anchor landed in time (collected while the chain still keeps them). */
  private readonly inTime = new Map<number, Set<number>>();
  private anchorsUpTo = -1;

  constructor(private readonly net: Devnet, private readonly client: () => DevnetChainClient, private readonly rng: Rng, private readonly windowMs: number,
    private readonly recoverWindows: number, private readonly log: (l: string) => void, private readonly storage: 'fs' | 'ceph', private readonly root: string,
    private readonly relays: ReadonlyMap<string, RelayProcess>) {}

  /** The chain's current window (retried while the chain is down, up to 3 min: a restart on a loaded machine can take over a minute). */
  async window(): Promise<number> {
    const until = Date.now() + 180_000;
    for (;;) {
      try {
        const h = await this.client().head();
        await this.collectAnchors(Math.floor(h.height / this.net.run.blocksPerWindow)).catch(() => {});
        return Math.floor(h.height / this.net.run.blocksPerWindow);
      } catch (e) {
        if (Date.now() > until) throw e;
        await sleep(250);
      }
    }
  }

  async waitWindow(w: number, timeoutMs: number): Promise<number> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const now = await this.window();
      if (now >= w || Date.now() > until) return now;
      await sleep(250);
    }
  }

  /** In-time anchors of every window up to current − 2 not collected yet (miner uids only). */
  private async collectAnchors(current: number): Promise<void> {
    if (current - 2 <= this.anchorsUpTo) return;
    const c = this.client(), run = this.net.run;
    const m = await c.metagraph();
    for (let w = Math.max(this.anchorsUpTo + 1, current - 40); w <= current - 2; w++) {
      const list = await c.anchors(w);
      const deadline = uploadDeadlineMs(await c.blockTimestamp(deadlineBlockOf(w, run.blocksPerWindow)), run.deadlineS);
      const ts = new Map<number, number>();
      for (const a of list) if (!ts.has(a.block)) ts.set(a.block, await c.blockTimestamp(a.block));
      const miners = [...inTimeAnchors(list, (b) => ts.get(b)!, deadline).keys()].filter((u) => !m.validatorPermit[m.uids.indexOf(u)]);
      this.inTime.set(w, new Set(miners));
      this.anchorsUpTo = w;
    }
  }

  uid(name: string): number { return readStatus(this.net.nodes.get(name)!.dataDir)?.uid ?? -1; }
  private validators(): string[] { return [...this.net.nodes.values()].filter((n) => n.role === 'validator').map((n) => n.name); }
  private liveMiners(): string[] { return [...this.net.nodes.values()].filter((n) => n.role === 'miner' && !n.killed && !n.failing).map((n) => n.name); }

  /** window → uids aggregated (or, with 'valid', scored valid and in time), from every validator's timeline. */
  aggregated(field: 'aggregated' | 'valid' = 'aggregated'): Map<number, Set<number>> {
    const out = new Map<number, Set<number>>();
    for (const v of this.validators()) for (const e of readTimeline(this.net.nodes.get(v)!.dataDir)) {
      const s = out.get(e.window) ?? new Set<number>();
      for (const u of e[field] ?? []) s.add(u);
      out.set(e.window, s);
    }
    return out;
  }

  /** Polls `found` (→ a window or null) until it gives one or `windows` windows passed since `from`. */
  private async until(from: number, windows: number, found: () => number | null): Promise<number | null> {
    for (;;) {
      const w = found();
      if (w !== null) return w;
      if ((await this.window()) > from + windows) return found();
      await sleep(500);
    }
  }

  /** First window ≥ from where every live miner is aggregated. */
  async untilAllAggregated(windows: number, from?: number): Promise<number | null> {
    const start = from ?? (await this.window());
    return this.until(start, windows, () => {
      const uids = this.liveMiners().map((m) => this.uid(m));
      const agg = [...this.aggregated()].filter(([w]) => w >= start).sort((a, b) => a[0] - b[0]);
      return agg.find(([, s]) => uids.every((u) => s.has(u)))?.[0] ?? null;
    });
  }

  private untilMinerAggregated(name: string, from: number): Promise<number | null> {
    const uid = this.uid(name);
    return this.until(from, this.recoverWindows, () => [...this.aggregated()].filter(([w, s]) => w >= from && s.has(uid)).map(([w]) => w).sort((a, b) => a - b)[0] ?? null);
  }

  private untilValidatorScores(name: string, after: number): Promise<number | null> {
    const dir = this.net.nodes.get(name)!.dataDir;
    return this.until(after, this.recoverWindows, () => readTimeline(dir).map((e) => e.window).filter((w) => w > after).sort((a, b) => a - b)[0] ?? null);
  }

  /** A node target chosen by the seed among the eligible, fewest deaths first (the supervisor gives up after 5). */
  private pick(role: 'miner' | 'validator', exclude: string[] = []): string {
    const c = [...this.net.nodes.values()].filter((n) => n.role === role && !n.killed && !n.failing && n.proc?.running && !exclude.includes(n.name));
    const fewest = Math.min(...c.map((n) => n.deaths?.length ?? 0));
    const pool = c.filter((n) => (n.deaths?.length ?? 0) === fewest);
    return pool[this.rng.nextInt(pool.length)]!.name;
  }

  /** When the last failpoint was hit (the frozen process's clock, ms since the epoch). */
  private hitAt = 0;

  /** Whether the process frozen at the last failpoint is still frozen (its hold of holdMs not over; 1 s margin for the kill). */
  private stillFrozen(holdMs: number): boolean {
    return Date.now() - this.hitAt < holdMs - 1000;
  }

  /** Arms a failpoint in `dir` at a seeded moment within the next window; resolves with the frozen process's pid (null: not reached in time). */
  private async freezeAt(dir: string, point: string, holdMs: number, windows = 4, delay = true): Promise<number | null> {
    if (delay) await sleep(this.rng.nextInt(this.windowMs)); // without: armed before the first await (the caller starts the process after)
    const arm = join(dir, FAILPOINT_FILE), hit = join(dir, FAILPOINT_HIT);
    rmSync(hit, { force: true });
    writeFileSync(arm, `${point} ${holdMs}\n`);
    const until = Date.now() + windows * this.windowMs;
    for (;;) {
      if (existsSync(hit)) {
        const text = readFileSync(hit, 'utf8').trim().split(/\s+/);
        if (text.length >= 3) { rmSync(hit, { force: true }); this.hitAt = Number(text[2]); return Number(text[1]); }
      }
      if (Date.now() > until) {
        rmSync(arm, { force: true });
        if (existsSync(hit)) continue;
        return null;
      }
      await sleep(20);
    }
  }

  private record(kind: FaultKind, target: string, window: number, recovered: number | null, ok: boolean, detail: string): FaultRecord {
    const failing = [...this.net.nodes.values()].filter((n) => n.failing).map((n) => n.name);
    const survived = ok && recovered !== null && failing.length === 0;
    return { kind, target, window, recovered_window: recovered, windows_to_recover: recovered === null ? null : Math.max(0, recovered - window), survived,
      detail: failing.length ? `${detail}; FAILING: ${failing.join(', ')}` : detail };
  }

  private expectAggregated(r: FaultRecord, f: { uid?: number; first?: number }): FaultRecord {
    if (f.uid !== undefined && f.first !== undefined) this.aggregatedAgain.push({ record: r, uid: f.uid, from: f.first });
    return r;
  }

  /** At the end: every restarted miner was aggregated again within 2 windows of its first window back. */
  checkAggregatedAgain(): void {
    const agg = this.aggregated();
    for (const { record, uid, from } of this.aggregatedAgain) {
      const w = [...agg].filter(([x, s]) => x >= from && s.has(uid)).map(([x]) => x).sort((a, b) => a - b)[0];
      const ok = w !== undefined && w <= from + 2;
      record.detail += `; aggregated from window ${w ?? 'none'}${ok ? '' : ' (NOT within 2 windows)'}`;
      if (!ok) record.survived = false;
    }
  }

  /** Waits for the supervisor's restart of `name` after its process `pid` died. */
  private async restarted(name: string, pid: number): Promise<boolean> {
    const n = this.net.nodes.get(name)!, until = Date.now() + 180_000;
    while (Date.now() < until) {
      if (n.proc && n.proc.pid !== pid && n.proc.running) return true;
      if (n.failing) return false;
      await sleep(200);
    }
    return false;
  }

  /**
   * After a miner restart: the first window its new process mined (its first timeline entry after the
   * `before` entries the killed process wrote), and whether it contributed in it (or the next).
   */
  private async firstFull(name: string, faultWindow: number, before: number): Promise<{ recovered: number | null; ok: boolean; detail: string; uid?: number; first?: number }> {
    const n = this.net.nodes.get(name)!, uid = this.uid(name);
    const first = await this.until(faultWindow, this.recoverWindows, () => readTimeline(n.dataDir).slice(before).map((e) => e.window).sort((a, b) => a - b)[0] ?? null);
    if (first === null) return { recovered: null, ok: false, detail: `${name} mined no window within ${this.recoverWindows} windows` };
    // Contributes: its upload of that window (or of the next, when it came back too late in it) is scored valid and in time.
    const valid = await this.until(first, this.recoverWindows, () => [...this.aggregated('valid')].filter(([w, s]) => w >= first && s.has(uid)).map(([w]) => w).sort((a, b) => a - b)[0] ?? null);
    const ok = valid !== null && valid <= first + 1;
    return { recovered: valid, ok, detail: `first window mined after the restart ${first}, scored valid in ${valid ?? 'none'} (uid ${uid})${ok ? '' : ': NOT by its first full window'}`, uid, first };
  }

  async inject(kind: FaultKind, i: number): Promise<FaultRecord> {
    switch (kind) {
      case 'kill-miner-train': return this.killNodeAt(kind, this.pick('miner'), 'miner.train');
      case 'kill-miner-upload': return this.killNodeAt(kind, this.pick('miner'), 'miner.upload');
      case 'kill-miner-chain-call': return this.killNodeAt(kind, this.pick('miner'), 'node.anchor');
      case 'kill-validator-checkpoint': return this.killNodeAt(kind, this.pick('validator'), 'validator.checkpoint');
      case 'kill-validator-chain-call': return this.killNodeAt(kind, this.pick('validator'), 'node.anchor');
      case 'kill-chain-chain-call': return this.killChain(kind);
      case 'kill-gateway-upload': return this.killGatewayDuringUpload(kind);
      case 'kill-multipart-writer': return this.multipart(kind, i, 'writer');
      case 'kill-gateway-multipart': return this.multipart(kind, i, 'gateway');
      case 'chain-down': return this.outage(kind, 'chain', () => this.net.restartChain(2 * this.windowMs));
      case 'storage-down': return this.outage(kind, 'S3 gateway', () => this.net.restartStorage(2 * this.windowMs));
      case 'link-cut': return this.linkCut(kind);
      case 'disk-full': return this.diskFull(kind);
      case 'corrupt-state': return this.corruptState(kind);
      case 'leader-killed': return this.leaderKilled(kind);
    }
  }

  private async killNodeAt(kind: FaultKind, name: string, point: string): Promise<FaultRecord> {
    const n = this.net.nodes.get(name)!;
    const pid = await this.freezeAt(n.dataDir, point, KILL_HOLD_MS);
    const w = await this.window();
    if (pid === null) return this.record(kind, name, w, null, false, `failpoint ${point} was not reached within 4 windows`);
    if (!this.stillFrozen(KILL_HOLD_MS)) return this.record(kind, name, w, null, false, `${name} froze at ${point} ${((Date.now() - this.hitAt) / 1000).toFixed(0)} s ago, past its hold: a kill now would not land there`);
    if (!killed(pid)) return this.record(kind, name, w, null, false, `${name} (pid ${pid}) was gone before the kill`);
    this.log(`  kill -9 ${name} (pid ${pid}) frozen at ${point} in window ${w}`);
    await n.proc?.exited;
    const before = readTimeline(n.dataDir).length;
    if (!(await this.restarted(name, pid))) return this.record(kind, name, w, null, false, `${name} was not restarted`);
    if (n.role === 'miner') {
      const f = await this.firstFull(name, w, before);
      return this.expectAggregated(this.record(kind, name, w, f.recovered, f.ok, `at ${point}; ${f.detail}`), f);
    }
    const scored = await this.untilValidatorScores(name, w - 1);
    return this.record(kind, name, w, scored, true, `at ${point}; ${name} scored window ${scored ?? 'none'} after the restart`);
  }

  private async killChain(kind: FaultKind): Promise<FaultRecord> {
    const pid = await this.freezeAt(join(this.net.root, 'chain'), 'chain.journaled', KILL_HOLD_MS);
    // Killed first: a frozen chain answers nobody, so its window is read from the restarted one (which resumes at the height it was killed at).
    if (pid === null) return this.record(kind, 'chain', await this.window(), null, false, 'failpoint chain.journaled was not reached');
    if (!this.stillFrozen(KILL_HOLD_MS)) return this.record(kind, 'chain', await this.window(), null, false, `the chain froze ${((Date.now() - this.hitAt) / 1000).toFixed(0)} s ago, past its hold: a kill now would not land there`);
    if (!killed(pid)) return this.record(kind, 'chain', await this.window(), null, false, `the chain (pid ${pid}) was gone before the kill`);
    const w = await this.window();
    this.log(`  kill -9 chain (pid ${pid}) frozen after journaling a call, in window ${w}`);
    const rec = await this.untilAllAggregated(this.recoverWindows, w + 1);
    return this.record(kind, 'chain', w, rec, true, `restarted by the supervisor; every live miner aggregated in window ${rec ?? 'none'}`);
  }

  private gatewayPid(): number {
    return Number(readFileSync(join(this.root, 'ceph', 'run', 'client.rgw.a.pid'), 'utf8').trim());
  }

  /** Starts the S3 gateway killed by a fault again: in the storage host's namespace with --hosts. */
  private startGateway(): Promise<void> {
    const h = this.net.hostNet?.host(STORAGE_HOST);
    return startGateway(join(this.root, 'ceph'), h ? { netns: h.ns, addr: h.ip } : undefined);
  }

  private async killGatewayDuringUpload(kind: FaultKind): Promise<FaultRecord> {
    const miner = this.pick('miner');
    const pid = await this.freezeAt(this.net.nodes.get(miner)!.dataDir, 'miner.put', 1500);
    const w = await this.window();
    if (pid === null) return this.record(kind, 'S3 gateway', w, null, false, 'failpoint miner.put was not reached');
    const gw = this.gatewayPid();
    if (!killed(gw)) return this.record(kind, 'S3 gateway', w, null, false, `radosgw (pid ${gw}) was not running`);
    this.log(`  kill -9 radosgw (pid ${gw}) as ${miner} starts its upload in window ${w}`);
    await sleep(this.windowMs);
    await this.startGateway();
    const rec = await this.untilAllAggregated(this.recoverWindows, w + 1);
    return this.record(kind, 'S3 gateway', w, rec, true, `restarted after 1 window; every live miner aggregated in window ${rec ?? 'none'}`);
  }

  /** A multipart upload to its own bucket by a writer process; the writer or the gateway is killed -9 between the parts and the completion. */
  private async multipart(kind: FaultKind, i: number, victim: 'writer' | 'gateway'): Promise<FaultRecord> {
    const cluster = await readRgw(join(this.root, 'ceph'));
    const desc: S3Descriptor = { kind: 's3', endpoint: cluster.endpoint, region: cluster.region, bucket: 'tessera-chaos-multipart', ...cluster.admin };
    const store = new S3Store(desc);
    await store.ensureBucket();
    const size = (9 << 20) + this.rng.nextInt(12 << 20), seed = 1000 + i, key = `chaos/multipart-${i}.bin`;
    const want = sha256Hex(multipartBytes(size, seed));
    const fpDir = join(this.root, `writer-${i}`);
    mkdirSync(fpDir, { recursive: true });
    let watching = true, sawPartial = false;
    const watcher = (async () => {
      while (watching) {
        try {
          const b = await store.get(key);
          if (b && sha256Hex(b) !== want) { sawPartial = true; this.multipartCorrupt.push(`${key}: ${b.length} bytes visible, not the ${size} written`); }
        } catch { /* gateway down */ }
        await sleep(100);
      }
    })();
    const writer = (armed: boolean) => {
      const logFile = join(fpDir, 'writer.log');
      const fd = openSync(logFile, 'a');
      const p = spawn(process.execPath, [join(projectRoot(), 'dist', 'src', 'bench', 'chaos-writer.js'), JSON.stringify(desc), key, String(size), String(seed), ...(armed ? [fpDir] : [])],
        { stdio: ['ignore', fd, fd], env: { ...process.env, [FAILPOINT_ENV]: '1' } });
      closeSync(fd);
      return { p, done: new Promise<number | null>((r) => p.once('exit', (c) => r(c))), logFile };
    };
    const w0 = await this.window();
    try {
      // Armed before the writer starts (a seeded delay could let a fast writer pass the point first: the
      // seed-2 hosts run's writer completed unfrozen). A writer process starts, makes its bytes and sends
      // every part: on a loaded machine that takes tens of seconds, whatever the window.
      const frozen = this.freezeAt(fpDir, 's3.multipart', victim === 'writer' ? 120_000 : 3000, Math.ceil(120_000 / this.windowMs), false);
      const first = writer(true);
      const pid = await frozen;
      if (pid === null) { first.p.kill('SIGKILL'); return this.record(kind, victim, w0, null, false, `the writer never reached s3.multipart: ${tailOf(first.logFile, 5)}`); }
      const w = await this.window();
      let absentAfterKill = true;
      if (victim === 'writer') {
        if (!killed(pid)) { await first.done; return this.record(kind, 'multipart writer', w, null, false, `the writer (pid ${pid}) was gone before the kill: ${tailOf(first.logFile, 5)}`); }
        await first.done;
        absentAfterKill = (await store.get(key)) === null;
        this.log(`  kill -9 the multipart writer (pid ${pid}) before completion in window ${w}; key ${absentAfterKill ? 'absent' : 'PRESENT'}`);
        const again = writer(false);
        const code = await again.done;
        if (code !== 0) return this.record(kind, 'multipart writer', w, null, false, `the restarted writer failed: ${tailOf(again.logFile, 5)}`);
      } else {
        const gw = this.gatewayPid();
        if (!killed(gw)) return this.record(kind, 'S3 gateway', w, null, false, `radosgw (pid ${gw}) was not running`);
        this.log(`  kill -9 radosgw (pid ${gw}) while a multipart upload waits to complete, in window ${w}`);
        await sleep(this.windowMs);
        await this.startGateway();
        const code = await first.done;
        if (code !== 0) return this.record(kind, 'S3 gateway', w, null, false, `the writer did not finish after the gateway came back: ${tailOf(first.logFile, 5)}`);
      }
      const b = await store.get(key);
      const whole = b !== null && sha256Hex(b) === want;
      // The writer's object is whole; with the gateway killed, the devnet's miners (same gateway) must be aggregated again too.
      const rec = victim === 'writer' ? await this.window() : await this.untilAllAggregated(this.recoverWindows, w + 1);
      const ok = whole && absentAfterKill && !sawPartial;
      return this.record(kind, victim === 'writer' ? 'multipart writer' : 'S3 gateway', w, rec, ok,
        `${(size / 2 ** 20).toFixed(1)} MiB multipart upload; ${victim === 'writer' ? `after the kill the key was ${absentAfterKill ? 'absent' : 'VISIBLE'}; ` : ''}` +
        `no partial object seen: ${!sawPartial}; final object whole: ${whole}${victim === 'gateway' ? `; every live miner aggregated in window ${rec ?? 'none'}` : ''}`);
    } finally {
      watching = false;
      await watcher;
      store.close();
    }
  }

  private async outage(kind: FaultKind, what: string, fn: () => Promise<void>): Promise<FaultRecord> {
    await sleep(this.rng.nextInt(this.windowMs));
    const w = await this.window();
    this.log(`  ${what} down for 2 windows from window ${w}`);
    await fn();
    const rec = await this.untilAllAggregated(this.recoverWindows, w + 1);
    return this.record(kind, what, w, rec, true, `back after ${2 * this.windowMs / 1000} s; every live miner aggregated in window ${rec ?? 'none'}`);
  }

  private async linkCut(kind: FaultKind): Promise<FaultRecord> {
    if (this.net.hostNet) return this.hostLinkCut(kind);
    await sleep(this.rng.nextInt(this.windowMs));
    const w = await this.window();
    for (const r of this.relays.values()) r.sever();
    this.log(`  ${LINK_MINER}'s link cut in window ${w}`);
    await sleep(2 * this.windowMs);
    for (const r of this.relays.values()) r.restore();
    const back = await this.window();
    const n = this.net.nodes.get(LINK_MINER)!;
    const rec = await this.untilMinerAggregated(LINK_MINER, back + 1);
    return this.record(kind, LINK_MINER, w, rec, n.proc?.running === true,
      `relayed chain${this.storage === 'ceph' ? ' and bucket-write' : ''} connections cut until window ${back}; aggregated again in ${rec ?? 'none'}; process ${n.proc?.running ? 'kept running' : 'died'}`);
  }

  /**
   * --hosts: the link miner's namespace cut off the bridge (both ends of its veth down) for 2 windows:
   * it can neither reach the chain nor read or write any bucket, nor be reached. Checked from inside its
   * namespace while cut (the chain and the S3 gateway unreachable); survived when it is aggregated again
   * after the restore without its process dying.
   */
  private async hostLinkCut(kind: FaultKind): Promise<FaultRecord> {
    const hn = this.net.hostNet!, n = this.net.nodes.get(LINK_MINER)!, deaths = n.deaths?.length ?? 0;
    const s3 = (JSON.parse(readFileSync(n.configFile, 'utf8')) as NodeConfig).store;
    const targets = [this.net.chainUrl, ...(s3.kind === 's3' ? [s3.endpoint] : [])], labels = ['chain', 'storage'];
    await sleep(this.rng.nextInt(this.windowMs));
    const w = await this.window();
    const t0 = Date.now();
    await hn.cut(LINK_MINER);
    let probe: string[] = [];
    try {
      this.log(`  ${LINK_MINER}'s link (netns ${hn.host(LINK_MINER).ns}, veth ${hn.veth(LINK_MINER)}) down at both ends in window ${w}`);
      probe = await Promise.all(targets.map((u) => this.reachable(LINK_MINER, u)));
      await sleep(Math.max(0, 2 * this.windowMs - (Date.now() - t0)));
    } finally {
      await hn.restore(LINK_MINER);
    }
    const back = await this.window();
    const rec = await this.untilMinerAggregated(LINK_MINER, back + 1);
    const died = (n.deaths?.length ?? 0) - deaths;
    const isolated = probe.length === targets.length && probe.every((r) => r === 'unreachable');
    return this.record(kind, LINK_MINER, w, rec, died === 0 && isolated,
      `namespace link down at both ends until window ${back}; from inside while cut: ${targets.map((u, i) => `${labels[i]} ${new URL(u).host} ${probe[i] ?? 'not probed'}`).join(', ')}; ` +
      `aggregated again in ${rec ?? 'none'}; process deaths ${died}`);
  }

  /** Whether a TCP connection from inside host `name`'s namespace to `url`'s host:port opens within 2 s: 'REACHABLE', 'unreachable', or why the probe failed. */
  private reachable(name: string, url: string): Promise<string> {
    const u = new URL(url);
    const js = `const s=require('net').connect(${Number(u.port)},${JSON.stringify(u.hostname)});s.setTimeout(2000,()=>{console.log('no');process.exit(0);});` +
      `s.on('connect',()=>{console.log('yes');process.exit(0);});s.on('error',()=>{console.log('no');process.exit(0);});`;
    const p = this.net.hostNet!.spawn(name, process.execPath, ['-e', js], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    return new Promise((res) => {
      p.once('exit', (code) => { const o = out.trim(); res(o === 'yes' ? 'REACHABLE' : o === 'no' ? 'unreachable' : `probe failed (exit ${code})`); });
      p.once('error', (e) => res(`probe failed (${e.message})`));
    });
  }

  private async diskFull(kind: FaultKind): Promise<FaultRecord> {
    const n = this.net.nodes.get(DISK_MINER)!, deaths = n.deaths?.length ?? 0;
    await sleep(this.rng.nextInt(this.windowMs));
    const w = await this.window();
    const filler = join(n.dataDir, 'chaos-filler');
    const fd = openSync(filler, 'w');
    const chunk = Buffer.alloc(1 << 20);
    let bytes = 0;
    try { for (;;) bytes += writeSync(fd, chunk); } catch { /* ENOSPC: full */ } finally { closeSync(fd); }
    this.log(`  ${DISK_MINER}'s state folder (tmpfs ${TMPFS_SIZE}) full from window ${w} (${(bytes / 2 ** 20).toFixed(0)} MiB filler)`);
    await sleep(2 * this.windowMs);
    const during = [...this.aggregated()].filter(([x, s]) => x >= w && s.has(this.uid(DISK_MINER))).map(([x]) => x);
    unlinkSync(filler);
    const back = await this.window();
    const rec = await this.untilMinerAggregated(DISK_MINER, back);
    const died = (n.deaths?.length ?? 0) - deaths;
    const said = readFileSync(n.logFile, 'utf8').includes('status files writable again');
    return this.record(kind, DISK_MINER, w, rec, died === 0,
      `full until window ${back}; process deaths ${died}; aggregated while full in [${during.sort((a, b) => a - b).join(' ')}]; after: ${rec ?? 'none'}; said 'writable again': ${said}`);
  }

  private async corruptState(kind: FaultKind): Promise<FaultRecord> {
    const name = this.pick('miner', [DISK_MINER]);
    const n = this.net.nodes.get(name)!;
    await sleep(this.rng.nextInt(this.windowMs));
    const proc = n.proc!;
    this.net.killNode(name);
    await proc.exited;
    const w = await this.window();
    const file = join(n.dataDir, MINER_STATE_FILE);
    let detail = 'no state file to damage';
    if (existsSync(file)) {
      const b = readFileSync(file);
      const at = Math.floor(b.length * (0.5 + 0.4 * this.rng.nextFloat()));
      for (let k = at; k < Math.min(b.length, at + 64); k++) b[k] = b[k]! ^ 0xff;
      writeFileSync(file, b);
      detail = `flipped 64 bytes at offset ${at} of ${b.length}`;
    }
    const logFrom = readFileSync(n.logFile).length, before = readTimeline(n.dataDir).length;
    await this.net.restartNode(name);
    const f = await this.firstFull(name, w, before);
    const said = readFileSync(n.logFile).subarray(logFrom).toString('utf8').includes('LOCAL STATE DAMAGED');
    return this.expectAggregated(this.record(kind, name, w, f.recovered, f.ok && said, `${detail}; detected with a message: ${said}; ${f.detail}`), f);
  }

  private async leaderKilled(kind: FaultKind): Promise<FaultRecord> {
    await sleep(this.rng.nextInt(this.windowMs));
    this.net.killNode('validator');
    const w = await this.window();
    const next = this.net.nodes.get('validator-2')!, v2 = this.uid('validator-2');
    const rec = await this.until(w, this.recoverWindows, () => {
      const uids = this.liveMiners().map((m) => this.uid(m));
      return readTimeline(next.dataDir).filter((e) => e.window > w && e.leader === v2 && uids.every((u) => e.aggregated?.includes(u))).map((e) => e.window).sort((a, b) => a - b)[0] ?? null;
    });
    return this.record(kind, 'validator', w, rec, true, `never restarted; validator-2 (uid ${v2}) led with every live miner aggregated from window ${rec ?? 'none'}`);
  }

  /** In-time miner uploads (anchored before the deadline) that no validator's receipt scored ok. */
  async lostUploads(): Promise<{ inTime: number; lost: Array<{ window: number; uid: number }> }> {
    const scored = new Map<number, Set<number>>();
    for (const r of await this.readReceipts()) {
      const s = scored.get(r.window) ?? new Set<number>();
      for (const m of r.inputs.miners) if (m.status === 'ok') s.add(m.uid);
      scored.set(r.window, s);
    }
    const windows = [...scored.keys()];
    const lo = Math.min(...windows), hi = Math.max(...windows);
    let inTime = 0;
    const lost: Array<{ window: number; uid: number }> = [];
    for (const [w, uids] of this.inTime) {
      if (w < lo || w > hi) continue;
      for (const u of uids) { inTime++; if (!scored.get(w)?.has(u)) lost.push({ window: w, uid: u }); }
    }
    return { inTime, lost };
  }

  private async readReceipts(): Promise<import('../gauntlet/index.js').ScoreReceipt[]> {
    const out: import('../gauntlet/index.js').ScoreReceipt[] = [];
    for (const v of this.validators()) {
      const cfg = JSON.parse(readFileSync(this.net.nodes.get(v)!.configFile, 'utf8')) as NodeConfig;
      const store = openStore(cfg.publicRead, 'read');
      try {
        for (const key of await store.list(`${runPrefix(this.net.run.runId)}/receipts/`)) {
          const b = await store.get(key);
          const r = b && parseReceipt(b);
          if (r && r.ok) out.push(r.receipt);
        }
      } finally {
        store.close();
      }
    }
    return out;
  }

  async receipts(): Promise<{ total: number; verified: number }> {
    const rs = await this.readReceipts();
    return { total: rs.length, verified: rs.filter((r) => verifyReceipt(r).ok).length };
  }
}

export function chaosMarkdown(r: ChaosReport, when: string, machine: string): string {
  const kinds = Object.entries(r.windows_to_recover).map(([k, v]) => `| ${k} | ${v!.join(', ')} |`).join('\n');
  const rows = r.faults.map((f, i) => `| ${i + 1} | ${f.kind} | ${f.target} | ${f.window} | ${f.recovered_window ?? '-'} | ${f.survived ? 'yes' : '**no**'} | ${f.detail.replace(/\|/g, '/')} |`).join('\n');
  return [
    `## ${when} — seed ${r.seed}, ${r.storage} storage${r.hosts ? ', network hosts' : ''}`, '',
    `Machine: ${machine}, shared (under load from parallel work). ${r.window_s} s windows, 3 miners, 2 validators, tiny model; ${r.hosts ? 'every process (chain, Ceph RGW, each node) in its own network namespace on one bridge, links unshaped' : 'every process on this host\'s loopback'}; wall ${r.wall_s.toFixed(0)} s.`, '',
    `faults_injected ${r.faults_injected}, faults_survived ${r.faults_survived}, uploads_lost ${r.uploads_lost} (of ${r.uploads_in_time} in time), ` +
    `objects_corrupt_seen ${r.objects_corrupt_seen} (of ${r.objects_checked} checked), fingerprints_agree ${r.fingerprints_agree} (${r.windows_compared} windows), ` +
    `receipts verified ${r.receipts_verified}/${r.receipts}${r.failing_nodes.length ? `, FAILING ${r.failing_nodes.join(', ')}` : ''}.`,
    ...(r.skipped.length ? ['', `Skipped: ${r.skipped.join('; ')}.`] : []), '',
    '| kind | windows_to_recover |', '| --- | --- |', kinds, '',
    '| # | fault | target | window | recovered | survived | detail |', '| --- | --- | --- | --- | --- | --- | --- |', rows, '',
  ].join('\n');
}

/** Appends the run to <outDir>/chaos.md (created with a header); returns the file. */
export function recordChaos(outDir: string, r: ChaosReport): string {
  const file = join(outDir, 'chaos.md');
  if (!existsSync(file)) {
    writeFileSync(file, '# Chaos: seeded faults on a running devnet\n\nRecorded with `tessera bench chaos` (src/bench/chaos.ts, where every fault kind and figure is defined).\n\n');
  }
  const gap = readFileSync(file, 'utf8').endsWith('\n\n') ? '' : '\n'; // a blank line before the run's heading
  appendFileSync(file, gap + chaosMarkdown(r, new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC', machineLine()));
  return file;
}

// End to end, with real processes: `tessera devnet` (library API) runs the chain, storage, 3 miners and
// a validator as separate processes on a tiny model. After every window all nodes hold the same
// parameters, validation loss falls, weights reach the chain and turn into emission, a late miner
// contributes within two windows, and a chain restart mid-run crashes nothing. Then the same on S3
// (a private Ceph RGW; skipped visibly when Ceph is not installed), with a storage outage mid-run
// (radosgw stopped for 5 s): nodes retry with backoff, none exits, and they agree after it.
//
// Covered elsewhere, not repeated here: a call with a bad signature is rejected by the chain
// (src/chain/devnet-server.test.ts "signed calls, forgeries rejected, ..."), and a node cannot write
// or delete in another node's bucket (src/storage/conformance.ts "node A's credentials cannot write or
// delete in node B's bucket", run for the filesystem and S3 stores).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadState, metagraphOf, startDevnetChainServer } from '../src/chain/index.js';
import { prepareData } from '../src/data/index.js';
import { Devnet, readFingerprints, readStatus, readTimeline, type DevnetOptions, type RunOverrides } from '../src/devnet/index.js';
import { makeRunConfig, writeRecord } from '../src/devnet/config.js';
import { fileSize } from '../src/devnet/process.js';
import { TesseraError } from '../src/util/errors.js';
import { keys, parseRecord, type AggregateRecord } from '../src/protocol/index.js';
import { cephInstalled, openStore, type StoreDescriptor } from '../src/storage/index.js';
import { checkNodeConfig, resolveNodeConfig } from '../src/cli/node-config.js';
import { linkReport, utilization72b, valLossHistory } from '../src/bench/network.js';
import { hostsUnavailable } from '../src/hosts/netns.js';

const tmp = (p: string): string => mkdtempSync(join(tmpdir(), `tessera-net-${p}-`));

// A tiny model (vocab 512) with fast blocks: a window is 12 × 250 ms = 3 s.
const TINY: RunOverrides = { preset: 'tiny', blocksPerWindow: 12, innerSteps: 8, batch: 4, seq: 32, innerLr: 3e-3, alpha: 1, checkpointEvery: 2 };
const BLOCK_MS = 250;

let dataDir: string | null = null;
async function tinyData(): Promise<string> {
  if (dataDir) return dataDir;
  const dir = tmp('data');
  await prepareData({ outDir: dir, vocabSize: 512 });
  return (dataDir = dir);
}

function options(dir: string, data: string, extra: Partial<DevnetOptions>): DevnetOptions {
  return { dir, miners: 3, run: TINY, blockMs: BLOCK_MS, storage: { kind: 'fs' }, data, log: () => {}, ...extra };
}

/** Resolves once the chain's head is in window `w` or later. */
async function untilWindow(net: Devnet, w: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await net.snapshot();
    if (s.window !== null && s.window >= w) return;
    if (Date.now() > deadline) throw new Error(`chain did not reach window ${w} in ${timeoutMs} ms (at ${s.window})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function aggregates(net: Devnet): Map<number, AggregateRecord> {
  const v = net.nodes.get('validator')!;
  const cfg = JSON.parse(readFileSync(v.configFile, 'utf8')) as { store: StoreDescriptor };
  return new Map(readAggregatesFrom(cfg.store, net));
}
function readAggregatesFrom(d: StoreDescriptor, net: Devnet): Array<[number, AggregateRecord]> {
  if (d.kind !== 'fs') return [];
  const out: Array<[number, AggregateRecord]> = [];
  for (let w = 0; w <= (net.stopWindow ?? 0) + 2; w++) {
    try {
      const r = parseRecord(readFileSync(join(d.path, keys.aggregate(net.run.runId, w))), 'aggregate');
      if (r.ok) out.push([w, r.value]);
    } catch { /* no aggregate for this window */ }
  }
  return out;
}
async function aggregatesS3(net: Devnet): Promise<Map<number, AggregateRecord>> {
  const v = net.nodes.get('validator')!;
  const cfg = JSON.parse(readFileSync(v.configFile, 'utf8')) as { publicRead: StoreDescriptor };
  const store = openStore(cfg.publicRead, 'read');
  const out = new Map<number, AggregateRecord>();
  try {
    for (let w = 0; w <= (net.stopWindow ?? 0) + 2; w++) {
      const b = await store.get(keys.aggregate(net.run.runId, w));
      const r = b && parseRecord(b, 'aggregate');
      if (r && r.ok) out.set(w, r.value);
    }
  } finally {
    store.close();
  }
  return out;
}

/** The checks both storage kinds share; returns the per-node fingerprints for extra checks. */
async function checkNetwork(net: Devnet, aggs: Map<number, AggregateRecord>, original: string[], say: (s: string) => void): Promise<Map<string, Map<number, string>>> {
  const fps = new Map([...net.nodes.values()].filter((n) => n.proc).map((n) => [n.name, readFingerprints(n.dataDir)]));
  for (const n of net.nodes.values()) {
    if (n.proc) assert.equal(n.proc.exit?.code, 0, `${n.name} exited with ${JSON.stringify(n.proc.exit)}; log:\n${n.proc.tail(30)}`);
  }
  // After every window, every node that applied it holds the same parameters; the original nodes applied every window from their first common one.
  const windows = [...new Set([...fps.values()].flatMap((m) => [...m.keys()]))].sort((a, b) => a - b);
  const common = windows.filter((w) => original.every((name) => fps.get(name)!.has(w)));
  assert.ok(common.length >= 5, `the original nodes share only ${common.length} windows (${common.join(', ')}); fingerprints: ${JSON.stringify([...fps].map(([k, m]) => [k, [...m.keys()]]))}`);
  for (let w = common[0]!; w <= common.at(-1)!; w++) {
    const at = [...fps].filter(([, m]) => m.has(w)).map(([name, m]) => `${name}=${m.get(w)!.slice(0, 12)}`);
    assert.ok(original.every((name) => fps.get(name)!.has(w)), `window ${w}: not every original node reported (${at.join(' ')})`);
    assert.equal(new Set([...fps.values()].filter((m) => m.has(w)).map((m) => m.get(w))).size, 1, `window ${w}: fingerprints differ: ${at.join(' ')}`);
  }
  // Validation loss clearly below the start.
  const val = valLossHistory(net, 'validator');
  assert.ok(val.length >= 2, `validator reported ${val.length} validation losses`);
  assert.ok(val.at(-1)! < val[0]! - 0.2, `validation loss ${val[0]} → ${val.at(-1)} did not fall clearly`);
  say(`windows ${common[0]}..${common.at(-1)} agree on all nodes; val loss ${val.map((x) => x.toFixed(3)).join(' → ')}`);
  // Aggregates name the contributing miners; the validator set weights; the chain paid them emission.
  assert.ok(aggs.size >= 3, `only ${aggs.size} aggregate records`);
  const vs = readStatus(net.nodes.get('validator')!.dataDir)!;
  assert.ok(vs.weights && Object.values(vs.weights).some((x) => x > 0), `validator weights ${JSON.stringify(vs.weights)}`);
  const state = await loadState(join(net.root, 'chain'));
  const m = metagraphOf(state!);
  const contributing = new Set([...aggs.values()].flatMap((a) => a.uids));
  assert.ok(m.lastEpoch > 0, 'no Yuma epoch ran');
  for (const uid of contributing) {
    assert.ok(m.Emission[uid]! > 0 || state!.neurons[uid]!.totalEmission > 0, `contributing uid ${uid} got no emission (Emission ${m.Emission[uid]}, weights ${JSON.stringify(vs.weights)})`);
  }
  assert.ok(original.filter((n) => n.startsWith('miner')).every((name) => {
    const uid = readStatus(net.nodes.get(name)!.dataDir)!.uid!;
    return m.Emission[uid]! > 0;
  }), `miner Emission in the last epoch: ${JSON.stringify(m.Emission)}`);
  say(`aggregates ${JSON.stringify([...aggs].map(([w, a]) => [w, a.uids]))}; weights ${JSON.stringify(vs.weights)}; Emission ${m.Emission.map((e) => e.toFixed(3)).join(' ')} (epoch @${m.lastEpoch})`);
  return fps;
}

test('node config: a devnet config file resolves; unknown keys and bad values are refused with the path named', async () => {
  const data = await tinyData();
  const dir = tmp('cfg');
  try {
    const base = await resolveNodeConfig('miner', { name: 'miner-1', chain: 'http://127.0.0.1:9944', walletDir: dir, dataset: data, store: join(dir, 'bucket'), runId: 'r1', preset: 'tiny', seq: 32, deadlineS: 2 });
    assert.equal(base.publicRead.kind, 'fs');
    assert.equal((base.publicRead as { readOnly?: boolean }).readOnly, true);
    assert.equal(base.run.model.vocabSize, 512);
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify(base));
    assert.deepEqual(await resolveNodeConfig('miner', { config: file }), base);
    assert.equal((await resolveNodeConfig('miner', { config: file, innerSteps: 3 })).run.innerSteps, 3);
    await assert.rejects(resolveNodeConfig('validator', { config: file }), /is for a miner, not a validator/);
    await assert.rejects(resolveNodeConfig('miner', { name: 'm', chain: 'http://127.0.0.1:1', walletDir: dir, dataset: data, store: dir, runId: 'r1' }), /cannot ask the chain .* for its block time/);
    assert.throws(() => checkNodeConfig({ ...base, extra: 1 }), /unknown key extra/);
    assert.throws(() => checkNodeConfig({ ...base, run: { ...base.run, codec: { ...base.run.codec, k: 2 } } }), /unknown key run\.codec\.k/);
    assert.throws(() => checkNodeConfig({ ...base, run: { ...base.run, batch: 0 } }), /run\.batch must be an integer ≥ 1/);
    assert.throws(() => checkNodeConfig({ ...base, chainUrl: 'ftp://x' }), /chainUrl must be an http\(s\) URL/);
    assert.throws(() => checkNodeConfig({ ...base, store: { kind: 's3', endpoint: 'http://x' } }), /config: store: bad storage descriptor/);
    const { hotkey: _h, ...noHotkey } = base;
    assert.throws(() => checkNodeConfig(noHotkey), /hotkey is missing/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('run timing: a deadline of a window or more is refused by the node config resolver and the devnet', async () => {
  const data = await tinyData();
  const dir = tmp('timing');
  const server = await startDevnetChainServer({ dir: join(dir, 'chain'), blockMs: 250 }); // 12 blocks = a 3 s window
  try {
    const flags = { name: 'miner-1', chain: server.url, walletDir: dir, dataset: data, store: join(dir, 'bucket'), runId: 'r1', preset: 'tiny', seq: 32, blocksPerWindow: 12 };
    const tooLong = /deadlineS 3 s is not shorter than a window \(12 blocks × 250 ms = 3 s\)/;
    const ok = await resolveNodeConfig('miner', { ...flags, deadlineS: 2.5 });
    await assert.rejects(resolveNodeConfig('miner', { ...flags, deadlineS: 3 }), tooLong);
    // The default deadline is at least 2 s: a 1 s window (4 blocks) cannot hold it.
    await assert.rejects(resolveNodeConfig('miner', { ...flags, blocksPerWindow: 4 }), /deadlineS 2 s is not shorter than a window \(4 blocks × 250 ms = 1 s\)/);
    // A run from a config file is checked against the chain's block time as well.
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ ...ok, run: { ...ok.run, deadlineS: 3 } }));
    await assert.rejects(resolveNodeConfig('miner', { config: file }), tooLong);
    // The devnet refuses before it prepares data or starts anything.
    await assert.rejects(Devnet.start(options(join(dir, 'devnet'), data, { run: { ...TINY, deadlineS: 3 } })), tooLong);
    await assert.rejects(Devnet.start(options(join(dir, 'devnet'), data, { run: { ...TINY, blocksPerWindow: 4 } })), /deadlineS 2 s is not shorter than a window/);
    // A resumed devnet keeps its run but may get a faster chain: a 12 × 100 ms window cannot hold its 2 s deadline.
    await writeRecord(join(dir, 'devnet'), { format: 'tessera-devnet', version: 1, createdAt: new Date().toISOString(), run: makeRunConfig(TINY, BLOCK_MS, 512),
      preset: 'tiny', chainPort: 1, blockMs: BLOCK_MS, storage: 'fs', data, miners: [] });
    await assert.rejects(Devnet.start(options(join(dir, 'devnet'), data, { run: {}, blockMs: 100 })), (e: unknown) => {
      assert.match((e as Error).message, /cannot run with --block-ms 100: run deadlineS 2 s is not shorter than a window \(12 blocks × 100 ms = 1\.2 s\)/);
      assert.match((e as TesseraError).hint ?? '', /resume it with --block-ms above 166 \(it ran with 250\)/);
      return true;
    });
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('utilization_72b follows the documented formula', () => {
  // 0.219 bit/param (12-bit indices + 2-bit values at 1.56% density): 1.97 GB per payload.
  const u = utilization72b(0.219);
  assert.ok(Math.abs(u.model_72b.payload_bytes - 1.971e9) < 1e7);
  assert.ok(Math.abs(u.model_72b.upload_s - 1.971e9 * 8 / 110e6) < 1);
  assert.ok(Math.abs(u.utilization_72b - 1200 / (1200 + u.model_72b.upload_s + u.model_72b.download_s)) < 1e-12);
  assert.equal(u.utilization_72b_overlapped, 1);
});

test('devnet on the filesystem: 3 miners + validator agree every window, learn, earn emission; a late miner joins; the chain restarts mid-run', { timeout: 240_000 }, async (t) => {
  const data = await tinyData();
  const dir = tmp('fs');
  const t0 = Date.now();
  const net = await Devnet.start(options(dir, data, { windows: 8, lateMinerWindow: 3 }));
  let ok = false;
  try {
    t.diagnostic(`started in ${((Date.now() - t0) / 1000).toFixed(1)} s; stop after window ${net.stopWindow}`);
    assert.ok(net.stopWindow! >= 8);
    // A chain restart mid-run: the nodes wait it out and carry on.
    await untilWindow(net, 4, 90_000);
    const down = Date.now();
    await net.restartChain(3000);
    t.diagnostic(`chain down for ${((Date.now() - down) / 1000).toFixed(1)} s`);
    await net.done;
    const retried = [...net.history].filter(([, h]) => h.some((x) => x.phase === 'retry')).map(([n]) => n);
    t.diagnostic(`nodes that showed phase 'retry': ${retried.join(', ') || 'none (client-side retries absorbed the outage)'}`);
    t.diagnostic(`ran ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const fps = await checkNetwork(net, aggregates(net), ['validator', 'miner-1', 'miner-2', 'miner-3'], (l) => t.diagnostic(l));
    // The late miner (started at window 3) is in an aggregate by window 6 and holds the same parameters as everyone:
    // it joins during window 3 or 4, with overlap its first window trained is the one after it synced (4 or 5),
    // and the leader's peer list for the window after that is the first that knows its score.
    const late = readStatus(net.nodes.get('miner-4')!.dataDir)!;
    const aggs = aggregates(net);
    const joined = [...aggs].filter(([, a]) => a.uids.includes(late.uid!)).map(([w]) => w);
    assert.ok(joined.length > 0 && joined[0]! <= 6, `late miner uid ${late.uid} aggregated in windows ${joined.join(', ') || 'none'}; aggregates: ${JSON.stringify([...aggs].map(([w, a]) => [w, a.uids]))}`);
    t.diagnostic(`late miner uid ${late.uid} aggregated in windows ${joined.join(', ')}`);
    const lateFps = fps.get('miner-4')!;
    assert.ok([...lateFps.keys()].some((w) => w <= 5), `late miner fingerprints at windows ${[...lateFps.keys()].join(', ')}`);
    ok = true;
  } finally {
    await net.stop();
    if (ok && !process.env.TESSERA_KEEP) rmSync(dir, { recursive: true, force: true });
    else t.diagnostic(`kept ${dir} for inspection`);
  }
});

test('supervision: a node process that dies (kill -9 from outside) is restarted with backoff and contributes again', { timeout: 180_000 }, async (t) => {
  const data = await tinyData();
  const dir = tmp('supervise');
  const events: string[] = [];
  const net = await Devnet.start(options(dir, data, { windows: 8, miners: 2, log: (l) => events.push(l) }));
  let ok = false;
  try {
    await untilWindow(net, 3, 90_000);
    const m = net.nodes.get('miner-1')!, pid = m.proc!.pid!;
    process.kill(pid, 'SIGKILL'); // a crash, not Devnet.killNode (which means "leave it down")
    const killedAt = (await net.snapshot()).window!;
    t.diagnostic(`killed miner-1 (pid ${pid}) in window ${killedAt}`);
    await net.done;
    assert.ok(events.some((l) => /miner-1 will be restarted in 2 s/.test(l)), events.filter((l) => /miner-1/.test(l)).join('\n'));
    assert.ok(events.some((l) => /restarting miner-1/.test(l)), 'the supervisor restarted miner-1');
    assert.notEqual(m.proc!.pid, pid, 'a new process');
    const uid = readStatus(m.dataDir)!.uid!;
    const after = [...aggregates(net)].filter(([w, a]) => w > killedAt && a.uids.includes(uid)).map(([w]) => w);
    t.diagnostic(`miner-1 (uid ${uid}) aggregated again in windows ${after.join(', ') || 'none'}`);
    assert.ok(after.length > 0, 'the restarted miner contributes again');
    ok = true;
  } finally {
    await net.stop();
    if (ok && !process.env.TESSERA_KEEP) rmSync(dir, { recursive: true, force: true });
    else t.diagnostic(`kept ${dir} for inspection`);
  }
});

test('two validators: the leader is SIGKILLed mid-run; the next by stake leads within 2 windows, miners never stop, all agree; the old leader rejoins and leads again', { timeout: 240_000 }, async (t) => {
  const data = await tinyData();
  const dir = tmp('leader');
  const net = await Devnet.start(options(dir, data, { windows: 18, validators: 2 }));
  let ok = false;
  try {
    // Kill the leader once it has led a window (as validator-2 recorded it): its peer lists exist from the
    // first window with scored miners on (about the fifth of the run).
    const ledOnce = async (): Promise<boolean> => {
      const v = readStatus(net.nodes.get('validator')!.dataDir)?.uid;
      return v != null && readTimeline(net.nodes.get('validator-2')!.dataDir).some((e) => e.leader === v);
    };
    for (const until = Date.now() + 120_000; !(await ledOnce()); await new Promise((r) => setTimeout(r, 250))) {
      if (Date.now() > until) throw new Error('the first validator did not lead a window within 120 s');
    }
    const killedIn = (await net.snapshot()).window!;
    net.killNode('validator');
    await untilWindow(net, killedIn + 5, 90_000);
    const restartedIn = (await net.snapshot()).window!;
    await net.restartNode('validator');
    await net.done;
    t.diagnostic(`leader killed in window ${killedIn}, restarted in window ${restartedIn}, stop after ${net.stopWindow}`);
    const uid = (name: string): number => readStatus(net.nodes.get(name)!.dataDir)!.uid!;
    const [v1, v2] = [uid('validator'), uid('validator-2')];
    // Who led each window, as validator-2 recorded it (it ran throughout).
    const led = new Map(readTimeline(net.nodes.get('validator-2')!.dataDir).map((e) => [e.window, e.leader ?? null]));
    const say = [...led].map(([w, l]) => `${w}:${l}`).join(' ');
    t.diagnostic(`leaders (window:uid) ${say}; uids validator ${v1}, validator-2 ${v2}`);
    assert.ok([...led].some(([w, l]) => w < killedIn && l === v1), `the first validator led before the kill: ${say}`);
    for (let w = killedIn + 2; w < restartedIn; w++) assert.equal(led.get(w), v2, `window ${w}: validator-2 leads within 2 windows of the kill: ${say}`);
    const lastLed = [...led].filter(([w]) => w >= restartedIn + 3).map(([, l]) => l);
    assert.ok(lastLed.length > 0 && lastLed.every((l) => l === v1), `the restarted leader leads again by the rule: ${say}`);
    // The miners never stopped training: an upload in every window from their first to the stop window.
    for (const name of ['miner-1', 'miner-2', 'miner-3']) {
      const tl = readTimeline(net.nodes.get(name)!.dataDir);
      const ws = tl.map((e) => e.window);
      for (let w = ws[0]!; w <= net.stopWindow!; w++) assert.ok(ws.includes(w), `${name} has no window ${w}: ${ws.join(' ')}`);
      const sent = tl.filter((e) => e.outcome === 'uploaded').length;
      assert.ok(sent >= tl.length - 1, `${name} uploaded in ${sent} of ${tl.length} windows`);
    }
    // Every node that applied a window holds the same parameters.
    const fps = [...net.nodes.values()].map((n) => readFingerprints(n.dataDir));
    for (const w of new Set(fps.flatMap((m) => [...m.keys()]))) {
      assert.equal(new Set(fps.filter((m) => m.has(w)).map((m) => m.get(w))).size, 1, `window ${w}: fingerprints differ`);
    }
    ok = true;
  } finally {
    await net.stop();
    if (ok && !process.env.TESSERA_KEEP) rmSync(dir, { recursive: true, force: true });
    else t.diagnostic(`kept ${dir} for inspection`);
  }
});

test('devnet on S3 (private Ceph RGW): per-node users, same agreement, learning and emission; the S3 gateway stops mid-run', { timeout: 240_000, skip: cephInstalled() ? false : 'Ceph is not installed (apt-get install ceph-mon ceph-osd radosgw ceph-common)' }, async (t) => {
  const data = await tinyData();
  const dir = tmp('ceph');
  const t0 = Date.now();
  const net = await Devnet.start(options(dir, data, { windows: 11, storage: { kind: 'ceph' }, autoStop: false }));
  let ok = false;
  try {
    const cfg = JSON.parse(readFileSync(net.nodes.get('miner-1')!.configFile, 'utf8')) as { store: StoreDescriptor; publicRead: StoreDescriptor };
    assert.equal(cfg.store.kind, 's3');
    assert.notEqual((cfg.store as { accessKeyId: string }).accessKeyId, (cfg.publicRead as { accessKeyId: string }).accessKeyId, 'the published keys must not be the write keys');
    t.diagnostic(`started in ${((Date.now() - t0) / 1000).toFixed(1)} s; stop after window ${net.stopWindow}`);
    // A storage outage mid-run: radosgw stops (connections refused) for 5 s, then comes back on the same
    // endpoint with the same objects. The nodes retry with backoff and carry on; none exits.
    // Once the run has started (the validator applied a window): an outage during start-up is not what this tests.
    for (const until = Date.now() + 90_000; readFingerprints(net.nodes.get('validator')!.dataDir).size === 0; await new Promise((r) => setTimeout(r, 250))) {
      if (Date.now() > until) throw new Error('the validator applied no window within 90 s');
    }
    await untilWindow(net, (await net.snapshot()).window! + 1, 90_000);
    const logSizes = new Map([...net.nodes.values()].map((n) => [n.name, fileSize(n.logFile)]));
    const down = Date.now();
    await net.restartStorage(5000);
    const back = (await net.snapshot()).window!;
    t.diagnostic(`S3 gateway down for ${((Date.now() - down) / 1000).toFixed(1)} s; back in window ${back}`);
    for (const n of net.nodes.values()) assert.ok(n.proc?.running, `${n.name} is not running after the storage outage: ${JSON.stringify(n.proc?.exit)}; log:\n${n.proc?.tail(30)}`);
    await net.nodesDone;
    t.diagnostic(`ran ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    // Some node ran into the outage and logged a retry (neurons/retry.ts: '<what> failed (<error>); retrying in N ms'),
    // or found its own bucket unreachable while reading a peer's and waited (neurons/peer-read.ts).
    const retries = [...net.nodes.values()].map((n) => {
      const lines = readFileSync(n.logFile).subarray(logSizes.get(n.name)!).toString('utf8').split('\n');
      return { name: n.name, retry: lines.filter((l) => /transient failure .*; retrying in \d+ ms|storage unreachable from this node/.test(l)), recovered: lines.filter((l) => /recovered after \d+ retr|storage reachable again after/.test(l)) };
    });
    t.diagnostic(`storage retries logged: ${retries.map((r) => `${r.name} ${r.retry.length} (recovered ${r.recovered.length})`).join(', ')}`);
    const retried = retries.find((r) => r.retry.length > 0);
    assert.ok(retried, 'no node logged a storage retry during the outage');
    t.diagnostic(`e.g. ${retried.name}: ${retried.retry[0]!.slice(0, 240)}`);
    assert.ok(retries.some((r) => r.recovered.length > 0), 'no node logged a recovery after the outage');
    const fps = await checkNetwork(net, await aggregatesS3(net), ['validator', 'miner-1', 'miner-2', 'miner-3'], (l) => t.diagnostic(l));
    // checkNetwork found every window of the common range on every node, with one fingerprint each: it must reach past the outage.
    const last = Math.min(...[...fps.values()].map((m) => Math.max(...m.keys())));
    assert.ok(last >= back + 2, `the nodes' last common window ${last} is not past the outage (gateway back in window ${back})`);
    ok = true;
  } finally {
    await net.stop();
    if (ok && !process.env.TESSERA_KEEP) rmSync(dir, { recursive: true, force: true });
    else t.diagnostic(`kept ${dir} for inspection`);
  }
});

// Real network hosts (src/devnet/hosts.ts): every process in its own namespace, links shaped with tc.
const hostsWhy = (await hostsUnavailable()) ?? (cephInstalled() ? null : 'Ceph is not installed (apt-get install ceph-mon ceph-osd radosgw ceph-common)');
test('devnet on network hosts: chain, Ceph RGW and every node in its own namespace on shaped links (a slow miner among them); overlapped miners agree and are aggregated; nothing is left behind', { timeout: 240_000, skip: hostsWhy ? `network hosts unavailable: ${hostsWhy}` : false }, async (t) => {
  const data = await tinyData();
  const dir = tmp('hosts');
  const net = await Devnet.start(options(dir, data, { windows: 12, miners: 2, run: { ...TINY, blocksPerWindow: 16 }, storage: { kind: 'ceph' }, hosts: { up: '20mbit', down: '50mbit', per: { 'miner-2': { up: '2mbit', down: '8mbit' } } } }));
  const id = net.hostNet!.id;
  let ok = false;
  try {
    assert.match(net.chainUrl, /^http:\/\/10\.77\.\d+\.10:\d+$/, 'the chain listens on its own host');
    const cfg = JSON.parse(readFileSync(net.nodes.get('miner-1')!.configFile, 'utf8')) as { store: { endpoint: string } };
    assert.match(cfg.store.endpoint, /^http:\/\/10\.77\.\d+\.11:\d+$/, 'the storage is on its own host');
    const inNs = (pid: number): string => readlinkSync(`/proc/${pid}/ns/net`);
    assert.notEqual(inNs(net.nodes.get('miner-1')!.proc!.pid!), inNs(process.pid), 'miner-1 runs in another network namespace');
    assert.notEqual(inNs(net.nodes.get('miner-1')!.proc!.pid!), inNs(net.nodes.get('miner-2')!.proc!.pid!), 'each node has its own');
    await net.nodesDone;
    const links = linkReport(net)!;
    t.diagnostic(`links: ${Object.entries(links).map(([n, l]) => `${n} ${l.up ?? '-'}/${l.down ?? '-'} sent ${(l.bytes_up / 1e3).toFixed(0)} kB received ${(l.bytes_down / 1e3).toFixed(0)} kB per window`).join('; ')}`);
    assert.equal(links['miner-2']!.up, '2mbit');
    for (const m of ['miner-1', 'miner-2']) assert.ok(links[m]!.bytes_up > 1000 && links[m]!.bytes_down > 1000, `${m} moved bytes over its link: ${JSON.stringify(links[m])}`);
    const fps = new Map([...net.nodes.values()].map((n) => [n.name, readFingerprints(n.dataDir)]));
    const common = [...fps.get('validator')!.keys()].filter((w) => [...fps.values()].every((m) => m.has(w)));
    assert.ok(common.length >= 3, `common windows ${common.join(', ')}`);
    for (const w of common) assert.equal(new Set([...fps.values()].map((m) => m.get(w))).size, 1, `window ${w}: fingerprints differ`);
    const timeline = readTimeline(net.nodes.get('miner-2')!.dataDir);
    assert.ok(timeline.length > 0 && timeline.every((e) => e.overlapped === true), 'miner-2 trained with overlap');
    const uid2 = readStatus(net.nodes.get('miner-2')!.dataDir)!.uid!;
    const aggregated = timeline.filter((e) => e.aggregated?.includes(uid2)).map((e) => e.window);
    t.diagnostic(`the slow miner (uid ${uid2}) was aggregated in windows ${aggregated.join(', ')}`);
    assert.ok(aggregated.length >= 2, 'the miner on the slow link was aggregated');
    ok = true;
  } finally {
    await net.stop();
    const left = execFileSync('ip', ['-o', 'link', 'show']).toString() + execFileSync('ip', ['netns', 'list']).toString();
    assert.ok(!left.includes(id), `network hosts ${id} left behind:\n${left.split('\n').filter((l) => l.includes(id)).join('\n')}`);
    if (ok && !process.env.TESSERA_KEEP) rmSync(dir, { recursive: true, force: true });
    else t.diagnostic(`kept ${dir} for inspection`);
  }
});

test.after(() => { if (dataDir) rmSync(dataDir, { recursive: true, force: true }); });

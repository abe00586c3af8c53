// One small network in-process: a devnet chain (200 ms blocks), filesystem buckets, a tiny dataset,
// one validator and two miners on the tiny model for several windows, and a third miner joining late. Every node must hold the
// same parameters after every window, the leader must have aggregated both miners, weights must be
// on chain, and the status/timeline files must say what happened.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DevnetChainClient, startDevnetChainServer } from '../chain/index.js';
import { CODEC_DEFAULTS } from '../compress/index.js';
import { defaultCorpus, prepareData } from '../data/index.js';
import { getPreset } from '../model/index.js';
import { firstBlockOf, keys, parseRecord, windowOf } from '../protocol/index.js';
import { fsNodeDescriptors, FsStore } from '../storage/index.js';
import { openTrainData } from '../train/batches.js';
import { createWallet } from '../wallet/index.js';
import { runMiner, runValidator, type NodeConfig, type NodeStatus, type RunConfig, type TimelineEntry } from './index.js';

const BLOCKS_PER_WINDOW = 8;
const WINDOWS = 5;

const readLines = <T>(path: string): T[] => existsSync(path) ? readFileSync(path, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as T) : [];

test('validator + 2 miners stay bit-identical window after window, aggregate both miners and set weights', { timeout: 90_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'tessera-net-'));
  const logs: string[] = [];
  const log = (l: string): void => { logs.push(l); if (process.env.TESSERA_TEST_LOG) process.stderr.write(l + '\n'); };
  const server = await startDevnetChainServer({ dir: join(root, 'chain'), blockMs: 200, tempo: 4 });
  const abort = new AbortController();
  const guard = setTimeout(() => abort.abort(), 75_000);
  try {
    const text = defaultCorpus().join('\n\n').slice(0, 120_000);
    mkdirSync(join(root, 'corpus'));
    for (let i = 0; i < 6; i++) writeFileSync(join(root, 'corpus', `part${i}.txt`), text.slice(i * 20_000, (i + 1) * 20_000));
    const dataset = join(root, 'data');
    await prepareData({ inputs: [join(root, 'corpus')], outDir: dataset, vocabSize: 300, valFraction: 0.2 });
    const vocab = openTrainData(dataset).vocabSize;

    const run: RunConfig = {
      runId: 'net-test', model: { ...getPreset('tiny'), vocabSize: vocab }, blocksPerWindow: BLOCKS_PER_WINDOW, deadlineS: 0.5,
      innerSteps: 2, batch: 2, seq: 32, innerLr: 3e-3, warmup: 2, alpha: 0.7, codec: { ...CODEC_DEFAULTS }, indexMode: '12bit',
      checkpointEvery: 2, weightsEvery: 1, maxPeers: 4, seed: 11,
    };
    const walletDir = join(root, 'wallets');
    const chain = new DevnetChainClient({ url: server.url });
    const w0 = windowOf((await chain.head()).height, BLOCKS_PER_WINDOW);
    const stopAfterWindow = w0 + WINDOWS;
    const node = async (role: 'miner' | 'validator', name: string): Promise<NodeConfig> => {
      await createWallet(walletDir, name);
      const d = fsNodeDescriptors(join(root, 'buckets', name));
      return { role, name, dataDir: join(root, 'nodes', name), chainUrl: server.url, walletDir, hotkey: name, store: d.write, publicRead: d.read, dataset, run, stopAfterWindow };
    };
    const v = await node('validator', 'v0'), m1 = await node('miner', 'm1'), m2 = await node('miner', 'm2'), m3 = await node('miner', 'm3');
    const opts = { signal: abort.signal, log };
    // m3 joins late (a block into window w0+3): it starts from the leader's newest checkpoint,
    // replays what came after from the other miners' buckets, and trains from the next window.
    const late = chain.waitForBlock(firstBlockOf(w0 + 3, BLOCKS_PER_WINDOW) + 1, 60_000).then(() => runMiner(m3, opts));
    await Promise.all([runValidator(v, opts), runMiner(m1, opts), runMiner(m2, opts), late]);
    assert.equal(abort.signal.aborted, false, 'finished before the guard timeout');

    // Every window each node applied has the same fingerprint on every node that applied it.
    const fps = [v, m1, m2].map((c) => new Map(readLines<{ window: number; fingerprint: string }>(join(c.dataDir, 'fingerprints.jsonl')).map((e) => [e.window, e.fingerprint])));
    const common = [...fps[0]!.keys()].filter((w) => fps[1]!.has(w) && fps[2]!.has(w));
    assert.ok(common.length >= 3, `windows applied by all three nodes: ${common.join(' ')}`);
    for (const w of common) assert.ok(fps[1]!.get(w) === fps[0]!.get(w) && fps[2]!.get(w) === fps[0]!.get(w), `window ${w} fingerprints differ`);
    const lateFps = readLines<{ window: number; fingerprint: string }>(join(m3.dataDir, 'fingerprints.jsonl'));
    assert.ok(lateFps.length >= 1, 'the late miner applied windows');
    for (const e of lateFps) assert.equal(e.fingerprint, fps[0]!.get(e.window), `late miner, window ${e.window}`);

    // The leader's records: both miners' payloads applied in at least 3 windows.
    const status = (c: NodeConfig): NodeStatus => JSON.parse(readFileSync(join(c.dataDir, 'status.json'), 'utf8')) as NodeStatus;
    const [sv, s1, s2, s3] = [v, m1, m2, m3].map(status);
    const bucket = new FsStore(join(root, 'buckets', 'v0'));
    let both = 0, withLate = 0;
    for (const w of fps[0]!.keys()) {
      const r = parseRecord((await bucket.get(keys.aggregate(run.runId, w)))!, 'aggregate');
      assert.ok(r.ok);
      assert.equal(r.value.fingerprintAfter, fps[0]!.get(w));
      if (r.value.uids.includes(s1!.uid!) && r.value.uids.includes(s2!.uid!)) both++;
      if (r.value.uids.includes(s3!.uid!)) withLate++;
    }
    assert.ok(both >= 3, `windows aggregating both miners: ${both}`);
    assert.ok(withLate >= 1, 'the late miner was productive');
    assert.ok(await bucket.head(keys.latestCheckpoint(run.runId)), 'checkpoint published');

    // Weights on chain and in status; status and timeline files complete.
    const m = await chain.metagraph();
    const row = m.Weights[sv!.uid!]!;
    assert.ok(row.length > 0, 'validator weights on chain');
    assert.ok(sv!.weights && Object.keys(sv!.weights).length > 0);
    assert.ok(typeof sv!.valLoss === 'number' && Number.isFinite(sv!.valLoss));
    for (const s of [sv!, s1!, s2!, s3!]) {
      assert.equal(s.phase, 'stopped');
      assert.ok(s.bytesUp > 0 && s.bytesDown > 0, `${s.name} counted bytes`);
    }
    const tl = readLines<TimelineEntry>(join(m1.dataDir, 'timeline.jsonl'));
    assert.ok(tl.length >= 3 && tl.every((e) => e.train_s > 0 && e.payloadBytes > 0 && e.window_s >= e.train_s));
    assert.ok(existsSync(join(m1.dataDir, 'miner-state.safetensors')), 'miner local state saved');
  } catch (e) {
    process.stderr.write(logs.join('\n') + '\n');
    throw e;
  } finally {
    clearTimeout(guard);
    abort.abort();
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
});

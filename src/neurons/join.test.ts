// Joining with one command: a devnet chain (250 ms blocks, 3 s windows), a validator that publishes the run manifest
// and lists a dataset mirror, and a miner resolved from nothing but the chain URL, its wallet and its
// bucket (resolveNodeConfig, as `tessera miner --chain URL --wallet NAME --store DIR` does): it must
// fetch its data from the mirror, train, and have its payloads aggregated by the leader. A miner that
// brings a locally prepared, different dataset is refused with both content hashes in the message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DevnetChainClient, startDevnetChainServer } from '../chain/index.js';
import { resolveNodeConfig } from '../cli/node-config.js';
import { CODEC_DEFAULTS } from '../compress/index.js';
import { defaultCorpus, indexDataset, prepareData, publishDataset } from '../data/index.js';
import { getPreset } from '../model/index.js';
import { keys, parseRecord, windowOf } from '../protocol/index.js';
import { fsNodeDescriptors, FsStore, openStore } from '../storage/index.js';
import { TesseraError } from '../util/errors.js';
import { createWallet } from '../wallet/index.js';
import { runMiner, runValidator, type NodeConfig, type NodeStatus, type RunConfig } from './index.js';

const BLOCKS_PER_WINDOW = 12;
const readLines = <T>(path: string): T[] => existsSync(path) ? readFileSync(path, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as T) : [];

test('a miner joins with only chain URL, wallet and bucket; a miner with other data is refused naming both hashes', { timeout: 115_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'tessera-join-'));
  const logs: string[] = [];
  const log = (l: string): void => { logs.push(l); if (process.env.TESSERA_TEST_LOG) process.stderr.write(l + '\n'); };
  const server = await startDevnetChainServer({ dir: join(root, 'chain'), blockMs: 250, tempo: 6 });
  const abort = new AbortController();
  const guard = setTimeout(() => abort.abort(), 100_000);
  const say = console.log;
  console.log = (...a: unknown[]) => log(a.join(' '));
  try {
    const text = defaultCorpus().join('\n\n').slice(0, 120_000);
    mkdirSync(join(root, 'corpus'));
    for (let i = 0; i < 6; i++) writeFileSync(join(root, 'corpus', `part${i}.txt`), text.slice(i * 20_000, (i + 1) * 20_000));
    const dataset = join(root, 'data'), other = join(root, 'other');
    await prepareData({ inputs: [join(root, 'corpus')], outDir: dataset, vocabSize: 300, valFraction: 0.2, shardTokens: 12_000 });
    await prepareData({ inputs: [join(root, 'corpus')], outDir: other, vocabSize: 290, valFraction: 0.2, shardTokens: 12_000 });
    const mirror = fsNodeDescriptors(join(root, 'buckets', 'dataset'));
    const pub = await publishDataset(dataset, [{ name: 'dataset', descriptor: mirror.write, store: openStore(mirror.write, 'write') }]);
    const otherHash = indexDataset(other).hash;
    assert.notEqual(otherHash, pub.hash);

    const run: RunConfig = {
      runId: 'join-test', model: { ...getPreset('tiny'), vocabSize: 300 }, blocksPerWindow: BLOCKS_PER_WINDOW, deadlineS: 1,
      innerSteps: 2, batch: 2, seq: 32, innerLr: 3e-3, warmup: 2, alpha: 0.7, codec: { ...CODEC_DEFAULTS }, indexMode: '12bit',
      checkpointEvery: 2, weightsEvery: 1, maxPeers: 4, seed: 5, dataHash: pub.hash,
    };
    const walletDir = join(root, 'wallets');
    for (const w of ['v0', 'v2', 'm1', 'bad']) await createWallet(walletDir, w);
    const chain = new DevnetChainClient({ url: server.url });
    const w0 = windowOf((await chain.head()).height, BLOCKS_PER_WINDOW);
    const stopAfterWindow = w0 + 8;
    const vd = fsNodeDescriptors(join(root, 'buckets', 'v0'));
    const v: NodeConfig = {
      role: 'validator', name: 'v0', dataDir: join(root, 'nodes', 'v0'), chainUrl: server.url, walletDir, hotkey: 'v0', store: vd.write, publicRead: vd.read,
      dataset, run, datasetMirrors: [mirror.read], stopAfterWindow,
    };
    const opts = { signal: abort.signal, log };
    const validator = runValidator(v, opts);

    // What `tessera miner --chain URL --wallet m1 --store DIR` resolves: it waits for the validator's manifest.
    const m1 = await resolveNodeConfig('miner', { chain: server.url, walletDir, hotkey: 'm1', store: join(root, 'buckets', 'm1'), dataDir: join(root, 'nodes', 'm1'), stopAfterWindow, joinWait: 60 });
    assert.equal(m1.dataset, undefined);
    assert.equal(m1.run.dataHash, pub.hash);
    assert.deepEqual(m1.run, run);
    assert.ok(logs.some((l) => l.includes('joining run join-test') && l.includes('memory') && l.includes('disk')), 'the join summary is printed');
    const miner = runMiner(m1, opts);
    // A second validator joins the same way (small stake: v0 stays the leader); it fetches what it evaluates.
    const v2 = await resolveNodeConfig('validator', { chain: server.url, walletDir, hotkey: 'v2', store: join(root, 'buckets', 'v2'), dataDir: join(root, 'nodes', 'v2'), stopAfterWindow, stake: 50, joinWait: 60 });
    assert.equal(v2.dataset, undefined);
    const second = runValidator(v2, opts);

    // The same command with a locally prepared, different dataset: refused at start, naming both hashes and the tokenizer.
    const bad = await resolveNodeConfig('miner', { chain: server.url, walletDir, hotkey: 'bad', store: join(root, 'buckets', 'bad'), dataDir: join(root, 'nodes', 'bad'), dataset: other, stopAfterWindow, joinWait: 60 });
    await assert.rejects(runMiner(bad, opts), (e: Error) => {
      assert.ok(e instanceof TesseraError);
      assert.match(e.message, new RegExp(`content hash ${otherHash}, but run join-test trains on dataset ${pub.hash}`));
      assert.match(e.message, /tokenizer hash .* differs/);
      return true;
    });

    await Promise.all([validator, miner, second]);
    assert.equal(abort.signal.aborted, false, 'finished before the guard timeout');

    const status = JSON.parse(readFileSync(join(m1.dataDir, 'status.json'), 'utf8')) as NodeStatus;
    const bucket = new FsStore(join(root, 'buckets', 'v0'));
    const vfp = new Map(readLines<{ window: number; fingerprint: string }>(join(v.dataDir, 'fingerprints.jsonl')).map((e) => [e.window, e.fingerprint]));
    let accepted = 0;
    for (const w of vfp.keys()) {
      const r = parseRecord((await bucket.get(keys.aggregate(run.runId, w)))!, 'aggregate');
      assert.ok(r.ok);
      if (r.value.uids.includes(status.uid!)) accepted++;
    }
    assert.ok(accepted >= 2, `windows aggregating the joined miner's payload: ${accepted}`);
    const mfp = readLines<{ window: number; fingerprint: string }>(join(m1.dataDir, 'fingerprints.jsonl'));
    assert.ok(mfp.length >= 2);
    for (const e of mfp) assert.equal(e.fingerprint, vfp.get(e.window), `joined miner, window ${e.window}`);
    const v2fp = readLines<{ window: number; fingerprint: string }>(join(v2.dataDir, 'fingerprints.jsonl'));
    assert.ok(v2fp.length >= 2, 'the joined validator applied windows');
    for (const e of v2fp) assert.equal(e.fingerprint, vfp.get(e.window), `joined validator, window ${e.window}`);
    const v2receipts = (await new FsStore(join(root, 'buckets', 'v2')).list(`tessera/v2/${run.runId}/receipts/`)).length;
    assert.ok(v2receipts >= 1, 'the joined validator scored windows');
    assert.ok(existsSync(join(v2.dataDir, 'data-cache', pub.hash.slice(0, 16), 'chunks')), 'the joined validator fetched its evaluation data');
    assert.ok(readLines<{ steps?: number }>(join(m1.dataDir, 'timeline.jsonl')).some((t) => (t.steps ?? 0) > 0), 'the joined miner trained');
    // Its data came from the mirror through the chunk cache, not from a local folder.
    assert.ok(existsSync(join(m1.dataDir, 'data-cache', pub.hash.slice(0, 16), 'chunks')));
    const ptr = parseRecord((await bucket.get(keys.currentRun()))!, 'run');
    assert.ok(ptr.ok && ptr.value.runId === 'join-test');
    const start = parseRecord((await bucket.get(keys.startWindow(run.runId)))!, 'start');
    assert.ok(start.ok && start.value.manifest === ptr.value.manifest, 'the start record references the manifest');
  } catch (e) {
    process.stderr.write(logs.join('\n') + '\n');
    throw e;
  } finally {
    console.log = say;
    clearTimeout(guard);
    abort.abort();
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
});

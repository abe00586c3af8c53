// `tessera bench data`: a dataset of ≥ 200 MB in several shards published to a real Ceph RGW (two
// mirrors, multipart uploads), then what a new miner fetches: its first window (bytes fetched ÷ dataset
// size), the windows after it (chunks already there when training starts, thanks to the prefetch of the
// next window), a restart (the disk cache serves everything again), a validator's evaluation data, and
// a shard altered on one mirror (detected, the other mirror used). Tokens are random ids (what is
// measured is the fetch path, not the text); the tokenizer is a small real one.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultCorpus } from '../data/corpus.js';
import { MANIFEST_FILE, type DataManifest } from '../data/manifest.js';
import { prepareData } from '../data/prepare.js';
import { LARGE_OBJECT, publishDataset } from '../data/publish.js';
import { RemoteDataset, type DataMirror } from '../data/remote.js';
import { writeShard } from '../data/shard.js';
import { evalPlan } from '../gauntlet/loss-score.js';
import { keys, trainingOffsets } from '../protocol/index.js';
import { createNodeCredentials, openStore, startRgw, stopRgw, type S3Descriptor } from '../storage/index.js';
import { makeRng } from '../util/rng.js';

/** A block hash standing in for the evaluation beacon (chaintime.ts evalBeacon). */
const BEACON = '0x' + 'ab'.repeat(32);

export interface DataBenchOptions {
  sizeMb: number;
  shards: number;
  chunkTokens: number;
  innerSteps: number;
  batch: number;
  seq: number;
  windows: number;
  cacheMb: number;
  log?: (l: string) => void;
}

export const DATA_BENCH_DEFAULTS: Omit<DataBenchOptions, 'log'> = { sizeMb: 256, shards: 4, chunkTokens: 4096, innerSteps: 30, batch: 8, seq: 128, windows: 8, cacheMb: 512 };

export interface WindowRow {
  window: number; needed: number; readyBefore: number; cacheHits: number; fetchedChunks: number; fetchedBytes: number; ms: number;
  /** The prefetch of the next window: its time, chunks it fetched, chunks it found already in memory from earlier windows. */
  prefetchMs: number; prefetchFetched: number; prefetchReused: number;
}

export interface DataBenchResult {
  datasetBytes: number;
  shardBytes: number[];
  publish: { seconds: number; mbPerS: number; multipartShards: number; resumeSeconds: number; resumeUploaded: number };
  first: WindowRow & { fraction: number };
  later: WindowRow[];
  laterReadyShare: number;
  restart: { fetchedBytes: number; cacheHits: number; needed: number };
  validator: { miners: number; fetchedBytes: number; fraction: number };
  tamper: { events: string[]; verified: boolean };
  rssMb: number;
  cacheBytes: number;
}

/** A synthetic prepared folder: a small real tokenizer (vocab 512) and `shards` shards of random ids filling sizeMb. */
async function syntheticDataset(dir: string, o: DataBenchOptions): Promise<void> {
  mkdirSync(join(dir, 'corpus'));
  const text = defaultCorpus().join('\n\n');
  for (let i = 0; i < 4; i++) writeFileSync(join(dir, 'corpus', `seed${i}.txt`), text.slice(i * 75_000, (i + 1) * 75_000));
  await prepareData({ inputs: [join(dir, 'corpus')], outDir: join(dir, 'seed'), vocabSize: 512, valFraction: 0.05 });
  const seed = JSON.parse(readFileSync(join(dir, 'seed', MANIFEST_FILE), 'utf8')) as DataManifest;
  const perShard = Math.ceil((o.sizeMb * 1e6) / 2 / o.shards), rng = makeRng('tessera/bench/data');
  const shard = (file: string, n: number): { file: string; tokens: number; crc32: number } => {
    const t = new Uint16Array(n);
    for (let i = 0; i < n; i++) t[i] = rng.nextInt(512);
    return { file, tokens: n, crc32: writeShard(join(dir, file), t, 512) };
  };
  const train = Array.from({ length: o.shards }, (_, i) => shard(`train_${String(i).padStart(3, '0')}.bin`, perShard));
  const val = [shard('val_000.bin', 1 << 18)];
  writeFileSync(join(dir, 'tokenizer.json'), readFileSync(join(dir, 'seed', 'tokenizer.json')));
  const m: DataManifest = {
    ...seed, source: { ...seed.source, description: 'synthetic: random token ids (tessera bench data)' },
    train: { documents: 0, tokens: perShard * o.shards, shards: train }, val: { documents: 0, tokens: 1 << 18, shards: val },
  };
  writeFileSync(join(dir, MANIFEST_FILE), JSON.stringify(m, null, 2));
}

export async function runDataBench(opts: Partial<DataBenchOptions> = {}): Promise<DataBenchResult> {
  const o: DataBenchOptions = { ...DATA_BENCH_DEFAULTS, ...opts };
  const log = o.log ?? (() => {});
  const root = mkdtempSync(join(tmpdir(), 'tessera-bench-data-'));
  const rgwDir = join(root, 'rgw');
  try {
    const data = join(root, 'data');
    mkdirSync(data);
    log(`writing a synthetic ${o.sizeMb} MB dataset in ${o.shards} shards ...`);
    await syntheticDataset(data, o);
    log('starting Ceph RGW ...');
    const cluster = await startRgw(rgwDir);
    const [a, b] = [await createNodeCredentials(cluster, 'mirror-a'), await createNodeCredentials(cluster, 'mirror-b')];
    const target = (c: { name: string; write: S3Descriptor }) => ({ name: c.name, descriptor: c.write, store: openStore(c.write, 'write') });
    let t0 = performance.now();
    const pub = await publishDataset(data, [target(a), target(b)], { chunkTokens: o.chunkTokens, log });
    const publishS = (performance.now() - t0) / 1000;
    t0 = performance.now();
    const again = await publishDataset(data, [target(a), target(b)], { chunkTokens: o.chunkTokens });
    const resumeS = (performance.now() - t0) / 1000;
    const index = pub.indexed.index, hash = pub.hash;
    const datasetBytes = [...index.train.shards, ...index.val.shards].reduce((n, s) => n + s.bytes, 0);
    const upBytes = pub.mirrors.reduce((n, m) => n + m.bytesUp, 0);
    const mirrors: DataMirror[] = [{ name: 'mirror-a', store: openStore(a.read, 'read') }, { name: 'mirror-b', store: openStore(b.read, 'read') }];
    const run = { seed: 1, innerSteps: o.innerSteps, batch: o.batch, seq: o.seq };
    const nTokens = index.train.tokens, uid = 3;
    const cacheDir = join(root, 'cache');
    const rss0 = process.memoryUsage().rss;
    const ds = await RemoteDataset.open({ index, hash, mirrors, cacheDir, cacheBytes: o.cacheMb * 1e6, log });

    // A new miner: each window's sequences are ensured (what training waits for), then the next window's prefetched.
    const rows: WindowRow[] = [];
    for (let w = 0; w < o.windows; w++) {
      const offsets = trainingOffsets(run, uid, w, nTokens).flat();
      const needed = new Set(offsets.flatMap((x) => chunkIds(index, x, o.seq))).size;
      const readyBefore = new Set(offsets.filter((x) => ds.hasSequences([x], o.seq)).flatMap((x) => chunkIds(index, x, o.seq))).size;
      const s0 = { ...ds.stats }, t = performance.now();
      await ds.ensureSequences(offsets, o.seq);
      const ms = performance.now() - t, s1 = { ...ds.stats }, t1 = performance.now();
      await ds.ensureSequences(trainingOffsets(run, uid, w + 1, nTokens).flat(), o.seq); // the prefetch, awaited here (training would run meanwhile)
      rows.push({
        window: w, needed, readyBefore, cacheHits: s1.cacheHits - s0.cacheHits, fetchedChunks: s1.fetchedChunks - s0.fetchedChunks, fetchedBytes: s1.fetchedBytes - s0.fetchedBytes, ms,
        prefetchMs: performance.now() - t1, prefetchFetched: ds.stats.fetchedChunks - s1.fetchedChunks, prefetchReused: ds.stats.memoryHits - s1.memoryHits,
      });
    }
    const rssMb = (process.memoryUsage().rss - rss0) / 1e6;
    const [first, ...later] = rows;
    const laterNeeded = later.reduce((n, r) => n + r.needed, 0), laterReady = later.reduce((n, r) => n + r.readyBefore, 0);

    // A restart: a new process with the same cache folder replays the windows.
    const re = await RemoteDataset.open({ index, hash, mirrors, cacheDir, cacheBytes: o.cacheMb * 1e6 });
    let reNeeded = 0;
    for (let w = 0; w < o.windows; w++) {
      const offsets = trainingOffsets(run, uid, w, nTokens).flat();
      reNeeded += new Set(offsets.flatMap((x) => chunkIds(index, x, o.seq))).size;
      await re.ensureSequences(offsets, o.seq);
    }

    // A validator evaluating 3 miners of one window (assigned + random sequences of the Gauntlet plan).
    const val = await RemoteDataset.open({ index, hash, mirrors, cacheDir: join(root, 'vcache'), cacheBytes: o.cacheMb * 1e6 });
    for (const m of [1, 2, 3]) { const p = evalPlan(run, 5, m, 'validator', BEACON, nTokens, 8); await val.ensureSequences([...p.own, ...p.random], o.seq); }

    // One shard altered on mirror a: a fresh miner must use mirror b for the chunk and log it.
    const victim = index.train.shards[0]!;
    const file = readFileSync(join(data, victim.file));
    const off = trainingOffsets(run, 7, 0, nTokens).flat().find((x) => x + o.seq + 1 < victim.tokens)!;
    file[32 + off * 2] ^= 0xff;
    const w = openStore(a.write, 'write');
    await w.putLarge(keys.dataset(hash, victim.file), file);
    w.close();
    const fresh = await RemoteDataset.open({ index, hash, mirrors, cacheDir: join(root, 'tcache'), cacheBytes: o.cacheMb * 1e6 });
    await fresh.ensureSequences([off], o.seq);
    const local = readFileSync(join(data, victim.file));
    const expect = new Uint16Array(local.buffer.slice(local.byteOffset + 32 + off * 2, local.byteOffset + 32 + (off + o.seq + 1) * 2));
    const verified = fresh.train.subarray(off, off + o.seq + 1).every((t, i) => t === expect[i]);
    for (const m of mirrors) m.store.close();
    return {
      datasetBytes, shardBytes: index.train.shards.map((s) => s.bytes),
      publish: { seconds: publishS, mbPerS: upBytes / 1e6 / publishS, multipartShards: index.train.shards.filter((s) => s.bytes > LARGE_OBJECT).length * 2, resumeSeconds: resumeS, resumeUploaded: again.mirrors.reduce((n, m) => n + m.uploaded, 0) },
      first: { ...first!, fraction: first!.fetchedBytes / datasetBytes },
      later, laterReadyShare: laterNeeded ? laterReady / laterNeeded : 0,
      restart: { fetchedBytes: re.stats.fetchedBytes, cacheHits: re.stats.cacheHits, needed: reNeeded },
      validator: { miners: 3, fetchedBytes: val.stats.fetchedBytes, fraction: val.stats.fetchedBytes / datasetBytes },
      tamper: { events: fresh.events, verified },
      rssMb, cacheBytes: ds.cache.stats.bytes,
    };
  } finally {
    await stopRgw(rgwDir).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }
}

/** Global chunk ids of a sequence (for counting; the dataset does the same internally). */
function chunkIds(index: { chunkTokens: number; train: { shards: { tokens: number }[] } }, offset: number, seq: number): number[] {
  const out: number[] = [];
  let start = 0, base = 0;
  for (const s of index.train.shards) {
    const lo = Math.max(offset, start), hi = Math.min(offset + seq + 1, start + s.tokens);
    if (lo < hi) for (let c = Math.floor((lo - start) / index.chunkTokens); c <= Math.floor((hi - 1 - start) / index.chunkTokens); c++) out.push(base + c);
    start += s.tokens;
    base += Math.ceil(s.tokens / index.chunkTokens);
  }
  return out;
}

export function dataBenchMarkdown(r: DataBenchResult, o: Omit<DataBenchOptions, 'log'>, machine: string): string {
  const mb = (b: number): string => (b / 1e6).toFixed(2);
  const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
  const lines = [
    `## ${machine} (shared machine, under load from parallel work)`,
    '',
    `Dataset: ${mb(r.datasetBytes)} MB (${r.shardBytes.length} train shards of ${r.shardBytes.map(mb).join(', ')} MB + a validation shard), chunks of ${o.chunkTokens} tokens, ` +
      `published to two mirrors (buckets of two RGW users) on one private Ceph RGW (memstore). A miner's window: H = ${o.innerSteps} × batch ${o.batch} × ${o.seq + 1} tokens; cache bound ${o.cacheMb} MB.`,
    '',
    '| measure | value |',
    '| --- | --- |',
    `| publish, 2 mirrors (${r.publish.multipartShards} multipart uploads) | ${r.publish.seconds.toFixed(1)} s, ${r.publish.mbPerS.toFixed(1)} MB/s |`,
    `| publish again (resume: nothing to upload; the local folder is hashed again) | ${r.publish.resumeSeconds.toFixed(2)} s, ${r.publish.resumeUploaded} objects uploaded |`,
    `| new miner, first window: bytes fetched ÷ dataset size | ${mb(r.first.fetchedBytes)} MB ÷ ${mb(r.datasetBytes)} MB = **${pct(r.first.fraction)}** (${r.first.fetchedChunks} chunks for ${r.first.needed} needed, ${r.first.ms.toFixed(0)} ms) |`,
    `| windows 2–${o.windows}: chunks already fetched when training starts (prefetch of the next window) | **${pct(r.laterReadyShare)}** |`,
    `| restart, same cache folder, windows 1–${o.windows} again | ${mb(r.restart.fetchedBytes)} MB fetched; ${r.restart.cacheHits} chunks read from the disk cache, the other ${r.restart.needed - r.restart.cacheHits} of ${r.restart.needed} (per-window sum) already in memory from an earlier window |`,
    `| validator, evaluation data of ${r.validator.miners} miners (one window) | ${mb(r.validator.fetchedBytes)} MB = ${pct(r.validator.fraction)} of the dataset |`,
    `| shard altered on mirror a, fresh miner | ${r.tamper.events.length} bad read(s) logged, tokens from mirror b verified: ${r.tamper.verified} |`,
    `| resident memory added by the fetched chunks (RSS) | ${r.rssMb.toFixed(1)} MB; disk cache ${mb(r.cacheBytes)} MB |`,
    '',
    'Per window (on-demand part only; each window\'s next is prefetched right after it):',
    '',
    '| window | chunks needed | ready before | disk-cache hits | fetched chunks | fetched MB | ms | prefetch of the next: ms, chunks fetched, chunks reused from earlier windows |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...[{ ...r.first }, ...r.later].map((w) => `| ${w.window} | ${w.needed} | ${w.readyBefore} | ${w.cacheHits} | ${w.fetchedChunks} | ${mb(w.fetchedBytes)} | ${w.ms.toFixed(0)} | ${w.prefetchMs.toFixed(0)}, ${w.prefetchFetched}, ${w.prefetchReused} |`),
    '',
    `Tamper event: \`${r.tamper.events[0] ?? '(none)'}\``,
    '',
  ];
  return lines.join('\n');
}

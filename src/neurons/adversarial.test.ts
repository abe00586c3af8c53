// The Gauntlet against adversarial miners, in-process: a devnet chain (200 ms blocks), filesystem
// buckets, the tiny model, one validator, 3 honest miners and one miner of each adversarial behavior
// (copy, noise, scaled, signflip, lazy, late, malformed, stale). Within WINDOWS windows every
// adversary's final score is below every honest miner's and its weight is 0 (on chain too); every
// receipt recomputes exactly; honest fingerprints stay identical. The copier registers before the
// honest miners (a lower uid), so it is caught by the order of observation, not by the uid tie-break.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { entropyToMnemonic } from '@polkadot/util-crypto/mnemonic/bip39';
import { DevnetChainClient, startDevnetChainServer } from '../chain/index.js';
import { CODEC_DEFAULTS } from '../compress/index.js';
import { defaultCorpus, prepareData } from '../data/index.js';
import { explainUid, parseReceipt, verifyReceipt, type ScoreReceipt } from '../gauntlet/index.js';
import { getPreset } from '../model/index.js';
import { keys, windowOf } from '../protocol/index.js';
import { fsNodeDescriptors, FsStore } from '../storage/index.js';
import { openTrainData } from '../train/batches.js';
import { createWallet, loadWallet, signer } from '../wallet/index.js';
import { runMiner, runValidator, type NodeConfig, type NodeStatus, type RunConfig } from './index.js';

const BLOCKS_PER_WINDOW = 8;
const WINDOWS = 18;
const ADVERSARIES = ['copy', 'noise', 'scaled', 'signflip', 'lazy', 'late', 'malformed', 'stale'] as const;
/** Windows (counted from the first scored one) by which each adversary must be at weight 0 and below every honest miner for good. */
const CAUGHT_BY: Record<(typeof ADVERSARIES)[number], number> = { copy: 2, noise: 10, scaled: 2, signflip: 4, lazy: 12, late: 2, malformed: 2, stale: 10 };

const readLines = <T>(path: string): T[] => existsSync(path) ? readFileSync(path, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as T) : [];

test('Gauntlet: every adversary ends below every honest miner with weight 0; receipts recompute', { timeout: 120_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'tessera-adv-'));
  const logs: string[] = [];
  const log = (l: string): void => { logs.push(l); if (process.env.TESSERA_TEST_LOG) process.stderr.write(l + '\n'); };
  const server = await startDevnetChainServer({ dir: join(root, 'chain'), blockMs: 200, tempo: 4 });
  const abort = new AbortController();
  const guard = setTimeout(() => abort.abort(), 100_000);
  try {
    const text = defaultCorpus().join('\n\n').slice(0, 120_000);
    mkdirSync(join(root, 'corpus'));
    for (let i = 0; i < 6; i++) writeFileSync(join(root, 'corpus', `part${i}.txt`), text.slice(i * 20_000, (i + 1) * 20_000));
    const dataset = join(root, 'data');
    await prepareData({ inputs: [join(root, 'corpus')], outDir: dataset, vocabSize: 300, valFraction: 0.2 });
    const vocab = openTrainData(dataset).vocabSize;
    const run: RunConfig = {
      runId: 'adv-test', model: { ...getPreset('tiny'), vocabSize: vocab }, blocksPerWindow: BLOCKS_PER_WINDOW, deadlineS: 0.5,
      innerSteps: 8, batch: 4, seq: 32, innerLr: 3e-3, warmup: 2, alpha: 0.7, codec: { ...CODEC_DEFAULTS }, indexMode: '12bit',
      checkpointEvery: 4, weightsEvery: 1, maxPeers: 3, seed: 11,
    };
    // Deterministic keys and uids (registered in this order): the run replays the same data and seeds.
    const walletDir = join(root, 'wallets'), chain = new DevnetChainClient({ url: server.url });
    const names = ['v0', 'a-copy', 'h1', 'h2', 'h3', ...ADVERSARIES.filter((b) => b !== 'copy').map((b) => `a-${b}`)];
    const uidOf = new Map<string, number>();
    for (const name of names) {
      await createWallet(walletDir, name, { mnemonic: entropyToMnemonic(createHash('sha256').update(`tessera-adversarial-test:${name}`).digest().subarray(0, 16)) });
      uidOf.set(name, await chain.register(signer(await loadWallet(walletDir, name))));
    }
    const w0 = windowOf((await chain.head()).height, BLOCKS_PER_WINDOW);
    const cfgOf = (name: string, behavior?: string): NodeConfig => {
      const d = fsNodeDescriptors(join(root, 'buckets', name));
      return {
        role: name === 'v0' ? 'validator' : 'miner', name, dataDir: join(root, 'nodes', name), chainUrl: server.url, walletDir, hotkey: name, store: d.write,
        publicRead: d.read, dataset, run, stopAfterWindow: w0 + WINDOWS, ...(behavior ? { behavior } : {}),
      };
    };
    const v = cfgOf('v0'), honest = ['h1', 'h2', 'h3'].map((n) => cfgOf(n)), adv = ADVERSARIES.map((b) => cfgOf(`a-${b}`, b));
    const opts = { signal: abort.signal, log };
    await Promise.all([runValidator(v, opts), ...[...honest, ...adv].map((c) => runMiner(c, opts))]);
    assert.equal(abort.signal.aborted, false, 'finished before the guard timeout');

    // Receipts: one per scored window in the validator's bucket, each recomputing to the same numbers.
    const bucket = new FsStore(join(root, 'buckets', 'v0'));
    const receipts: ScoreReceipt[] = [];
    for (const k of await bucket.list(keys.receipt(run.runId, 0).replace(/0+\.json$/, ''))) {
      const r = parseReceipt((await bucket.get(k))!);
      assert.ok(r.ok, k);
      assert.deepEqual(verifyReceipt(r.receipt), { ok: true }, `receipt ${k} recomputes`);
      receipts.push(r.receipt);
    }
    receipts.sort((a, b) => a.window - b.window);
    assert.ok(receipts.length >= WINDOWS - 2, `scored windows: ${receipts.length}`);

    // At the end every adversary is below every honest miner with weight 0; its weight is 0 for good
    // from its CAUGHT_BY window on (windows counted from the first scored one).
    const hUids = honest.map((c) => uidOf.get(c.name)!);
    const miner = (r: ScoreReceipt, uid: number) => r.result.miners.find((m) => m.uid === uid);
    const weight = (r: ScoreReceipt, uid: number): number => { const i = r.result.weights.uids.indexOf(uid); return i < 0 ? 0 : r.result.weights.weights[i]!; };
    const below = (r: ScoreReceipt, uid: number): boolean => (miner(r, uid)?.final ?? 0) < Math.min(...hUids.map((h) => miner(r, h)?.final ?? 0));
    const since = (ok: (r: ScoreReceipt) => boolean): number => { let i = receipts.length; while (i > 0 && ok(receipts[i - 1]!)) i--; return i + 1; };
    const last = receipts[receipts.length - 1]!;
    const summary: string[] = [];
    for (const b of ADVERSARIES) {
      const uid = uidOf.get(`a-${b}`)!;
      const zeroFrom = since((r) => weight(r, uid) === 0), belowFrom = since((r) => below(r, uid));
      const kinds = [...new Set(receipts.flatMap((r) => [...(miner(r, uid)?.penalties.map((p) => p.kind) ?? []), ...(miner(r, uid)?.gate ? ['own-data'] : [])]))];
      summary.push(`${b} (uid ${uid}): weight 0 from window ${zeroFrom}, below every honest miner from window ${belowFrom} (of ${receipts.length}); ${kinds.join(', ') || 'no penalties'}`);
      assert.ok(weight(last, uid) === 0 && below(last, uid), `${b} is not caught at the end:\n${explainUid(receipts, uid)}`);
      assert.ok(zeroFrom <= CAUGHT_BY[b], `${b} has weight 0 only from window ${zeroFrom} (bound ${CAUGHT_BY[b]}):\n${explainUid(receipts, uid)}`);
    }
    log(`adversaries:\n  ${summary.join('\n  ')}`);
    for (const h of hUids) assert.ok(weight(last, h) > 0 && miner(last, h)!.final > 0, `honest uid ${h}:\n${explainUid(receipts, h)}`);
    const penalties = (b: string): string[] => receipts.flatMap((r) => miner(r, uidOf.get(`a-${b}`)!)?.penalties.map((p) => p.kind) ?? []);
    assert.ok(penalties('copy').includes('copied'), 'the copier is caught as a copy');
    assert.ok(!hUids.some((h) => receipts.some((r) => miner(r, h)?.penalties.some((p) => p.kind === 'copied'))), 'no honest miner is blamed for a copy');
    assert.ok(penalties('stale').includes('copied'), 'the stale miner re-sends its own upload');
    for (const b of ['scaled', 'malformed']) assert.ok(penalties(b).includes('invalid'), `${b} is invalid`);
    assert.ok(penalties('late').some((k) => k === 'late' || k === 'missing'), 'the late upload is late (or not seen at all)');
    assert.ok(penalties('signflip').includes('negative'), 'the sign-flipper is repeatedly negative');
    assert.match(explainUid(receipts, uidOf.get('a-copy')!), /PENALTY copied|penalties \(/);

    // On chain: the validator's weights name honest miners only.
    const m = await chain.metagraph();
    const row = m.Weights[uidOf.get('v0')!]!.filter(([, w]) => w > 0).map(([u]) => u).sort((a, b) => a - b);
    assert.deepEqual(row, [...hUids].sort((a, b) => a - b), 'weights on chain');
    const sv = JSON.parse(readFileSync(join(v.dataDir, 'status.json'), 'utf8')) as NodeStatus;
    assert.deepEqual(Object.keys(sv.weights ?? {}).map(Number).sort((a, b) => a - b), [...hUids].sort((a, b) => a - b));

    // Honest nodes (and the adversaries, who sync honestly) hold the same model after every window.
    const fps = [v, ...honest, ...adv].map((c) => new Map(readLines<{ window: number; fingerprint: string }>(join(c.dataDir, 'fingerprints.jsonl')).map((e) => [e.window, e.fingerprint])));
    const common = [...fps[0]!.keys()].filter((w) => fps.slice(1, 4).every((f) => f.has(w)));
    assert.ok(common.length >= WINDOWS - 3, `windows applied by the validator and all honest miners: ${common.join(' ')}`);
    for (const f of fps) for (const [w, fp] of f) assert.equal(fp, fps[0]!.get(w) ?? fp, `window ${w} fingerprint`);
  } catch (e) {
    process.stderr.write(logs.join('\n') + '\n');
    throw e;
  } finally {
    clearTimeout(guard);
    abort.abort();
    await server.close();
    if (process.env.TESSERA_TEST_KEEP) process.stderr.write(`kept ${root}\n`);
    else rmSync(root, { recursive: true, force: true });
  }
});

// Hostile peers against a running network (issue "Hostile peers cannot crash, stall or poison anyone"),
// in-process (src/bench/adversarial.ts scenario): two honest validators, honest miners, and one scenario
// run shared by the findings it reproduces:
//   finding 5  a miner replaces each payload a window after every node applied it (rewriterHooks):
//              a miner joining later replays the records from the validators' applied copies — no
//              mismatch, no fall-back loop, and it agrees with everyone.
//   finding 6  a miner parks junk at its key, then overwrites it with another miner's payload re-signed
//              as its own (parkThenCopyHooks): the victims are never flagged `copied`; the parker is.
//   finding 7  a newcomer takes more faucet stake than any one validator before the run starts, never
//              starts it, and publishes a zeroed checkpoint beside each of the leader's: the next validator
//              by stake starts the run after its grace windows, and the joining miner loads the
//              checkpoint the validators' stake vouches for, not the hijacker's, and agrees with everyone.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fingerprintsAgree, minerOf, runAdversarialScenario, type ScenarioContext, type ScenarioResult } from '../src/bench/adversarial.js';
import { createLlama } from '../src/model/index.js';
import { encodeCheckpoint, encodeRecord, keys, parseRecord, sha256Hex, runHash } from '../src/protocol/index.js';
import { fingerprint } from '../src/compress/index.js';
import { fsNodeDescriptors, serializeDescriptor } from '../src/storage/index.js';
import { createWallet, loadWallet, signer } from '../src/wallet/index.js';
import { parkThenCopyHooks, rewriterHooks } from '../src/scenario/index.js';

const WINDOWS = 14, JOIN = 9;
const logs: string[] = [];
let r: ScenarioResult;
let hijack = { uid: -1, window: -1, fingerprint: '' };

const sleep = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));

/** Finding 7's hijacker: registers, takes 1.2× the top validator's stake, serves a zeroed checkpoint as its newest. */
async function hijacker(ctx: ScenarioContext): Promise<void> {
  await createWallet(ctx.walletDir, 'x-hijack', { mnemonic: 'legal winner thank year wave sausage worth useful legal winner thank yellow' });
  const key = signer(await loadWallet(ctx.walletDir, 'x-hijack'));
  const uid = await ctx.chain.register(key);
  await ctx.chain.addStake(key, 1200);
  const bucket = join(ctx.root, 'buckets', 'x-hijack'), d = fsNodeDescriptors(bucket);
  await ctx.chain.commit(key, serializeDescriptor(d.read));
  // Whenever the honest leader publishes a checkpoint, publish a zeroed one for the same window as the newest.
  const v0 = join(ctx.root, 'buckets', 'v0'), ptrKey = keys.latestCheckpoint(ctx.run.runId);
  const put = (k: string, b: Uint8Array): void => { mkdirSync(dirname(join(bucket, k)), { recursive: true }); writeFileSync(join(bucket, k), b); };
  const layout = createLlama(ctx.run.model).layout, zeros = new Float32Array(layout.total), hash = runHash(ctx.run);
  while (!ctx.signal.aborted) {
    try {
      const ptr = parseRecord(readFileSync(join(v0, ptrKey)), 'checkpoint');
      if (ptr.ok && ptr.value.window > hijack.window) {
        const w = ptr.value.window, bytes = encodeCheckpoint(layout, zeros, w, hash), ck = keys.checkpoint(ctx.run.runId, w);
        put(keys.startWindow(ctx.run.runId), readFileSync(join(v0, keys.startWindow(ctx.run.runId))));
        put(ck, bytes);
        put(ptrKey, encodeRecord({ kind: 'checkpoint', window: w, key: ck, sha256: sha256Hex(bytes), fingerprint: fingerprint(zeros) }));
        hijack = { uid, window: w, fingerprint: fingerprint(zeros) };
      }
    } catch { /* not written yet */ }
    await sleep(ctx.blockMs);
  }
}

before(async () => {
  r = await runAdversarialScenario({
    adversaries: [], honest: 5, windows: WINDOWS, guardMs: 110_000,
    validators: [{ name: 'v0', stake: 1000 }, { name: 'v1', stake: 500 }],
    honestHooks: { h2: rewriterHooks(1), h5: parkThenCopyHooks() },
    honestJoin: [0, 0, 0, JOIN, 0],
    during: hijacker,
    log: (l) => { logs.push(l); if (process.env.TESSERA_TEST_LOG) process.stderr.write(l + '\n'); },
  });
}, { timeout: 130_000 });

after(() => { if (r) rmSync(r.root, { recursive: true, force: true }); });

const linesOf = (name: string): string[] => logs.filter((l) => l.startsWith(`[${name}] `));
const honestNames = ['v0', 'v1', 'h1', 'h2', 'h3', 'h4'];

test('finding 5: a miner that replaces its applied payloads cannot break a later node\'s replay', () => {
  assert.equal(r.aborted, false, 'finished before the guard timeout');
  assert.ok(linesOf('h2').some((l) => /\(rewriter\) replaced its payload/.test(l)), 'the rewriter rewrote');
  const h4 = linesOf('h4');
  assert.ok(h4.some((l) => /applied copy/.test(l)), `the joiner took a rewritten payload from an applied copy:\n${h4.join('\n')}`);
  assert.equal(h4.filter((l) => /SYNC MISMATCH|SYNC FAILED/.test(l)).length, 0, h4.filter((l) => /SYNC/.test(l)).join('\n'));
  const agree = fingerprintsAgree(honestNames.map((n) => r.fingerprints[n] ?? new Map<number, string>()));
  assert.ok(agree.agree, `fingerprints disagree in windows ${agree.mismatches.join(' ')}`);
  const joined = [...(r.fingerprints.h4 ?? new Map<number, string>()).keys()];
  assert.ok(joined.length >= WINDOWS - JOIN - 2, `the joiner applied ${joined.length} windows`);
});

test('finding 6: parking junk and overwriting it with a re-signed copy flags the parker, never its victim', () => {
  const receipts = r.receipts.v0!, uid = Object.fromEntries(r.honest.map((h) => [h.name, h.uid]));
  assert.ok(receipts.length >= WINDOWS - 2, `${receipts.length} receipts`);
  let parkerCaught = 0;
  for (const rc of receipts) {
    for (const n of ['h1', 'h2', 'h3', 'h4']) {
      const m = minerOf(rc, uid[n]!);
      assert.ok(!m?.penalties.some((p) => p.kind === 'copied'), `window ${rc.window}: victim ${n} flagged copied: ${JSON.stringify(m?.penalties)}`);
    }
    const p = minerOf(rc, uid.h5!);
    if (p?.penalties.some((q) => q.kind === 'copied' || q.kind === 'invalid')) parkerCaught++;
  }
  assert.ok(parkerCaught >= receipts.length - 3, `the parker was caught in ${parkerCaught} of ${receipts.length} windows`);
});

test('finding 7: a newcomer with the most stake cannot make joiners load its zeroed checkpoint', () => {
  assert.ok(hijack.uid >= 0 && hijack.window > 0, 'the hijacker published its checkpoint');
  assert.ok(linesOf('v0').some((l) => /no validator with more stake started run .*: starting it/.test(l)), 'the hijacker that never starts the run did not hold it up');
  const h4 = linesOf('h4');
  const loaded = h4.filter((l) => /loaded checkpoint of window/.test(l));
  assert.ok(loaded.length > 0, `the joiner loaded a checkpoint:\n${h4.join('\n')}`);
  assert.ok(!loaded.some((l) => l.includes(hijack.fingerprint.slice(0, 12))), `the joiner loaded the hijacker's zeroed model: ${loaded.join('\n')}`);
  const fp = r.fingerprints.h4 ?? new Map<number, string>(), ref = r.fingerprints.v0 ?? new Map<number, string>();
  const both = [...fp.keys()].filter((w) => ref.has(w));
  assert.ok(both.length > 0 && both.every((w) => fp.get(w) === ref.get(w)), 'the joiner agrees with the honest validators');
});

// Fair scoring of honest miners that miss windows (in-process scenario: a validator and 3 honest miners,
// one of which sends nothing in every other window, as a miner that runs out of time would). Missing a
// window is punished by its own penalty only: no honest miner is ever gated by the own-data indicator,
// the flaky one keeps a positive final score and is aggregated in the windows it uploads, and every
// window of the run has a non-empty aggregate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fingerprintsAgree, finalOf, minerOf, runAdversarialScenario } from '../bench/adversarial.js';
import { keys, parseRecord } from '../protocol/index.js';
import { flakyHooks } from './index.js';

test('an honest miner that misses every other window is never gated by the indicator and keeps contributing', { timeout: 90_000 }, async () => {
  const logs: string[] = [];
  const log = (l: string): void => { logs.push(l); if (process.env.TESSERA_TEST_LOG) process.stderr.write(l + '\n'); };
  const r = await runAdversarialScenario({ adversaries: [], honest: 3, windows: 16, guardMs: 80_000, log, honestHooks: { h2: flakyHooks(2, 1) }, keep: true });
  try {
    assert.equal(r.aborted, false, 'finished before the guard timeout');
    const receipts = r.receipts.v0!;
    assert.ok(receipts.length >= 14, `${receipts.length} receipts`);
    const uid = Object.fromEntries(r.honest.map((h) => [h.name, h.uid]));
    for (const rc of receipts) {
      for (const h of r.honest) {
        const m = minerOf(rc, h.uid);
        assert.equal(m?.gate ?? null, null, `window ${rc.window}: ${h.name} gated: ${m?.gate}`);
        if (m?.penalties.length) assert.deepEqual(m.penalties.map((p) => p.kind), ['missing'], `window ${rc.window}: ${h.name} ${JSON.stringify(m.penalties)}`);
      }
    }
    const last = receipts.at(-1)!;
    assert.ok(finalOf(last, uid.h2!) > 0, `flaky miner's final score ${finalOf(last, uid.h2!)}`);
    // Every window after the first has an aggregate; the flaky miner is in those of the windows it uploaded.
    const bucket = join(r.root, 'buckets', 'v0');
    let withFlaky = 0, uploaded = 0;
    for (const rc of receipts.slice(1)) {
      const rec = parseRecord(readFileSync(join(bucket, keys.aggregate(r.run.runId, rc.window))), 'aggregate');
      assert.ok(rec.ok && rec.value.uids.length > 0, `window ${rc.window}: empty aggregate`);
      if (minerOf(rc, uid.h2!)?.status === 'ok') { uploaded++; if (rec.value.uids.includes(uid.h2!)) withFlaky++; }
    }
    assert.ok(uploaded >= 5 && withFlaky >= uploaded - 1, `flaky miner aggregated in ${withFlaky} of the ${uploaded} windows it uploaded`);
    const ag = fingerprintsAgree([...r.validators, ...r.honest].map((n) => r.fingerprints[n.name]!));
    assert.ok(ag.agree, JSON.stringify(ag));
  } catch (e) {
    process.stderr.write(logs.slice(-200).join('\n') + '\n');
    throw e;
  } finally {
    rmSync(r.root, { recursive: true, force: true });
  }
});

// Two validators with different stakes on one network, in-process (the scenario of
// src/bench/adversarial.ts without adversaries): the higher stake leads (its anchored peer list chooses
// every window's aggregate); the other computes the same aggregates but measures and scores every miner itself
// (its own evaluation seeds, its own receipts in its own bucket) and sets its own weights. Both must
// rank the honest miners alike, and Yuma must pay both validators dividends.
// The honest miners join at different windows (h1 at the start, h2 two windows later, h3 four): equally
// good miners started together have no true order (their scores differ by noise a second validator,
// drawing its own evaluation data, does not reproduce), while tenure is a real difference — more
// evaluations, a settled rating, a higher indicator average — that both validators must see alike.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fingerprintsAgree, finalOf, runAdversarialScenario, spearman, weightOf } from '../bench/adversarial.js';

test('two validators with different stakes, scoring independently, agree on the order of honest miners (Spearman ≥ 0.8) and Yuma gives both dividends', { timeout: 60_000 }, async () => {
  const logs: string[] = [];
  const log = (l: string): void => { logs.push(l); if (process.env.TESSERA_TEST_LOG) process.stderr.write(l + '\n'); };
  try {
    const r = await runAdversarialScenario({
      adversaries: [], honest: 3, honestJoin: [0, 2, 4], windows: 9, guardMs: 50_000, log,
      validators: [{ name: 'v0', stake: 1000 }, { name: 'v1', stake: 400 }],
    });
    assert.equal(r.aborted, false, 'finished before the guard timeout');
    const [v0, v1] = r.validators as [typeof r.validators[0], typeof r.validators[0]];
    const hUids = r.honest.map((h) => h.uid);
    assert.ok(logs.some((l) => l.startsWith('[v1] joined run')), 'the lower stake joins the run the higher one started');
    assert.ok(logs.some((l) => l.startsWith('[v1] window ') && l.includes(`(peer list of uid ${v0.uid})`)), 'the higher stake leads: its peer list chooses the aggregates v1 applies');
    for (const v of [v0, v1]) {
      assert.ok((r.receipts[v.name] ?? []).length >= 5, `${v.name} scored ${(r.receipts[v.name] ?? []).length} windows`);
      for (const x of r.verification[v.name]!) assert.ok(x.ok, `${v.name} receipt of window ${x.window} recomputes: ${x.mismatch ?? ''}`);
      assert.ok(r.receipts[v.name]!.every((rc) => rc.validator.uid === v.uid), `${v.name}'s bucket holds its own receipts`);
    }
    // Independent scoring: different evaluation seeds, hence different measurements of the same uploads.
    const seeds = (name: string): string[] => r.receipts[name]!.flatMap((rc) => rc.inputs.miners.map((m) => m.measured?.plan.seed ?? ''));
    assert.ok(!seeds('v0').some((s) => s && seeds('v1').includes(s)), 'the follower draws its own evaluation data');
    // The order of the honest miners: final scores in the last window both validators scored.
    const W = Math.max(...r.receipts.v0!.map((rc) => rc.window).filter((w) => r.receipts.v1!.some((rc) => rc.window === w)));
    const at = (name: string) => r.receipts[name]!.find((rc) => rc.window === W)!;
    const a = hUids.map((u) => finalOf(at('v0'), u)), b = hUids.map((u) => finalOf(at('v1'), u)), rho = spearman(a, b);
    log(`window ${W}, honest uids ${hUids.join(' ')}: finals v0 ${a.map((x) => x.toFixed(3)).join(' ')} | v1 ${b.map((x) => x.toFixed(3)).join(' ')} | Spearman ${rho.toFixed(3)}; ` +
      `weights v0 ${hUids.map((u) => weightOf(at('v0'), u).toFixed(3)).join(' ')} | v1 ${hUids.map((u) => weightOf(at('v1'), u).toFixed(3)).join(' ')}`);
    assert.ok(rho >= 0.8, `Spearman ${rho} < 0.8`);
    // Each validator set its own weights on chain; Yuma pays both dividends.
    for (const v of [v0, v1]) {
      const row = r.metagraph.Weights[v.uid]!.filter(([, w]) => w > 0).map(([u]) => u);
      assert.ok(row.length > 0 && row.every((u) => hUids.includes(u)), `${v.name} weights on chain: ${JSON.stringify(r.metagraph.Weights[v.uid])}`);
      assert.ok(r.metagraph.Dividends[v.uid]! > 0, `${v.name} dividends in the last epoch: ${r.metagraph.Dividends[v.uid]}`);
      assert.ok(r.totalEmission[v.uid]! > 0, `${v.name} total emission`);
    }
    log(`dividends v0 ${r.metagraph.Dividends[v0.uid]} v1 ${r.metagraph.Dividends[v1.uid]}; total emission v0 ${r.totalEmission[v0.uid]} v1 ${r.totalEmission[v1.uid]}`);
    // The follower replays the leader's aggregates: one model.
    const ag = fingerprintsAgree([v0, v1, ...r.honest].map((n) => r.fingerprints[n.name]!));
    assert.ok(ag.agree && ag.windows >= 5, `fingerprints: ${JSON.stringify(ag)}`);
  } catch (e) {
    process.stderr.write(logs.join('\n') + '\n');
    throw e;
  }
});

// The Gauntlet's rules window by window, each on the smallest scenario that shows it:
//   - a missing or late window costs its own penalty only, never the own-data indicator (no gate for
//     an honest miner that misses windows, however many and however interleaved);
//   - weights and the next peer list from the first scored window (a fresh miner is not "recently
//     penalized"), a real penalty still bars them for penaltyMemory windows;
//   - peers and reserves are eligible miners only (evaluated, ungated, unbarred, final > 0; reserves past the warm-up);
//   - the result has no aggregate; evaluation plans record the declared inner steps and receipts keep them;
//   - penalty reasons print chain time as ISO-8601, never raw epoch milliseconds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trainingOffsets } from '../protocol/index.js';
import { makeRng } from '../util/rng.js';
import {
  depthGate, emptyState, encodeReceipt, lossScore, evalPlan, evalSeed, explainUid, GAUNTLET_DEFAULTS, originOf, ownDepth, parseReceipt, qualityGate, referenceMedian, scoreWindow, scoreWithReceipt, verifyReceipt,
  type GauntletParams, type GauntletState, type MinerInput, type MinerResult, type ScoreReceipt, type WindowInputs, type WindowResult,
} from './index.js';

/** A block hash standing in for the evaluation beacon (chaintime.ts evalBeacon). */
const BEACON = '0x' + 'ab'.repeat(32);

const V = { uid: 0, hotkey: 'hk-validator' };
const P: GauntletParams = { ...GAUNTLET_DEFAULTS };

const sketch = (seed: string): number[] => {
  const rng = makeRng(seed), s = new Set<number>();
  while (s.size < 64) s.add(rng.nextU32());
  return [...s].sort((a, b) => a - b);
};

/** An evaluated upload: gain g on random data, g + ownExtra on the miner's own (ownExtra > 0: indicator +1). */
function ok(W: number, uid: number, g = 0.01 + uid / 1000, ownExtra = 0.005): MinerInput {
  return {
    uid, status: 'ok', landedAt: 1000 + uid, seen: 1, norm: 1 + uid / 100, sketch: sketch(`${uid}:${W}`),
    measured: {
      plan: { seed: evalSeed(W, uid, V.hotkey, BEACON), steps: 4, own: [uid, W], random: [W, uid] }, clipScale: 1, behind: 0,
      losses: { own: { before: 5, after: 5 * (1 - g - ownExtra) }, random: { before: 4, after: 4 * (1 - g) } },
    },
  };
}
const missing = (uid: number): MinerInput => ({ uid, status: 'missing', landedAt: null, seen: null });
const late = (uid: number, detail?: string): MinerInput => ({ uid, status: 'late', landedAt: null, seen: null, ...(detail ? { detail } : {}) });
/** An ok upload the validator could not afford to evaluate. */
const unmeasured = (W: number, uid: number): MinerInput => { const m = ok(W, uid); delete m.measured; return m; };

class Run {
  state: GauntletState = emptyState();
  results: WindowResult[] = [];
  constructor(readonly p: GauntletParams = P, readonly maxPeers = 3, readonly reserves = 2) {}
  window(W: number, miners: MinerInput[], normReference?: number[]): WindowResult {
    const r = scoreWindow(this.state, { window: W, validator: V, maxPeers: this.maxPeers, reserves: this.reserves, miners, ...(normReference ? { normReference } : {}) }, this.p);
    this.state = r.state;
    this.results.push(r.result);
    return r.result;
  }
}
const of = (r: WindowResult, uid: number): MinerResult => r.miners.find((m) => m.uid === uid)!;

test('missing/late windows leave the indicator average alone: an honest miner that misses many windows is never gated', () => {
  const run = new Run();
  let W = 0;
  for (; W < 30; W++) run.window(W, [ok(W, 1), ok(W, 2)]);
  const ma = run.state.miners[1]!.ma, evals = run.state.miners[1]!.evals;
  // Then long runs of missing and late windows, interleaved, between single evaluations.
  const pattern = ['missing', 'late', 'missing', 'missing', 'late', 'late', 'missing', 'ok', 'late', 'missing', 'late', 'late', 'late', 'missing', 'missing', 'ok'];
  let evaluated = 0;
  for (let round = 0; round < 3; round++) {
    for (const kind of pattern) {
      const mine = kind === 'ok' ? ok(W, 1) : kind === 'late' ? late(1) : missing(1);
      const r = run.window(W, [mine, ok(W, 2)]), m = of(r, 1);
      if (kind === 'ok') {
        evaluated++;
        assert.equal(m.gate, null, `window ${W}: gated after missed windows: ${m.gate}`);
        assert.ok(m.final > 0, `window ${W}: final ${m.final}`);
        assert.deepEqual(m.penalties, []);
      } else {
        assert.deepEqual(m.penalties.map((q) => q.kind), [kind], `window ${W}`);
        assert.equal(m.ma, run.state.miners[1]!.ma);
        if (round === 0 && evaluated === 0) assert.equal(m.ma, ma, `window ${W}: a ${kind} window changed ma`);
        assert.equal(m.evals, evals + evaluated, `window ${W}: a ${kind} window changed the evaluation count`);
      }
      W++;
    }
  }
  assert.equal(run.state.miners[1]!.penalties.missing + run.state.miners[1]!.penalties.late, 3 * (pattern.length - 2), 'penalties still counted');
});

test('40 windows, an honest miner missing every other one (and another late every other one): never gated', () => {
  const run = new Run();
  for (let W = 0; W < 40; W++) {
    const r = run.window(W, [W % 2 ? missing(1) : ok(W, 1), W % 2 ? ok(W, 2) : late(2), ok(W, 3)]);
    for (const u of [1, 2, 3]) {
      const m = of(r, u);
      assert.equal(m.gate, null, `window ${W} uid ${u}: ${m.gate}`);
      if (m.evaluated) assert.ok(m.final > 0, `window ${W} uid ${u}: final ${m.final}`);
    }
  }
  assert.ok(run.state.miners[1]!.evals >= GAUNTLET_DEFAULTS.indicatorWarmup, 'past the warm-up');
});

test('a missing/late window still slashes the final score and takes the last place; invalid and copied still slash ma', () => {
  const run = new Run();
  for (let W = 0; W < 10; W++) run.window(W, [ok(W, 1), ok(W, 2), ok(W, 3)]);
  const before = structuredClone(run.state.miners);
  const r = run.window(10, [late(1), missing(2), { uid: 3, status: 'invalid', detail: 'hash_mismatch', landedAt: 900, seen: 0 }, ok(10, 4)]);
  assert.equal(of(r, 1).final, before[1]!.final * P.missingSlash);
  assert.equal(of(r, 2).final, before[2]!.final * P.missingSlash);
  assert.equal(of(r, 1).ma, before[1]!.ma);
  assert.equal(of(r, 2).ma, before[2]!.ma);
  assert.equal(of(r, 3).ma, before[3]!.ma * P.offenceSlash);
  assert.equal(of(r, 3).final, 0);
  assert.deepEqual([1, 2, 3, 4].map((u) => of(r, u).rank), [2, 2, 2, 1], 'missing, late and invalid: last in the match');
  assert.equal(run.state.miners[1]!.lastPenalty, -1, 'late and missing are not offences');
  assert.equal(run.state.miners[3]!.lastPenalty, 10);
  assert.deepEqual([r.weights.uids, r.peers], [[4], [1, 2, 4]], 'late and missing earn no weight in their window but keep their peer slot; the invalid one loses both');
  // A copy (same index set as an earlier upload of this window) slashes ma too.
  const a = ok(11, 1), c = { ...ok(11, 3), sketch: a.sketch, seen: 2 };
  const ma3 = run.state.miners[3]!.ma;
  const r2 = run.window(11, [a, ok(11, 2), c]);
  assert.deepEqual(of(r2, 3).penalties.map((q) => q.kind), ['copied']);
  assert.equal(of(r2, 3).ma, ma3 * P.offenceSlash);
});

test('weights and peers from the first scored window: a fresh miner is not recently penalized', () => {
  for (const penaltyMemory of [2, 5]) {
    const run = new Run({ ...P, penaltyMemory });
    for (let W = 0; W < 3; W++) {
      const r = run.window(W, [ok(W, 1), ok(W, 2), ok(W, 3)]);
      assert.ok([1, 2, 3].every((u) => of(r, u).final > 0 && of(r, u).penalties.length === 0));
      assert.deepEqual(r.weights.uids, [1, 2, 3], `penaltyMemory ${penaltyMemory}, window ${W}: weights`);
      assert.ok(Math.abs(r.weights.weights.reduce((x, y) => x + y, 0) - 1) < 1e-12);
      assert.deepEqual(r.peers, [1, 2, 3], `penaltyMemory ${penaltyMemory}, window ${W}: peers`);
    }
  }
  // A newcomer joining later gets weight in its first evaluated window too.
  const run = new Run();
  for (let W = 0; W < 4; W++) run.window(W, [ok(W, 1), ok(W, 2)]);
  assert.deepEqual(run.window(4, [ok(4, 1), ok(4, 2), ok(4, 7)]).weights.uids, [1, 2, 7]);
});

test('a real penalty bars weight and peer selection for penaltyMemory windows, then no longer', () => {
  const run = new Run({ ...P, penaltyMemory: 2 });
  run.window(0, [ok(0, 1), ok(0, 2), ok(0, 3)]);
  const r1 = run.window(1, [ok(1, 1), { uid: 2, status: 'invalid', detail: 'hash_mismatch', landedAt: 900, seen: 0 }, ok(1, 3)]);
  assert.equal(of(r1, 2).final, 0, 'an invalid upload zeroes the final score');
  assert.deepEqual([r1.weights.uids, r1.peers, r1.reserves], [[1, 3], [1, 3], []], 'barred in its window');
  const r2 = run.window(2, [ok(2, 1), ok(2, 2), ok(2, 3)]);
  assert.deepEqual([r2.weights.uids, r2.peers], [[1, 3], [1, 3]], 'and the next penaltyMemory − 1');
  const r3 = run.window(3, [ok(3, 1), ok(3, 2), ok(3, 3)]);
  assert.deepEqual([r3.weights.uids, r3.peers], [[1, 2, 3], [1, 2, 3]], 'then back');
});

test('peers and reserves are eligible miners only, the same uids that get weight', () => {
  // Warm-up 2: uid 8's −1 indicators gate it in window 2; uid 5's single −1 (window 2, in warm-up) leaves final 0.
  const run = new Run({ ...P, indicatorWarmup: 2, qualityFloor: 0 }, 3, 3); // the quality gate has its own test
  run.window(0, [ok(0, 1), ok(0, 2), ok(0, 3), ok(0, 8, 0.02, -0.01), ok(0, 9), ok(0, 10)]);
  run.window(1, [ok(1, 1), ok(1, 2), ok(1, 3), ok(1, 8, 0.02, -0.01), ok(1, 9), ok(1, 10)]);
  const r = run.window(2, [
    ok(2, 1), ok(2, 2), ok(2, 3),
    unmeasured(2, 4), // never evaluated
    ok(2, 5, 0.02, -0.01), // evaluated, indicator −1 in warm-up: final 0
    late(6), // penalized newcomer
    { uid: 7, status: 'invalid', detail: 'hash_mismatch', landedAt: 900, seen: 0 },
    ok(2, 8, 0.02, -0.01), // gated
    late(9), // positive final from windows 0–1, late now: slashed, still eligible (late is not an offence)
    unmeasured(2, 10), // evaluated in windows 0–1, not this window: keeps its positive final
    ok(2, 11), // a newcomer with a positive final below the top three: not proven (1 evaluation < warm-up 2), so no reserve
  ]);
  assert.ok(of(r, 11).final > 0 && of(r, 11).evals === 1);
  assert.equal(of(r, 4).evaluated, false);
  assert.equal(of(r, 5).final, 0); assert.equal(of(r, 5).gate, null);
  assert.match(of(r, 8).gate ?? '', /own data beat random data too rarely/);
  assert.ok(of(r, 9).final > 0 && of(r, 10).final > 0);
  const eligible = [1, 2, 3, 9, 10];
  const listed = [...r.peers, ...r.reserves];
  assert.equal(r.peers.length, 3);
  assert.deepEqual([...listed].sort((a, b) => a - b), eligible, `peers ${r.peers} reserves ${r.reserves}`);
  for (const u of [4, 5, 6, 7, 8, 11]) assert.equal(listed.includes(u), false, `uid ${u} listed`);
  // Peers are the best three by final score; lists ascend.
  const byFinal = eligible.sort((a, b) => of(r, b).final - of(r, a).final || a - b);
  assert.deepEqual(r.weights.uids, byFinal.filter((u) => u !== 9).slice(0, 3).sort((a, b) => a - b), 'weighted: the best three but the late one (no weight in its window); reserves unpaid');
  assert.deepEqual(r.peers, byFinal.slice(0, 3).sort((a, b) => a - b));
  assert.deepEqual(r.reserves, byFinal.slice(3).sort((a, b) => a - b));
  // Nobody eligible: empty lists (not a list of unscored uids).
  const fresh = new Run();
  const r0 = fresh.window(0, [unmeasured(0, 1), late(2), ok(0, 3, 0.02, -0.01)]);
  assert.deepEqual([r0.peers, r0.reserves, r0.weights.uids], [[], [], []]);
});

test('the result has no aggregate; receipts are version 3, keep the plan\'s declared steps and beacon, and refuse other shapes', () => {
  const run = { seed: 3, innerSteps: 6, batch: 2, seq: 16 }, N = 20_000;
  let state = emptyState();
  const receipts: ScoreReceipt[] = [];
  for (let W = 0; W < 3; W++) {
    const miners = [1, 2].map((u) => {
      const m = ok(W, u);
      m.steps = u === 1 ? 3 : 6;
      m.measured!.plan = evalPlan(run, W, u, V.hotkey, BEACON, N, 2, m.steps);
      return m;
    });
    const r = scoreWithReceipt('ab'.repeat(32), P, state, { window: W, validator: V, beacon: { height: 10 * W + 12, hash: BEACON }, maxPeers: 3, reserves: 2, miners });
    receipts.push(r.receipt); state = r.state;
  }
  const last = receipts[2]!;
  assert.equal(last.version, 3);
  assert.deepEqual(last.inputs.beacon, { height: 32, hash: BEACON });
  assert.equal('aggregate' in last.result, false);
  const parsed = parseReceipt(encodeReceipt(last));
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
  assert.deepEqual(verifyReceipt(parsed.receipt), { ok: true });
  assert.equal(parsed.receipt.inputs.miners[0]!.measured!.plan.steps, 3);
  assert.equal(parsed.receipt.inputs.miners[1]!.measured!.plan.steps, 6);
  const mutate = (f: (r: Record<string, any>) => void): string => { const x = JSON.parse(JSON.stringify(last)); f(x); return JSON.stringify(x); };
  assert.equal(parseReceipt(mutate((x) => { x.version = 1; })).ok, false, 'version 1 refused');
  assert.equal(parseReceipt(mutate((x) => { x.version = 2; })).ok, false, 'version 2 (public evaluation seeds) refused');
  assert.equal(parseReceipt(mutate((x) => { x.inputs.beacon = { height: 'x', hash: BEACON }; })).ok, false, 'a beacon without a height refused');
  assert.equal(parseReceipt(mutate((x) => { x.inputs.miners[0].measured.cross = { 2: 'low' }; })).ok, false, 'cross losses must be numbers');
  assert.equal(parseReceipt(mutate((x) => { x.result.aggregate = [1, 2]; })).ok, false, 'a result with an aggregate refused');
  assert.equal(parseReceipt(mutate((x) => { delete x.result.reserves; })).ok, false, 'a result without reserves refused');
  assert.equal(parseReceipt(mutate((x) => { delete x.inputs.miners[0].measured.plan.steps; })).ok, false, 'a plan without steps refused');
  assert.equal(parseReceipt(mutate((x) => { x.inputs.miners[0].steps = 'three'; })).ok, false, 'declared steps must be an integer');
  assert.equal(parsed.receipt.inputs.miners[0]!.steps, 3);
  const extra = JSON.parse(mutate((x) => { x.result.aggregate = [1]; })) as ScoreReceipt;
  assert.deepEqual(verifyReceipt(extra), { ok: false, mismatch: 'result.aggregate is not a result field' });
  assert.match(explainUid(receipts, 1), /from its first 3 inner step\(s\)/);
});

test('evaluation plan: batches only among the first `steps` the miner declares it trained', () => {
  const run = { seed: 7, innerSteps: 6, batch: 3, seq: 16 }, N = 50_000;
  for (let W = 0; W < 40; W++) {
    const assigned = trainingOffsets(run, 4, W, N).map((b) => b.join());
    const p = evalPlan(run, W, 4, 'hk-A', BEACON, N, 2, 3);
    assert.deepEqual(evalPlan(run, W, 4, 'hk-A', BEACON, N, 2, 3), p, 'deterministic');
    assert.equal(p.own.length, 6);
    for (let i = 0; i < p.own.length; i += 3) {
      const h = assigned.indexOf(p.own.slice(i, i + 3).join());
      assert.ok(h >= 0 && h < 3, `window ${W}: batch ${h} is not among the first 3`);
    }
    // steps ≤ batches: all of the first `steps` batches.
    assert.deepEqual(evalPlan(run, W, 4, 'hk-A', BEACON, N, 8, 2).own.join(), [assigned[0], assigned[1]].join());
  }
});

test('penalty reasons print chain time as ISO-8601, not epoch milliseconds', () => {
  const run = new Run();
  run.window(0, [ok(0, 1), ok(0, 2)]);
  const ms = Date.UTC(2025, 2, 4, 5, 6, 7, 890);
  const r = run.window(1, [ok(1, 1), late(2, `late: landed at ${ms}, 4000 ms after the deadline ${ms - 4000}`)]);
  const reason = of(r, 2).penalties[0]!.reason;
  assert.equal(reason, 'late: landed at 2025-03-04T05:06:07.890Z, 4000 ms after the deadline 2025-03-04T05:06:03.890Z');
  assert.doesNotMatch(reason, /\d{12,}/);
  assert.equal(of(run.window(2, [ok(2, 1), late(2)]), 2).penalties[0]!.reason, 'landed after the deadline');
});

/** b's upload replays a's (same index set); their trial steps measured on each other's data: `aOnB` is a's update on b's data. */
function pair(W: number, a: number, b: number, o: { aOwn: number; bOwn: number; aOnB: number; bOnA: number; aSeen: number; bSeen: number }): MinerInput[] {
  const x = ok(W, a), y = ok(W, b);
  y.sketch = x.sketch;
  x.seen = o.aSeen; y.seen = o.bSeen;
  x.measured!.losses.own = { before: 5, after: 5 * (1 - o.aOwn) };
  y.measured!.losses.own = { before: 5, after: 5 * (1 - o.bOwn) };
  x.measured!.cross = { [String(b)]: 5 * (1 - o.aOnB) };
  y.measured!.cross = { [String(a)]: 5 * (1 - o.bOnA) };
  return [x, y];
}

test('a copy is decided by the origin, not the arrival: a replay uploaded first is the copier, its victim is never penalized', () => {
  const run = new Run();
  for (let W = 0; W < 18; W++) {
    // uid 7 replays uid 2's training and is seen first; the shared direction improves uid 2's data (+3%), uid 7's only generically (+1%).
    const [v, a] = pair(W, 2, 7, { aOwn: 0.03, bOwn: 0.011, aOnB: 0.01, bOnA: 0.029, aSeen: 5, bSeen: 1 });
    const r = run.window(W, [ok(W, 1), v!, ok(W, 3), a!].sort((p, q) => p.uid - q.uid));
    assert.deepEqual(of(r, 2).penalties, [], `window ${W}: the origin is not penalized`);
    assert.deepEqual(of(r, 7).penalties.map((p) => p.kind), ['copied']);
    assert.match(of(r, 7).penalties[0]!.reason, /copies uid 2's upload of window \d+ .*improves that uploader's assigned data more/);
  }
  const last = run.results.at(-1)!;
  assert.equal(last.weights.uids.includes(7), false, 'the replayer earns nothing');
  assert.ok(last.weights.uids.includes(2), 'its victim is paid');
});

test('without cross losses a first-window pair penalizes nobody; later the copier\'s own-data history gives it away', () => {
  const run = new Run();
  const [v, a] = pair(0, 2, 7, { aOwn: 0.03, bOwn: 0.011, aOnB: 0.01, bOnA: 0.029, aSeen: 5, bSeen: 1 });
  delete v!.measured!.cross;
  const r = run.window(0, [ok(0, 1), v!, a!]);
  assert.deepEqual(of(r, 2).penalties, []);
  assert.deepEqual(of(r, 7).penalties, []);
  assert.equal(originOf(v!, a!), null);
  // Window 1: uid 7's upload improved its own data less than random data (indicator −1), uid 2's more.
  const [v1, a1] = pair(1, 2, 7, { aOwn: 0.03, bOwn: 0.011, aOnB: 0.01, bOnA: 0.029, aSeen: 5, bSeen: 1 });
  delete v1!.measured!.cross;
  const r1 = run.window(1, [ok(1, 1), v1!, a1!]);
  assert.deepEqual(of(r1, 2).penalties, []);
  assert.deepEqual(of(r1, 7).penalties.map((p) => p.kind), ['copied']);
  assert.match(of(r1, 7).penalties[0]!.reason, /own-data indicator average is lower/);
});

test('originOf sums both uploads\' improvements on each uploader\'s data', () => {
  const [a, b] = pair(0, 2, 7, { aOwn: 0.02, bOwn: 0.02, aOnB: 0.001, bOnA: 0.002, aSeen: 1, bSeen: 1 });
  assert.equal(originOf(a!, b!), 2, 'on 2\'s data: 0.02 + 0.002 > on 7\'s: 0.02 + 0.001');
  b!.measured!.cross = { 2: 5 * (1 - 0.001) };
  a!.measured!.cross = { 7: 5 * (1 - 0.001) };
  assert.equal(originOf(a!, b!), null, 'a tie decides nothing');
  a!.measured!.cross = { 7: Number.NaN };
  assert.equal(originOf(a!, b!), null, 'nor a non-finite loss');
});

test('the norm reference is the aggregated uploads\' median: uploaders outside it cannot raise it to escape the outlier check', () => {
  const W = 0, honest = [1, 2, 3].map((u) => ok(W, u));
  // Five sybils with norms 8–12 (the honest ones ≈ 1): over all uploads the median would be 8, and a 6× upload would pass.
  const sybils = [5, 6, 7, 8, 9].map((u, i) => { const m = ok(W, u); m.norm = 8 + i; return m; });
  const big = ok(W, 10); big.norm = 6;
  const miners = [...honest, ...sybils, big];
  const open = scoreWindow(emptyState(), { window: W, validator: V, maxPeers: 3, reserves: 2, miners }, P).result;
  assert.equal(open.medianNorm, 8, 'no reference (the open start): every upload counts');
  assert.deepEqual(of(open, 10).penalties, []);
  const r = scoreWindow(emptyState(), { window: W, validator: V, maxPeers: 3, reserves: 2, normReference: [1, 2, 3], miners }, P).result;
  assert.equal(r.medianNorm, 1.02, 'the median of the aggregated uploads 1, 2, 3');
  assert.deepEqual(of(r, 10).penalties.map((p) => p.kind), ['invalid']);
  for (const u of [5, 6, 7, 8, 9]) assert.deepEqual(of(r, u).penalties.map((p) => p.kind), ['invalid'], `sybil ${u}`);
  assert.deepEqual(of(r, 1).penalties, []);
  assert.equal(referenceMedian([{ uid: 4, norm: 2 }, { uid: 5, norm: 3 }], [9]), 2.5, 'a reference naming no ok upload: all of them');
});

test('6 equal miners, 3 peer slots: the peers rotate and the pay follows the aggregate, so everyone earns about the same', () => {
  const run = new Run(P, 3, 2);
  const paid = new Map<number, number>(), paidWindows = new Map<number, number>();
  let peers: number[] = [];
  for (let W = 0; W < 30; W++) {
    const r = run.window(W, [1, 2, 3, 4, 5, 6].map((u) => ok(W, u, 0.01 + ((u * 7 + W * 3) % 5) / 1000)), peers.length ? [...peers] : undefined);
    r.weights.uids.forEach((u, i) => paid.set(u, (paid.get(u) ?? 0) + r.weights.weights[i]!));
    if (peers.length) assert.deepEqual(r.weights.uids, [...peers].sort((a, b) => a - b), `window ${W}: the aggregated (and only they) are paid`);
    if (W > P.indicatorWarmup) for (const u of r.weights.uids) paidWindows.set(u, (paidWindows.get(u) ?? 0) + 1);
    peers = r.peers;
  }
  // Past the warm-up (every miner proven) the slots alternate: each miner is aggregated and paid in half the windows.
  for (const u of [1, 2, 3, 4, 5, 6]) assert.ok((paidWindows.get(u) ?? 0) >= 10, `uid ${u} paid in ${paidWindows.get(u) ?? 0} of the 21 windows after the warm-up`);
  const shares = [1, 2, 3, 4, 5, 6].map((u) => paid.get(u) ?? 0), mean = shares.reduce((a, b) => a + b, 0) / 6;
  assert.ok(Math.min(...shares) / mean > 0.45, `shares ${shares.map((x) => x.toFixed(2)).join(' ')} (the ramp pays the better half of a group 2:1)`);
});

test('quality gate: junk ranked above worse junk reaches an honest final, but half an honest improvement keeps it out of peers and pay', () => {
  const run = new Run(P, 3, 2);
  let r: WindowResult | null = null;
  for (let W = 0; W < 12; W++) {
    // uids 1–3 honest (gain 1%), 4 and 5 improve half as much, 6–9 worse still (gain 0.1%): 4 and 5 rank 4th–5th every window.
    r = run.window(W, [1, 2, 3].map((u) => ok(W, u, 0.01)).concat([4, 5].map((u) => ok(W, u, 0.005)), [6, 7, 8, 9].map((u) => ok(W, u, 0.001))));
  }
  assert.ok(of(r!, 4).final > 0 && of(r!, 4).quality! < 0.0051);
  assert.deepEqual(r!.peers, [1, 2, 3]);
  assert.deepEqual(r!.weights.uids, [1, 2, 3]);
  assert.deepEqual([...qualityGate(run.state.miners, new Map([[1, 5], [2, 5], [3, 5], [4, 4], [5, 4]]), 3, 0.65)].sort(), [1, 2, 3]);
  assert.deepEqual([...qualityGate(run.state.miners, new Map([[4, 4], [5, 4]]), 3, 0.65)].sort(), [4, 5], 'relative to the eligible: alone, the half-as-good are the best');
});

/** ok() with per-batch own losses: 4 batches; `trained` of them improve by g + ownExtra, the rest like random data (g). */
function batched(W: number, uid: number, trained: number, g = 0.01, ownExtra = 0.01): MinerInput {
  const m = ok(W, uid, g, 0);
  const gains = [0, 1, 2, 3].map((b) => (b < trained ? g + ownExtra : g));
  m.measured!.losses.ownBatches = gains.map((x) => ({ before: 5, after: 5 * (1 - x) }));
  m.measured!.losses.own = { before: 5, after: 5 * (1 - gains.reduce((a, b) => a + b, 0) / 4) };
  return m;
}

test('own-data depth: the lower half of the assigned batches against random data; null without per-batch losses', () => {
  const d = (trained: number): number => ownDepth(batched(0, 1, trained).measured!.losses)!;
  assert.ok(Math.abs(d(4) - 0.01) < 1e-12, 'every batch trained: the whole extra');
  assert.ok(Math.abs(d(3) - 0.005) < 1e-12, 'one of the lower two untrained');
  assert.ok(Math.abs(d(2)) < 1e-12, 'half untrained: random-data level, though the mean (the indicator) still wins');
  assert.equal(lossScore(batched(0, 1, 2).measured!.losses).indicator, 1);
  assert.equal(ownDepth(ok(0, 1).measured!.losses), null);
});

test('depth gate: off until the reference stands out of random-data level; then half-trained uploads lose peers and pay, newcomers wait depthMinEvals', () => {
  const run = new Run(P, 3, 2);
  let r: WindowResult | null = null;
  // Early windows: honest depth 0.0004 (vs random gain 0.01: 0.04 < depthActivation) — nobody is gated, the half-trained uid 4 included.
  for (let W = 0; W < 5; W++) r = run.window(W, [1, 2, 3].map((u) => batched(W, u, 4, 0.01, 0.0004)).concat([batched(W, 4, 2, 0.0101, 0.0004)]));
  assert.ok(r!.weights.uids.includes(4) || r!.peers.includes(4), 'early: the half-trained miner is not told apart');
  // Later: the model remembers (honest depth 0.005 = 0.5 × random gain): uid 4 (depth ~0) is out of peers and pay.
  for (let W = 5; W < 12; W++) r = run.window(W, [1, 2, 3].map((u) => batched(W, u, 4, 0.01, 0.005)).concat([batched(W, 4, 2, 0.0101, 0.005)]));
  assert.ok(!r!.peers.includes(4) && !r!.weights.uids.includes(4), `peers ${r!.peers}, paid ${r!.weights.uids}`);
  assert.ok(of(r!, 4).final > 0, 'not a penalty: its final stands');
  assert.ok(of(r!, 1).depth! > 0.004 && Math.abs(of(r!, 4).depth!) < 0.001);
  const finals = new Map([[1, 5], [2, 5], [3, 5], [4, 5]]);
  assert.deepEqual([...depthGate(run.state.miners, finals, 3, P, 0.01)].sort(), [1, 2, 3]);
  assert.deepEqual([...depthGate(run.state.miners, finals, 3, P, 0.1)].sort(), [1, 2, 3, 4], 'the reference below depthActivation × random: off');
  assert.deepEqual([...depthGate(run.state.miners, finals, 3, { depthFloor: undefined, depthActivation: undefined, depthMinEvals: undefined }, 0.01)].sort(), [1, 2, 3, 4], 'receipts without depth parameters: off');
  const fresh = { ...run.state.miners, 4: { ...run.state.miners[4]!, depthEvals: 3 } };
  assert.deepEqual([...depthGate(fresh, finals, 3, P, 0.01)].sort(), [1, 2, 3, 4], 'fewer than depthMinEvals values: not yet judged');
});

test('depth gate in receipts: they verify, score explain says why the miner is held back; a receipt without depth parameters recomputes with the gate off', () => {
  let state = emptyState();
  const receipts: ScoreReceipt[] = [];
  for (let W = 0; W < 12; W++) {
    const x = W < 5 ? 0.0004 : 0.005;
    const inputs: WindowInputs = { window: W, validator: V, maxPeers: 3, reserves: 2, miners: [1, 2, 3].map((u) => batched(W, u, 4, 0.01, x)).concat([batched(W, 4, 2, 0.0101, x)]) };
    const out = scoreWithReceipt('run', P, state, inputs);
    state = out.state;
    receipts.push(out.receipt);
  }
  for (const r of receipts) assert.deepEqual(verifyReceipt(r), { ok: true }, `window ${r.window}`);
  const text = explainUid(receipts, 4);
  assert.match(text, /held out of peers and pay: own-data depth average .* < 0\.3 × .*train every assigned batch/);
  assert.doesNotMatch(explainUid(receipts, 1), /held out/);
  // The same inputs scored by a validator from before the gate (no depth parameters): uid 4 is paid, and that receipt verifies too.
  const { depthFloor: _a, depthActivation: _b, depthMinEvals: _c, ...old } = P;
  let st = emptyState(), last: ScoreReceipt | null = null;
  for (const r of receipts) { const out = scoreWithReceipt('run', old, st, r.inputs); st = out.state; last = out.receipt; }
  assert.ok(last!.result.weights.uids.includes(4) || last!.result.peers.includes(4));
  assert.deepEqual(verifyReceipt(JSON.parse(JSON.stringify(last)) as ScoreReceipt), { ok: true });
});

test('rotation from the second evaluation: in a new network of 6 equal miners every one is aggregated and paid within the first 8 windows (before any is proven)', () => {
  const paidIn = (p: GauntletParams): Set<number> => {
    const run = new Run(p, 3, 2), paid = new Set<number>();
    let peers: number[] = [];
    for (let W = 0; W < 8; W++) {
      const r = run.window(W, [1, 2, 3, 4, 5, 6].map((u) => ok(W, u, 0.01 + ((u * 7 + W * 3) % 5) / 1000)), peers.length ? [...peers] : undefined);
      r.weights.uids.forEach((u) => paid.add(u));
      peers = r.peers;
    }
    return paid;
  };
  assert.deepEqual([...paidIn(P)].sort(), [1, 2, 3, 4, 5, 6]);
  const { rotationMinEvals: _r, ...before } = P;
  assert.ok(paidIn(before).size < 6, 'receipts without rotationMinEvals: only proven miners rotate (as they were scored)');
});

test('rotation takes comparable contributors only: two miners at 70% of the honest improvement pass the quality gate but never rotate in', () => {
  const run = new Run(P, 3, 2);
  const aggregated = new Set<number>();
  let peers: number[] = [];
  for (let W = 0; W < 16; W++) {
    const r = run.window(W, [1, 2, 3, 4].map((u) => ok(W, u, 0.01 + ((u * 7 + W * 3) % 5) / 10000)).concat([5, 6].map((u) => ok(W, u, 0.007))), peers.length ? [...peers] : undefined);
    if (W > 0) for (const u of peers) aggregated.add(u);
    peers = r.peers;
  }
  assert.deepEqual([...aggregated].sort(), [1, 2, 3, 4], 'the four comparable ones rotate; 5 and 6 (quality 0.7 of the reference) never take a slot');
  const { rotationQualityFloor: _q, ...before } = P;
  const r2 = new Run(before, 3, 2), agg2 = new Set<number>();
  peers = [];
  for (let W = 0; W < 16; W++) {
    const r = r2.window(W, [1, 2, 3, 4].map((u) => ok(W, u, 0.01 + ((u * 7 + W * 3) % 5) / 10000)).concat([5, 6].map((u) => ok(W, u, 0.007))), peers.length ? [...peers] : undefined);
    if (W > 0) for (const u of peers) agg2.add(u);
    peers = r.peers;
  }
  assert.ok(agg2.has(5) || agg2.has(6), 'without the rotation floor the never-aggregated go first');
});

test('replay audits: a failed audit is the audit penalty and bars weight and peers for auditBan windows; a pass changes nothing; old receipts ignore audits', () => {
  const p: GauntletParams = { ...P, auditBan: 5 }, uids = [1, 2, 3, 4];
  const score = (s: GauntletState, W: number, audits?: WindowInputs['audits'], params = p) =>
    scoreWindow(s, { window: W, validator: V, maxPeers: 3, reserves: 2, miners: uids.map((u) => ok(W, u)), ...(audits ? { audits } : {}) }, params);
  let s = emptyState();
  for (let W = 0; W < 3; W++) s = score(s, W).state;
  const passed = score(s, 3, [{ uid: 4, window: 2, outcome: 'pass', detail: 'same update', cosine: 1 }]), plain = score(s, 3);
  assert.equal(passed.state.miners[4]!.auditPasses, 1);
  delete passed.state.miners[4]!.auditPasses;
  assert.deepEqual(passed.state, plain.state, 'a passed audit changes nothing else');
  assert.deepEqual(of(passed.result, 4).audit, { uid: 4, window: 2, outcome: 'pass', detail: 'same update', cosine: 1 });
  const failed = score(s, 3, [{ uid: 4, window: 2, outcome: 'fail', detail: 'another update (cosine 0.85 < 0.99)', cosine: 0.85 }]);
  const r4 = of(failed.result, 4);
  assert.deepEqual(r4.penalties.map((q) => q.kind), ['audit']);
  assert.match(r4.penalties[0]!.reason, /window 2 failed: another update/);
  assert.equal(r4.final, 0);
  assert.equal(failed.state.miners[4]!.auditBanUntil, 3 + 5 - 1);
  assert.ok(!failed.result.weights.uids.includes(4) && !failed.result.peers.includes(4));
  // No reveal (a cut link, a restart after the upload): the offence, barred penaltyMemory windows, not auditBan.
  const unrevealed = score(s, 3, [{ uid: 4, window: 2, outcome: 'unrevealed', detail: 'no state revealed' }]);
  assert.deepEqual(of(unrevealed.result, 4).penalties.map((q) => q.kind), ['audit']);
  assert.equal(unrevealed.state.miners[4]!.auditBanUntil, undefined);
  let u = unrevealed.state;
  for (let W = 4; W < 4 + P.penaltyMemory + 1; W++) u = score(u, W).state;
  assert.ok(score(u, 4 + P.penaltyMemory + 1).result.weights.uids.includes(4), 'paid again after penaltyMemory windows');
  s = failed.state;
  for (let W = 4; W < 8; W++) {
    const r = score(s, W);
    s = r.state;
    assert.ok(of(r.result, 4).final > 0 || W < 5, 'its final comes back (the bar is on pay and peers)');
    assert.ok(!r.result.weights.uids.includes(4) && !r.result.peers.includes(4), `barred in window ${W}`);
  }
  const after = score(s, 8);
  assert.ok(after.result.weights.uids.includes(4) || after.result.peers.includes(4) || after.result.reserves.includes(4), 'eligible again after auditBan windows');
  // Parameters without auditBan (receipts before audits): an audit input is not scored.
  const { auditBan: _, ...old } = p;
  assert.equal(of(score(failed.state, 9, [{ uid: 1, window: 8, outcome: 'fail', detail: 'x' }], old as GauntletParams).result, 1).penalties.length, 0);
  // A receipt with audits verifies and a malformed audit list is refused.
  const rc = scoreWithReceipt('c'.repeat(64), p, s, { window: 9, validator: V, maxPeers: 3, reserves: 2, miners: uids.map((u) => ok(9, u)), audits: [{ uid: 2, window: 8, outcome: 'fail', detail: 'no reveal' }] }).receipt;
  assert.deepEqual(verifyReceipt(rc), { ok: true });
  assert.match(explainUid([rc], 2), /PENALTY audit: replay audit of its upload of window 8 failed: no reveal/);
  assert.match(explainUid([rc], 2), /barred until window 13: a failed replay audit/);
  const bad = JSON.parse(new TextDecoder().decode(encodeReceipt(rc))) as { inputs: { audits: unknown[] } };
  bad.inputs.audits = [{ uid: 2, outcome: 'maybe' }];
  assert.equal(parseReceipt(JSON.stringify(bad)).ok, false);
});

test('auditing: weights wait for a passed replay audit, peers do not', () => {
  const uids = [1, 2, 3];
  const inp = (W: number, audits?: WindowInputs['audits']): WindowInputs => ({ window: W, validator: V, maxPeers: 3, reserves: 2, miners: uids.map((u) => ok(W, u)), auditing: true, ...(audits ? { audits } : {}) });
  const first = scoreWindow(emptyState(), inp(0), P);
  assert.deepEqual(first.result.weights.uids, [], 'nobody audited yet: no weight');
  assert.deepEqual(first.result.peers, uids, 'peers are chosen as before');
  const second = scoreWindow(first.state, inp(1, [{ uid: 2, window: 0, outcome: 'pass', detail: 'same update', cosine: 1 }]), P);
  assert.deepEqual(second.result.weights.uids, [2]);
  const third = scoreWindow(second.state, inp(2, [{ uid: 1, window: 1, outcome: 'pass', detail: 'same update', cosine: 1 }]), P);
  assert.deepEqual(third.result.weights.uids, [1, 2], 'a pass counts for good');
  assert.deepEqual(verifyReceipt(scoreWithReceipt('c'.repeat(64), P, third.state, inp(3)).receipt), { ok: true });
  // A pipeline group's partial uploads are not audited: its lead is paid without a pass.
  const group = scoreWindow(emptyState(), { ...inp(0), groups: [{ group: 'g', members: [3, 9], shares: [0.5, 0.5] }] }, P);
  assert.deepEqual(group.result.weights.uids, [3, 9]);
});

test('the final is scaled by the declared steps ÷ H: half a training earns half', () => {
  const inp = (W: number, H?: number): WindowInputs => {
    const ms = [1, 2].map((u) => ok(W, u, 0.02));
    ms[1]!.measured!.plan.steps = 2; // uid 2 declares 2 of H = 4 (ok() plans 4)
    return { window: W, validator: V, maxPeers: 3, reserves: 2, miners: ms, ...(H ? { innerSteps: H } : {}) };
  };
  const scaled = scoreWindow(emptyState(), inp(0, 4), P).result, plain = scoreWindow(emptyState(), inp(0), P).result;
  assert.equal(of(scaled, 1).final, of(plain, 1).final);
  assert.ok(Math.abs(of(scaled, 2).final - of(plain, 2).final / 2) < 1e-12, `${of(scaled, 2).final} = half of ${of(plain, 2).final}`);
});

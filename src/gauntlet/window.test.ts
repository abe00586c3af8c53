// A whole Gauntlet over synthetic windows: 3 honest miners against a copier, a missing, an invalid,
// a scaled, a sign-flipping, a lazy, a late and an out-of-sync miner. Every adversary ends below every
// honest miner with weight 0 and the penalty that names it; every receipt recomputes to the same
// numbers (after a JSON round trip), receipts chain by state hash, a tampered one fails, the state
// survives a restart, and the explanation tells the story.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeRng } from '../util/rng.js';
import {
  emptyState, encodeReceipt, evalSeed, explainUid, GAUNTLET_DEFAULTS, parseReceipt, parseState, recomputeFromReceipt, scoreWithReceipt, serializeState,
  stateHash, verifyReceipt, type GauntletState, type MinerInput, type ScoreReceipt, type WindowInputs,
} from './index.js';

/** A block hash standing in for the evaluation beacon (chaintime.ts evalBeacon). */
const BEACON = '0x' + 'ab'.repeat(32);

const V = { uid: 0, hotkey: 'hk-validator' };
const HONEST = [1, 2, 3];
const ADV = { copy: 4, missing: 5, invalid: 6, scaled: 7, signflip: 8, lazy: 9, late: 10, unsynced: 11 } as const;

const sketch = (seed: string): number[] => {
  const rng = makeRng(seed), s = new Set<number>();
  while (s.size < 64) s.add(rng.nextU32());
  return [...s].sort((a, b) => a - b);
};

/** An evaluated upload: main gain g on random data, g + ownExtra on the miner's own data. */
function measured(W: number, uid: number, g: number, ownExtra: number, o: Partial<MinerInput> = {}, behind: number | null = 0): MinerInput {
  return {
    uid, status: 'ok', landedAt: 1000 + uid, seen: 1, norm: 1 + uid / 100, sketch: sketch(`${uid}:${W}`),
    measured: {
      plan: { seed: evalSeed(W, uid, V.hotkey, BEACON), steps: 4, own: [uid, W], random: [W, uid] }, clipScale: 1, behind,
      losses: { own: { before: 5, after: 5 * (1 - g - ownExtra) }, random: { before: 4, after: 4 * (1 - g) } },
    },
    ...o,
  };
}

function windowInputs(W: number): WindowInputs {
  const miners: MinerInput[] = HONEST.map((u) => measured(W, u, 0.01 + u / 1000 + (W % 3) / 2000, 0.005));
  miners.push(measured(W, ADV.copy, 0.011, -0.001, { sketch: miners[0]!.sketch, landedAt: 5000, seen: 3 }));
  miners.push(W === 0 ? measured(W, ADV.missing, 0.012, 0.004) : { uid: ADV.missing, status: 'missing', landedAt: null, seen: null });
  miners.push({ uid: ADV.invalid, status: 'invalid', detail: 'hash_mismatch: content hash differs', landedAt: 900, seen: 0 });
  miners.push(measured(W, ADV.scaled, 0.013, 0.005, { norm: 50 }));
  miners.push(measured(W, ADV.signflip, -0.012, -0.004));
  miners.push(measured(W, ADV.lazy, 0.0125, W % 2 ? 0.002 : -0.002)); // a coin: own data beats random half the time
  miners.push({ uid: ADV.late, status: 'late', detail: 'landed 4000 ms after the deadline', landedAt: null, seen: null });
  miners.push(measured(W, ADV.unsynced, 0.012, 0.004, {}, W % 2 ? 4 : null));
  return { window: W, validator: V, maxPeers: 3, reserves: 2, miners: miners.sort((a, b) => a.uid - b.uid) };
}

function runWindows(n: number): { receipts: ScoreReceipt[]; state: GauntletState } {
  let state = emptyState();
  const receipts: ScoreReceipt[] = [];
  for (let W = 0; W < n; W++) {
    const r = scoreWithReceipt('ab'.repeat(32), GAUNTLET_DEFAULTS, state, windowInputs(W));
    receipts.push(r.receipt);
    state = r.state;
  }
  return { receipts, state };
}

test('every adversary ends below every honest miner, with weight 0 and the penalty that names it', () => {
  const { receipts, state } = runWindows(10);
  const last = receipts[receipts.length - 1]!.result;
  const final = (u: number): number => state.miners[u]?.final ?? 0;
  const minHonest = Math.min(...HONEST.map(final));
  assert.ok(minHonest > 0);
  for (const [name, uid] of Object.entries(ADV)) {
    assert.ok(final(uid) < minHonest, `${name}: final ${final(uid)} vs honest ${minHonest}`);
    assert.equal(last.weights.uids.includes(uid), false, `${name} has weight`);
  }
  assert.deepEqual(last.weights.uids, [1, 2, 3]);
  assert.deepEqual(last.peers, [1, 2, 3]);
  assert.deepEqual(last.reserves, [], 'no adversary is eligible as a reserve');
  assert.equal('aggregate' in last, false, 'the validator does not pick the aggregate');
  const kinds = (uid: number): string[] => last.miners.find((m) => m.uid === uid)!.penalties.map((p) => p.kind);
  assert.deepEqual(kinds(ADV.copy), ['copied']);
  assert.match(last.miners.find((m) => m.uid === ADV.copy)!.penalties[0]!.reason, /copies uid 1's upload of window 9/);
  assert.deepEqual(kinds(ADV.missing), ['missing']);
  assert.deepEqual(kinds(ADV.invalid), ['invalid']);
  assert.deepEqual(kinds(ADV.scaled), ['invalid']);
  assert.match(last.miners.find((m) => m.uid === ADV.scaled)!.penalties[0]!.reason, /× the window median/);
  assert.deepEqual(kinds(ADV.signflip), ['negative']);
  assert.deepEqual(kinds(ADV.late), ['late']);
  assert.deepEqual(kinds(ADV.lazy), []);
  assert.match(last.miners.find((m) => m.uid === ADV.lazy)!.gate ?? '', /own data beat random data too rarely/);
  assert.ok(receipts.some((r) => r.result.miners.find((m) => m.uid === ADV.unsynced)!.penalties.some((p) => p.kind === 'out_of_sync')));
  for (const u of HONEST) assert.deepEqual(kinds(u), []);
  // The match puts offenders last, tied.
  const rank = (u: number): number | null => last.miners.find((m) => m.uid === u)!.rank;
  assert.equal(rank(ADV.copy), rank(ADV.invalid));
  assert.ok(HONEST.every((u) => rank(u)! < rank(ADV.copy)!));
  assert.equal(rank(ADV.late), rank(ADV.missing));
});

test('receipts recompute exactly, chain by state hash, and a tampered receipt fails', () => {
  const { receipts, state } = runWindows(6);
  receipts.forEach((r, i) => {
    const parsed = parseReceipt(encodeReceipt(r));
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
    const re = recomputeFromReceipt(parsed.receipt);
    assert.deepEqual(JSON.parse(JSON.stringify(re.result)), JSON.parse(JSON.stringify(r.result)), `window ${r.window}`);
    assert.equal(re.stateAfterSha256, r.stateAfterSha256);
    assert.deepEqual(verifyReceipt(parsed.receipt), { ok: true });
    if (i > 0) assert.equal(stateHash(r.stateBefore), receipts[i - 1]!.stateAfterSha256, 'receipts chain');
  });
  assert.equal(stateHash(state), receipts[receipts.length - 1]!.stateAfterSha256);
  const bad = JSON.parse(JSON.stringify(receipts[3])) as ScoreReceipt;
  bad.inputs.miners.find((m) => m.uid === ADV.lazy)!.measured!.losses.own.after -= 0.05;
  const v = verifyReceipt(bad);
  assert.equal(v.ok, false);
  const forged = JSON.parse(JSON.stringify(receipts[3])) as ScoreReceipt;
  forged.result.weights.weights[0]! += 0.01;
  assert.deepEqual(verifyReceipt(forged), { ok: false, mismatch: 'result.weights differs' });
  assert.equal(parseReceipt('{"format":"nope"}').ok, false);
  assert.equal(parseReceipt(new Uint8Array([0xff, 0xfe])).ok, false);
});

test('state: JSON round trip resumes scoring identically; malformed state files are refused', () => {
  const { state } = runWindows(4);
  const back = parseState(serializeState(state));
  assert.ok(back.ok);
  const a = scoreWithReceipt('ab'.repeat(32), GAUNTLET_DEFAULTS, state, windowInputs(4));
  const b = scoreWithReceipt('ab'.repeat(32), GAUNTLET_DEFAULTS, back.state, windowInputs(4));
  assert.equal(JSON.stringify(a.receipt), JSON.stringify(b.receipt));
  assert.throws(() => scoreWithReceipt('ab'.repeat(32), GAUNTLET_DEFAULTS, a.state, windowInputs(4)), /window 4 scored after window 4/);
  for (const bad of ['nope', '{"version":2}', '{"version":1,"window":0,"miners":{"x":{}}}', '{"version":1,"window":0,"miners":{"3":{"rating":{"mu":1,"sigma":0}}}}']) {
    assert.equal(parseState(bad).ok, false, bad);
  }
});

test('explain: the table, the newest final score taken apart, and the penalties with reasons', () => {
  const { receipts } = runWindows(10);
  const honest = explainUid(receipts, 2);
  assert.match(honest, /^uid 2: scored in 10 of 10 window\(s\) by validator uid 0/);
  assert.match(honest, /final [0-9.]+ = max\(0, ordinal [0-9.-]+ \+ 25\) × max\(0, indicator average [0-9.-]+\) × sync 1\.000/);
  assert.match(honest, /peer next window/);
  const copier = explainUid(receipts, ADV.copy);
  assert.match(copier, /PENALTY copied: copies uid 1's upload of window 9/);
  assert.match(copier, /penalties \(9\):/); // window 0 decides nothing: no cross losses, record or history yet
  assert.match(explainUid(receipts, ADV.lazy), /NO REWARD: own data beat random data too rarely/);
  assert.match(explainUid(receipts, 42), /uid 42: not scored in 10 receipt\(s\)/);
});

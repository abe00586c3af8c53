// The deterministic aggregate rules: in time by the anchor's block timestamp (≤ deadline), the leader
// as the first validator by stake with an in-time anchor, slots peers-then-reserves, and the first
// maxPeers valid slot uploads in uid order — a reserve fills the slot of a peer that failed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseAggregate, chooseVouched, inTimeAnchors, leaderAmong, slotOrder, validatorOrder, vouching } from './index.js';

const d = (c: string): string => c.repeat(64);

test('an anchor is in time when its block is stamped at or before the deadline', () => {
  const ts = new Map([[10, 1000], [11, 2000], [12, 2001]]);
  const r = inTimeAnchors([{ uid: 3, digest: d('a'), block: 10 }, { uid: 1, digest: d('b'), block: 11 }, { uid: 2, digest: d('c'), block: 12 }], (b) => ts.get(b)!, 2000);
  assert.deepEqual([...r].sort(), [[1, d('b')], [3, d('a')]]);
});

test('validators lead by stake (then lower uid); permitless or stakeless uids never lead', () => {
  const m = { uids: [0, 1, 2, 3, 4], stake: [5, 9, 9, 0, 20], validatorPermit: [true, true, true, true, false] };
  assert.deepEqual(validatorOrder(m), [1, 2, 0]);
  assert.equal(leaderAmong([1, 2, 0], new Map([[0, d('a')], [2, d('b')]])), 2, 'the first by stake that anchored leads');
  assert.equal(leaderAmong([1, 2, 0], new Map([[7, d('a')]])), null);
});

test('the aggregate takes the first maxPeers valid slots in slot order, returned ascending', () => {
  const slots = slotOrder({ peers: [4, 9], reserves: [2, 7] });
  assert.deepEqual(slots, [4, 9, 2, 7]);
  assert.deepEqual(chooseAggregate(slots, new Set([4, 9, 2, 7]), 2), [4, 9], 'peers first');
  assert.deepEqual(chooseAggregate(slots, new Set([9, 2, 7]), 2), [2, 9], 'a reserve fills a failed peer slot');
  assert.deepEqual(chooseAggregate(slots, new Set([5]), 2), [], 'an upload outside the list is never aggregated');
  assert.deepEqual(chooseAggregate(slotOrder(null), new Set([1]), 2), []);
});

test('finding 7: the state to start from is the one with the most validator stake behind it, not the top validator\'s', () => {
  // A newcomer with more stake than any one validator (1200) claims a zeroed model; two validators (1000 + 500) agree on f.
  const claims = [
    { uid: 9, stake: 1200, window: 20, fingerprint: 'zero' },
    { uid: 0, stake: 1000, window: 20, fingerprint: 'f' },
    { uid: 1, stake: 500, window: 20, fingerprint: 'f' },
  ];
  assert.deepEqual(chooseVouched(claims), { window: 20, fingerprint: 'f', stake: 1500, uids: [0, 1] });
  // One validator counts once per (window, fingerprint), however many claims it makes; bad stakes count 0.
  const dup = [...claims, { uid: 9, stake: 1200, window: 20, fingerprint: 'zero' }, { uid: 7, stake: Number.NaN, window: 20, fingerprint: 'zero' }];
  assert.equal(vouching(dup).get('20:zero')!.stake, 1200);
  // A newer state wins a tie; outweighing everyone else together still wins (stake is the root of trust).
  assert.equal(chooseVouched([{ uid: 0, stake: 5, window: 10, fingerprint: 'a' }, { uid: 1, stake: 5, window: 15, fingerprint: 'b' }])!.window, 15);
  assert.equal(chooseVouched([...claims, { uid: 9, stake: 400, window: 20, fingerprint: 'zero' }].map((c) => (c.uid === 9 ? { ...c, stake: 2000 } : c)))!.fingerprint, 'zero');
  assert.equal(chooseVouched([]), null);
});

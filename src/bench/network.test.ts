// The network and soak benches: learning figures from timelines (accepted share over honest miner-windows,
// empty and stalled windows only when an honest upload was valid, late uploads, leader changes), fingerprint agreement, in-time rejections.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TimelineEntry } from '../neurons/types.js';
import { learningReport } from './network.js';
import { agreementOf, inTimeRejected } from './soak.js';

const e = (window: number, x: Partial<TimelineEntry>): TimelineEntry => ({
  window, train_s: 1, encode_s: 0, upload_s: 0, gather_s: 0, apply_s: 0, idle_s: 0, window_s: 1, payloadBytes: 1, bytesDown: 0, fingerprint: 'f0', ...x,
});

test('learningReport counts what each definition says', () => {
  const validator = [
    e(1, { valid: [1, 2], aggregated: [1, 2], fingerprint: 'a', leader: 0 }),
    e(2, { valid: [1], aggregated: [], fingerprint: 'a', leader: 0 }),       // empty and stalled
    e(3, { valid: [9], aggregated: [], fingerprint: 'a', leader: 5 }),       // no honest upload valid: neither
    e(4, { valid: [1, 2], aggregated: [1, 2], fingerprint: 'b', leader: 5 }),
  ];
  const honest = new Map([
    [1, [e(0, { outcome: 'uploaded' }), e(1, { outcome: 'uploaded', margin_ms: 500, steps: 30 }), e(2, { outcome: 'uploaded', margin_ms: 100, steps: 20 }),
      e(3, { outcome: 'late', margin_ms: null }), e(4, { outcome: 'uploaded', margin_ms: -5, steps: 30 })]],
    [2, [e(1, { outcome: 'uploaded' }), e(2, { outcome: 'none' }), e(4, { outcome: 'uploaded' })]],
  ]);
  const r = learningReport(validator, honest);
  assert.equal(r.honest_miner_windows, 7, 'window 0 was not scored by the validator');
  assert.equal(r.uploads_accepted, 5);
  assert.equal(r.empty_aggregate_windows, 1);
  assert.equal(r.stalled_windows, 1);
  assert.equal(r.late_uploads, 3, 'late, none, and a negative margin');
  assert.equal(r.leader_changes, 1);
  assert.equal(r.margin_ms_min, -5);
  assert.ok(Math.abs(r.steps_mean! - 80 / 3) < 1e-9);
});

test('soak: agreement over windows two nodes applied; in-time uploads the validator did not accept', () => {
  const a = new Map([[1, 'x'], [2, 'y'], [3, 'z']]), b = new Map([[2, 'y'], [3, 'q']]), c = new Map([[9, 'w']]);
  assert.deepEqual(agreementOf([a, b, c]), { agree: false, windows: 2, mismatches: [3] });
  assert.deepEqual(agreementOf([a, new Map([[1, 'x']])]), { agree: true, windows: 1, mismatches: [] });
  const validator = [e(1, { valid: [1] }), e(2, { valid: [] })];
  const honest = new Map([[1, [e(1, { outcome: 'uploaded', margin_ms: 10 }), e(2, { outcome: 'uploaded', margin_ms: 0 }), e(3, { outcome: 'uploaded', margin_ms: 5 })]],
    [2, [e(2, { outcome: 'uploaded', margin_ms: -1 }), e(2, { outcome: 'late' })]]]);
  assert.equal(inTimeRejected(validator, honest), 1, 'window 2 of uid 1 (margin 0 is in time); window 3 was not scored; uid 2 was late');
  assert.equal(inTimeRejected(validator, honest, (w) => w !== 2), 0);
});

// The chaos suite's CI-sized subset (src/bench/chaos.ts; the full run is `tessera bench chaos`, recorded
// in bench/chaos.md): a filesystem-storage devnet (chain, 3 miners, 2 validators as processes) takes a
// miner killed -9 between its upload and its anchor, a validator killed -9 between a checkpoint and its
// pointer, the chain killed -9 after journaling a call and before answering, a miner's local state
// damaged while it is down, and (where a tmpfs may be mounted: root) a miner's state folder full for
// 2 windows. Every fault is survived, no in-time upload goes unscored, no object a reader sees is
// partial or corrupt, all nodes agree on every window's fingerprint and every receipt verifies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CI_SCHEDULE, runChaos } from '../src/bench/chaos.js';

test('chaos (CI subset): kill -9 at upload, checkpoint and chain call, damaged local state, a full disk: all survived, nothing lost or corrupt, all agree', { timeout: 420_000 }, async (t) => {
  const lines: string[] = [];
  const r = await runChaos({ seed: 7, faults: CI_SCHEDULE, storage: 'fs', blockMs: 400, recoverWindows: 12, log: (l) => { if (!l.startsWith('devnet: ')) lines.push(l); } });
  for (const l of lines) t.diagnostic(l);
  for (const s of r.skipped) t.diagnostic(`SKIPPED: ${s}`);
  t.diagnostic(`faults ${r.faults_survived}/${r.faults_injected} survived; uploads lost ${r.uploads_lost}/${r.uploads_in_time}; corrupt ${r.objects_corrupt_seen}/${r.objects_checked}; ` +
    `receipts ${r.receipts_verified}/${r.receipts}; agree ${r.fingerprints_agree} over ${r.windows_compared} windows; ${r.wall_s.toFixed(0)} s; windows_to_recover ${JSON.stringify(r.windows_to_recover)}`);
  assert.equal(r.faults_injected, CI_SCHEDULE.length - (r.skipped.length ? 1 : 0), `faults: ${JSON.stringify(r.faults)}`);
  for (const f of r.faults) assert.ok(f.survived, `${f.kind} on ${f.target} in window ${f.window}: ${f.detail}`);
  assert.equal(r.uploads_lost, 0, `in-time uploads never scored: ${JSON.stringify(r.lost)}`);
  assert.ok(r.uploads_in_time > 0);
  assert.ok(r.objects_checked > 0);
  assert.equal(r.objects_corrupt_seen, 0, r.corrupt.join('\n'));
  assert.ok(r.fingerprints_agree, `fingerprints differ in windows ${r.mismatched_windows.join(', ')}`);
  assert.ok(r.receipts > 0);
  assert.equal(r.receipts_verified, r.receipts);
  assert.deepEqual(r.failing_nodes, []);
});

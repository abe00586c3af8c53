// The chaos suite's CI-sized subset (src/bench/chaos.ts; the full run is `tessera bench chaos`, recorded
// in bench/chaos.md). Where network namespaces are permitted (root, CAP_NET_ADMIN) and Ceph is installed,
// every process — the chain, Ceph RGW, 3 miners, 2 validators — runs on its own network host
// (src/hosts/netns.ts) and the subset includes a miner's namespace link cut for 2 windows; elsewhere it
// runs on loopback with filesystem storage, without the link cut, and says so. The faults: a miner killed
// -9 between its upload and its anchor, a miner killed -9 right after its anchor landed (before it kept the
// upload's error-feedback residual: it must not send the same values again), a validator killed -9 between a checkpoint and its pointer, the
// chain killed -9 after journaling a call and before answering, a miner's local state damaged while it is
// down, and (where a tmpfs may be mounted: root) a miner's state folder full for 2 windows. Every fault is
// survived, no in-time upload goes unscored, no object a reader sees is partial or corrupt, all nodes
// agree on every window's fingerprint, every receipt verifies, and no namespace is left behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { CI_HOSTS_SCHEDULE, CI_SCHEDULE, runChaos } from '../src/bench/chaos.js';
import { hostsPermitted } from '../src/hosts/netns.js';
import { cephInstalled } from '../src/storage/index.js';

const hostsWhy = cephInstalled() ? await hostsPermitted() : 'Ceph RGW is not installed (apt-get install ceph-mon ceph-osd radosgw ceph-common)';

test('chaos (CI subset, on network hosts where permitted): kill -9 at upload, after an anchor, at checkpoint and chain call, damaged local state, a full disk, a cut link: all survived, nothing lost or corrupt, all agree', { timeout: 420_000 }, async (t) => {
  const hosts = hostsWhy === null;
  if (!hosts) t.diagnostic(`NOT ON NETWORK HOSTS (${hostsWhy}): the subset runs on loopback with filesystem storage, without link-cut`);
  const faults = hosts ? CI_HOSTS_SCHEDULE : CI_SCHEDULE;
  const lines: string[] = [];
  const r = await runChaos({ seed: 7, faults, hosts, storage: hosts ? 'ceph' : 'fs', blockMs: 400, recoverWindows: 12, keep: process.env.TESSERA_KEEP !== undefined, log: (l) => { if (!l.startsWith('devnet: ')) lines.push(l); } });
  for (const l of lines) t.diagnostic(l);
  for (const s of r.skipped) t.diagnostic(`SKIPPED: ${s}`);
  t.diagnostic(`${hosts ? `on network hosts ${r.hosts_id}` : 'on loopback'}: faults ${r.faults_survived}/${r.faults_injected} survived; uploads lost ${r.uploads_lost}/${r.uploads_in_time}; corrupt ${r.objects_corrupt_seen}/${r.objects_checked}; ` +
    `receipts ${r.receipts_verified}/${r.receipts}; agree ${r.fingerprints_agree} over ${r.windows_compared} windows; ${r.wall_s.toFixed(0)} s; windows_to_recover ${JSON.stringify(r.windows_to_recover)}`);
  assert.equal(r.hosts, hosts);
  assert.equal(r.faults_injected, faults.length - (r.skipped.length ? 1 : 0), `faults: ${JSON.stringify(r.faults)}`);
  for (const f of r.faults) assert.ok(f.survived, `${f.kind} on ${f.target} in window ${f.window}: ${f.detail}`);
  if (hosts) {
    const cut = r.faults.find((f) => f.kind === 'link-cut');
    assert.ok(cut && /chain \S+ unreachable, storage \S+ unreachable/.test(cut.detail), `the cut miner could not reach the chain or storage: ${cut?.detail}`);
    assert.match(r.hosts_id ?? '', /^tsr[0-9a-f]{4}$/);
    const left = execFileSync('ip', ['-o', 'link', 'show']).toString() + execFileSync('ip', ['netns', 'list']).toString();
    assert.ok(!left.includes(r.hosts_id!), `network hosts ${r.hosts_id} left behind`);
  }
  assert.equal(r.uploads_lost, 0, `in-time uploads never scored: ${JSON.stringify(r.lost)}`);
  assert.ok(r.uploads_in_time > 0);
  assert.ok(r.objects_checked > 0);
  assert.equal(r.objects_corrupt_seen, 0, r.corrupt.join('\n'));
  assert.ok(r.fingerprints_agree, `fingerprints differ in windows ${r.mismatched_windows.join(', ')}`);
  assert.ok(r.receipts > 0);
  assert.equal(r.receipts_verified, r.receipts);
  assert.deepEqual(r.failing_nodes, []);
});

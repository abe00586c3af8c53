// A pipeline group across real network hosts: each stage process in its own network namespace
// (src/hosts/netns.ts), listening on and publishing its host's address; the two exchange
// activations and gradients through their veth links, shaped by tc tbf, and train as on loopback.
// Needs root (network namespaces); skipped with the reason otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModelConfig } from '../model/index.js';
import { HostNet, hostsUnavailable } from '../hosts/netns.js';
import { linkCounters } from '../devnet/hosts.js';
import { startGroup } from './group-run.js';
import { addressKey, type StageAddress } from './transport.js';
import { tcRate, utilHostSpecs } from '../bench/hetero-util.js';

const model: ModelConfig = { vocabSize: 97, dim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, ffnHidden: 96, maxSeqLen: 16,
  normEps: 1e-5, ropeTheta: 10000, tiedEmbeddings: false };

test('tc rates and the measured hosts of bench hetero', () => {
  assert.equal(tcRate(1e9), '1000mbit');
  assert.equal(tcRate(1e8), '100mbit');
  assert.equal(tcRate(2.5e5), '250kbit');
  assert.deepEqual(utilHostSpecs(1e9), [{ name: 'stage-0', up: '1000mbit', down: '1000mbit' }, { name: 'stage-1', up: '1000mbit', down: '1000mbit' }]);
  assert.deepEqual(utilHostSpecs(0), [{ name: 'stage-0' }, { name: 'stage-1' }]);
});

const why = await hostsUnavailable();

test('two stages in their own network namespaces exchange activations over tc-shaped links', { skip: why ? `skipped: ${why}` : false }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-pipe-hosts-'));
  const net = await HostNet.create(utilHostSpecs(20e6));
  let group: ReturnType<typeof startGroup> = [];
  try {
    const c = { group: 'gh', stages: 2, window: 0, model, seed: 3, codec: 'subspace' as const, rank: 8, micro: 2, batch: 4, seq: 16, steps: 3, lr: 1e-3,
      buckets: [join(dir, 'b0'), join(dir, 'b1')], upload: false, connectTimeoutMs: 60000 };
    const veth = net.veth('stage-0'), before = linkCounters(veth)!;
    group = startGroup(c, {}, net);
    const ends = await Promise.all(group.map((s) => s.done));
    for (const e of ends) assert.equal(e.end.ok, true, `stage ${e.end.stage}: ${e.end.reason ?? ''} ${e.stderr}`);
    // Stage 1 listened on and published its host's address, and stage 0 reached it there.
    const addr = JSON.parse(readFileSync(join(c.buckets[1]!, addressKey(c.group, 1)), 'utf8')) as StageAddress;
    assert.equal(addr.host, net.hosts[1]!.ip);
    assert.equal(ends[1]!.end.listen, net.hosts[1]!.ip);
    assert.match(String(ends[0]!.end.peer), new RegExp(`^${net.hosts[1]!.ip.replace(/\./g, '\\.')}:${addr.port}$`));
    // The same frames as on loopback (pipeline.test.ts): ids + k coefficients forward, k back, the norms.
    const header = 19, hello = header + JSON.stringify({ group: c.group, stage: 0, window: 0 }).length;
    const out0 = ends[0]!.end.bytesOut as number, in0 = ends[0]!.end.bytesIn as number;
    assert.equal(out0, hello + 3 * (2 * (header + 32 * (2 + 4 * 8)) + header + 8));
    assert.equal(in0, 3 * (2 * (header + 32 * 4 * 8) + header + 8));
    assert.ok(Array.isArray(ends[1]!.end.losses) && (ends[1]!.end.losses as number[]).every(Number.isFinite), 'the last stage reports its losses');
    assert.equal(ends[0]!.end.runQueue, 'kernel', 'with tc-shaped links the run-queue delay comes from the kernel');
    // They crossed stage 0's veth (TCP/IP headers on top) and its tbf qdisc.
    const after = linkCounters(veth)!;
    assert.ok(after.up - before.up >= out0, `veth carried ${after.up - before.up} bytes up, stage 0 sent ${out0}`);
    assert.ok(after.down - before.down >= in0, `veth carried ${after.down - before.down} bytes down, stage 0 received ${in0}`);
    const q = execFileSync('tc', ['-s', '-n', net.hosts[0]!.ns, 'qdisc', 'show', 'dev', 'eth0'], { encoding: 'utf8' });
    assert.match(q, /qdisc tbf .*rate 20Mbit/);
    const sent = Number(/Sent (\d+) bytes/.exec(q)?.[1] ?? 0);
    assert.ok(sent >= out0, `stage 0's tbf passed ${sent} bytes (${q.trim()})`);
  } finally {
    for (const s of group) if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGKILL');
    await Promise.all(group.map((s) => s.done));
    await net.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});

// Network hosts (netns.ts) for real: two namespaces on a bridge, a shaped link measured by a real TCP
// transfer between them, a cut link, and nothing left behind. Needs root; skipped with the reason
// otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cleanupStale, HostNet, hostsUnavailable, HOSTS_PREFIX } from './netns.js';
import { transfer } from './transfer.js';

const why = await hostsUnavailable();
const opts = { skip: why ?? false, timeout: 60_000 };

const mbps = (r: { bytes?: number; ms?: number }): number => ((r.bytes ?? 0) * 8) / ((r.ms ?? 1) / 1000) / 1e6;
const leftovers = (id: string): string => execFileSync('ip', ['-o', 'link', 'show']).toString().split('\n').filter((l) => l.includes(id)).join('\n')
  + execFileSync('ip', ['netns', 'list']).toString().split('\n').filter((l) => l.includes(id)).join('\n');

test('hosts: each in its own namespace; links shaped with tbf as measured by a TCP transfer; a cut link; nothing left behind', opts, async () => {
  const net = await HostNet.create([{ name: 'a', down: '20mbit', up: '8mbit' }, { name: 'b' }]);
  try {
    assert.notEqual(net.host('a').ip, net.host('b').ip);
    const down = await transfer(net, 'b', 'a', 4 << 20);
    assert.equal(down.bytes, 4 << 20, JSON.stringify(down));
    assert.ok(mbps(down) > 14 && mbps(down) < 24, `a's download at ${mbps(down).toFixed(1)} Mbit/s (shaped to 20)`);
    const up = await transfer(net, 'a', 'b', 2 << 20);
    assert.ok(mbps(up) > 5.5 && mbps(up) < 10, `a's upload at ${mbps(up).toFixed(1)} Mbit/s (shaped to 8)`);
    const free = await transfer(net, 'b', 'b', 8 << 20);
    assert.ok(mbps(free) > 100, `unshaped host to itself at ${mbps(free).toFixed(0)} Mbit/s`);
    await net.setLink('a', false);
    const cut = await transfer(net, 'b', 'a', 1 << 20, 1500);
    assert.ok(cut.error !== undefined || (cut.bytes ?? 0) < 1 << 20, `a cut link carried ${JSON.stringify(cut)}`);
    await net.setLink('a', true);
    const back = await transfer(net, 'b', 'a', 1 << 20);
    assert.equal(back.bytes, 1 << 20, 'the link works again');
    process.stderr.write(`# shaped: down ${mbps(down).toFixed(1)} Mbit/s (20), up ${mbps(up).toFixed(1)} Mbit/s (8); unshaped ${mbps(free).toFixed(0)} Mbit/s\n`);
  } finally {
    await net.destroy();
  }
  assert.equal(leftovers(net.id), '', 'every namespace, veth and the bridge are gone');
});

test('hosts: what a crashed run left behind is removed by cleanupStale; bad rates are refused', opts, async () => {
  const net = await HostNet.create([{ name: 'x' }]);
  assert.notEqual(leftovers(net.id), '');
  await cleanupStale();
  assert.equal(leftovers(net.id), '');
  assert.equal(leftovers(HOSTS_PREFIX + net.id.slice(HOSTS_PREFIX.length)), '');
  await assert.rejects(HostNet.create([{ name: 'y', up: 'fast' }]), /is not a rate/);
});

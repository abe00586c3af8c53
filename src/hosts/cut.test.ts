// HostNet.cut/restore for real (the chaos suite's link-cut with --hosts): two namespaces on a bridge;
// with one host cut, TCP fails in both directions (it can neither send nor receive), the other hosts
// still reach each other, and after restore() both directions work again (default route back).
// Needs root; skipped with the reason otherwise. Removes only the HostNet it made.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { HostNet, hostsUnavailable } from './netns.js';
import { transfer } from './transfer.js';

const why = await hostsUnavailable();

/** 64 KiB from host `from` to host `to`: the byte count, or why it failed. */
const fetchFrom = async (net: HostNet, from: string, to: string, timeoutMs = 1500): Promise<string> => {
  const r = await transfer(net, from, to, 65536, timeoutMs);
  return r.error ?? String(r.bytes);
};

test('hosts: cut() takes a host off the bridge in both directions, restore() brings it back; nothing left behind', { skip: why ?? false, timeout: 60_000 }, async () => {
  const net = await HostNet.create([{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
  try {
    assert.equal(await fetchFrom(net, 'a', 'b'), '65536');
    assert.equal(await net.linkUp('a'), true);
    await net.cut('a');
    assert.equal(await net.linkUp('a'), false);
    assert.notEqual(await fetchFrom(net, 'a', 'b'), '65536', 'a cut host still sent');
    assert.notEqual(await fetchFrom(net, 'b', 'a'), '65536', 'a cut host still received');
    assert.equal(await fetchFrom(net, 'b', 'c'), '65536', 'the other hosts still reach each other');
    await net.restore('a');
    assert.equal(await net.linkUp('a'), true);
    assert.equal(await fetchFrom(net, 'a', 'b', 5000), '65536', 'a sends again');
    assert.equal(await fetchFrom(net, 'b', 'a', 5000), '65536', 'a receives again');
    assert.match(execFileSync('ip', ['-n', net.host('a').ns, 'route', 'show', 'default']).toString(), new RegExp(`via ${net.gateway.replace(/\./g, '\\.')}`), 'the default route is back');
  } finally {
    await net.destroy();
  }
  const left = execFileSync('ip', ['-o', 'link', 'show']).toString() + execFileSync('ip', ['netns', 'list']).toString();
  assert.ok(!left.includes(net.id), `${net.id} left behind`);
});

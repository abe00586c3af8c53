// A late anchor read before the chain sealed its block: the devnet serves a call in the block it is
// about to produce, so anchors(W) may list a block that has no timestamp yet. Counting that anchor in
// time ("no timestamp: long past") made the nodes that read it early apply it and the others not
// (seen as "fingerprints differ" in the Ceph devnet test after a storage outage). The timestamp of a
// block not sealed yet is waited for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { startDevnetChainServer, DevnetChainClient } from '../chain/index.js';
import { signer } from '../wallet/index.js';
import { blockTimestamp } from './chaintime.js';
import type { Node } from './node.js';

await cryptoWaitReady();

test('an anchor in a block not sealed yet gets that block\'s timestamp (after the head\'s), not "long past"', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-chaintime-'));
  const server = await startDevnetChainServer({ dir, blockMs: 600, tempo: 100 });
  try {
    const chain = new DevnetChainClient({ url: server.url, retries: 2, backoffMs: 50 });
    const me = signer(new Keyring({ type: 'sr25519', ss58Format: 42 }).addFromUri('//Alice'));
    await chain.register(me);
    const node = { chain, signal: new AbortController().signal, log: () => {}, run: { blocksPerWindow: 10 }, status: { note: () => {}, set: () => {} } } as unknown as Node;
    let anchor;
    for (let i = 0; i < 5 && !anchor; i++) {
      await chain.anchor(me, 100 + i, 'ab'.repeat(32));
      const head = await chain.head();
      const a = (await chain.anchors(100 + i))[0]!;
      if (a.block > head.height) anchor = { a, head };
    }
    assert.ok(anchor, 'the devnet lists an anchor in its next block before sealing it');
    const ts = await blockTimestamp(node, anchor.a.block);
    assert.ok(ts > anchor.head.timestamp, `timestamp ${ts} of block ${anchor.a.block} is after the head's (${anchor.head.timestamp}, block ${anchor.head.height})`);
    assert.equal(ts, await chain.blockTimestamp(anchor.a.block));
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

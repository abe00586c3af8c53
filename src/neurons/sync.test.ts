// Catch-up race after an outage: a leader that catches up writes window W's AggregateRecord and the
// checkpoint of W+1 within milliseconds. A follower that read "no record of W" just before and then
// "checkpoint ahead of W" just after must replay W's record (which is there by then), not jump to the
// checkpoint, so it applies and fingerprints every window.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CODEC_DEFAULTS, fingerprint } from '../compress/index.js';
import { createLlama, getPreset } from '../model/index.js';
import { encodeRecord, keys, type ProtocolRecord } from '../protocol/index.js';
import type { ReadOnlyStore } from '../storage/index.js';
import type { Directory } from './directory.js';
import type { ModelState } from './model-state.js';
import type { Node } from './node.js';
import { StatusBoard } from './status.js';
import { syncTo } from './sync.js';
import type { RunConfig } from './types.js';

test('syncTo replays a record that landed between "no record" and "checkpoint ahead" instead of jumping', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-sync-'));
  try {
    const run = { runId: 'race', codec: { ...CODEC_DEFAULTS } } as unknown as RunConfig;
    const model = createLlama({ ...getPreset('tiny'), vocabSize: 64 });
    model.params.fill(0.5);
    const fp = fingerprint(model.params);
    const W = 7;
    const records = new Map<string, ProtocolRecord>();
    const aggKey = keys.aggregate(run.runId, W);
    const reads: string[] = [];
    let aggReads = 0;
    const store: ReadOnlyStore = {
      async get(key) { return this.getRange(key, 0, Number.MAX_SAFE_INTEGER); },
      async getRange(key) {
        reads.push(key);
        if (key === keys.checkpoint(run.runId, W + 1)) throw new Error('the checkpoint must not be fetched');
        // The first read of W's record misses; the leader writes it and the checkpoint of W+1 right after.
        if (key === aggKey && aggReads++ === 0) {
          records.set(aggKey, { kind: 'aggregate', window: W, uids: [], payloadSha256: [], fingerprintBefore: fp, fingerprintAfter: fp });
          records.set(keys.latestCheckpoint(run.runId), { kind: 'checkpoint', window: W + 1, key: keys.checkpoint(run.runId, W + 1), sha256: '0'.repeat(64), fingerprint: fp });
          return null;
        }
        const r = records.get(key);
        return r ? encodeRecord(r) : null;
      },
      async head() { return null; },
      async list() { return []; },
      close() {},
    };
    const logs: string[] = [];
    const node = {
      signal: new AbortController().signal, status: new StatusBoard(dir, { name: 'm', role: 'miner', hotkey: 'h' }), log: (l: string) => logs.push(l),
      run, model, uid: 1, runHash: 'x',
    } as unknown as Node;
    const directory = { bucket: (uid: number) => (uid === 0 ? store : null) } as unknown as Directory;
    const state: ModelState = { window: W, fingerprint: fp, leader: 0 };
    await syncTo(node, directory, state, W + 1);
    assert.equal(state.window, W + 1);
    assert.deepEqual(reads, [aggKey, keys.latestCheckpoint(run.runId), aggKey], 'record, pointer, record again; no checkpoint download');
    assert.deepEqual(readFileSync(join(dir, 'fingerprints.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as unknown), [{ window: W, fingerprint: fp }]);
    assert.ok(!logs.some((l) => /loading it/.test(l)), logs.join('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

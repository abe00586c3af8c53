// The Chain conformance suite against both implementations: the devnet chain (a real server on an
// ephemeral port) and SubtensorChain on chopsticks executing subtensor's real spec-103 runtime (started
// and stopped here; every check skipped with the reason when chopsticks cannot start).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CHAIN_CHECKS, runChainConformance, type CheckResult, type ConformanceReport } from './conformance.js';
import { devnetFixture, subtensorFixture, type OpenedFixture } from './check.js';
import { startDevnetChainServer, type DevnetServer } from './index.js';
import { Chopsticks, chopsticksScript } from './subtensor/local.js';

/** Runs the suite once in `before`, then reports each check as its own test (a failed check fails its test). */
function suite(title: string, open: () => Promise<{ opened: OpenedFixture; close(): Promise<void> } | string>): void {
  describe(title, () => {
    let report: ConformanceReport | undefined;
    let skip: string | undefined;
    before(async () => {
      const o = await open();
      if (typeof o === 'string') { skip = o; return; }
      try {
        report = await runChainConformance(o.opened.fixture);
      } finally {
        await o.opened.close();
        await o.close();
      }
    });
    for (const check of CHAIN_CHECKS) {
      test(check.name, (t) => {
        if (skip) { t.skip(skip); return; }
        const r = report!.results.find((x: CheckResult) => x.name === check.name)!;
        if (r.status === 'skipped') { t.skip(r.detail); return; }
        assert.equal(r.status, 'passed', r.detail);
      });
    }
    test('every check of the suite ran (none skipped on a local chain)', (t) => {
      if (skip) { t.skip(skip); return; }
      assert.equal(report!.skipped, 0, JSON.stringify(report!.results.filter((r) => r.status === 'skipped')));
      assert.equal(report!.passed, CHAIN_CHECKS.length);
    });
  });
}

suite('Chain conformance: devnet', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-conf-devnet-'));
  const server: DevnetServer = await startDevnetChainServer({ dir, blockMs: 60, tempo: 4, weightsRateLimit: 0 });
  return { opened: await devnetFixture(server.url), close: async () => { await server.close(); rmSync(dir, { recursive: true, force: true }); } };
});

suite('Chain conformance: subtensor (chopsticks, spec-103 runtime)', async () => {
  const found = chopsticksScript();
  if ('missing' in found) return `chopsticks cannot start: ${found.missing}`;
  let node: Chopsticks;
  try {
    node = await Chopsticks.start({ startTimeoutMs: 90_000 });
  } catch (e) {
    return `chopsticks cannot start: ${(e as Error).message}`;
  }
  try {
    return { opened: await subtensorFixture({ endpoint: node.endpoint, netuid: 1, tempo: 5 }), close: () => node.close() };
  } catch (e) {
    await node.close();
    throw e;
  }
});

// One miner's bucket fails in every way a peer's can (security finding 2, with 3, 4 and 8 at network
// level): an honest miner h4 commits a read descriptor that points at a local HTTP server posing as S3,
// which — by the window in the requested key — resets the connection (dead), answers 403 (forbidden),
// answers 503 forever (5xx), drips one byte every half second (slow) or streams zeros without end
// (endless); miner h5 commits a filesystem descriptor whose folder reaches its real bucket only through
// a symbolic link. Every window completes on schedule: the validator scores each of them, h4 and h5
// are `missing` with the reason, the honest miners are aggregated, and the process's memory stays bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { minerOf, runAdversarialScenario, SCENARIO_BLOCKS_PER_WINDOW, SCENARIO_BLOCK_MS } from '../src/bench/adversarial.js';

const BEHAVIOURS = ['dead', 'forbidden', 'unavailable', 'slow', 'endless'] as const;
const WINDOWS = 11;

/** The S3 impostor: behaviour by the window number in the key (…/<10-digit window>/…). */
function impostor(): Promise<{ server: Server; url: string; bytesServed: () => number }> {
  let served = 0;
  const server = createServer((req, res) => {
    const w = /\/(\d{10})[/.]/.exec(req.url ?? '');
    const b = w ? BEHAVIOURS[Number(w[1]) % BEHAVIOURS.length]! : 'forbidden';
    const xml = (code: number, name: string): void => { res.writeHead(code, { 'content-type': 'application/xml' }); res.end(`<?xml version="1.0"?><Error><Code>${name}</Code><Message>${name}</Message></Error>`); };
    switch (b) {
      case 'dead': req.socket.destroy(); return;
      case 'forbidden': xml(403, 'AccessDenied'); return;
      case 'unavailable': xml(503, 'SlowDown'); return;
      case 'slow': {
        res.writeHead(206, { 'content-type': 'application/octet-stream', 'content-length': '100000', 'content-range': 'bytes 0-99999/100000' });
        const t = setInterval(() => { served += 1; res.write(Buffer.from([0])); }, 500);
        res.on('close', () => clearInterval(t));
        return;
      }
      case 'endless': {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const chunk = Buffer.alloc(1 << 16);
        const pump = (): void => { for (let more = true; more && !res.destroyed;) { more = res.write(chunk); served += chunk.length; } if (!res.destroyed) res.once('drain', pump); };
        res.on('close', () => res.removeAllListeners('drain'));
        pump();
        return;
      }
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const a = server.address();
    resolve({ server, url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`, bytesServed: () => served });
  }));
}

test('finding 2: a miner whose bucket is dead, forbidden, failing, slow, endless or a symlink stops no window', { timeout: 150_000 }, async () => {
  const logs: string[] = [];
  const fake = await impostor();
  const root = mkdtempSync(join(tmpdir(), 'tessera-hostile-'));
  // h5's published folder: its real bucket only through a symbolic link.
  const linked = join(root, 'linked-h5');
  mkdirSync(linked, { recursive: true });
  mkdirSync(join(root, 'buckets', 'h5', 'tessera'), { recursive: true });
  symlinkSync(join(root, 'buckets', 'h5', 'tessera'), join(linked, 'tessera'));
  let peakRss = 0;
  const rss0 = process.memoryUsage().rss;
  const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss); }, 100);
  try {
    const r = await runAdversarialScenario({
      adversaries: [], honest: 5, windows: WINDOWS, guardMs: 120_000, root, keep: true,
      publicRead: {
        h4: { kind: 's3', endpoint: fake.url, region: 'us-east-1', bucket: 'h4-bucket', accessKeyId: 'reader', secretAccessKey: 'reader-secret' },
        h5: { kind: 'fs', path: linked, readOnly: true },
      },
      log: (l) => { logs.push(l); if (process.env.TESSERA_TEST_LOG) process.stderr.write(l + '\n'); },
    });
    clearInterval(sampler);
    assert.equal(r.aborted, false, 'finished before the guard timeout');
    const receipts = r.receipts.v0!, uid = Object.fromEntries(r.honest.map((h) => [h.name, h.uid]));
    assert.ok(receipts.length >= WINDOWS - 1, `the validator scored ${receipts.length} of ${WINDOWS} windows`);
    const seen = new Set<string>(), details: string[] = [];
    let honestOk = 0, honestAll = 0;
    for (const rc of receipts) {
      for (const n of ['h4', 'h5']) {
        // The receipt's inputs hold every candidate (a miner never scored stays out of the Gauntlet's state).
        const m = rc.inputs.miners.find((x) => x.uid === uid[n]);
        assert.ok(m, `window ${rc.window}: ${n} not among the validator's inputs`);
        assert.notEqual(m.status, 'ok', `window ${rc.window}: ${n}'s upload was accepted from a broken bucket`);
        assert.ok((m.detail ?? '').length > 0, `window ${rc.window}: ${n} rejected without a reason`);
        details.push(`${rc.window} ${n} ${m.status}: ${m.detail}`);
        if (n === 'h4') seen.add(BEHAVIOURS[rc.window % BEHAVIOURS.length]!);
      }
      for (const n of ['h1', 'h2', 'h3']) { honestAll++; if (minerOf(rc, uid[n]!)?.status === 'ok') honestOk++; }
    }
    assert.equal(seen.size, BEHAVIOURS.length, `behaviours met: ${[...seen].join(', ')}`);
    assert.ok(honestOk >= 0.9 * honestAll, `honest uploads accepted: ${honestOk}/${honestAll}`);
    // On schedule: the validator's gather of each window fits in a window.
    const windowS = (SCENARIO_BLOCKS_PER_WINDOW * SCENARIO_BLOCK_MS) / 1000;
    const timeline = readFileSync(join(root, 'nodes', 'v0', 'timeline.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { window: number; gather_s: number });
    for (const t of timeline) assert.ok(t.gather_s < windowS, `window ${t.window}: gather took ${t.gather_s} s (window ${windowS} s)`);
    // Bounded memory: the endless body is cut at the payload cap.
    const grew = (peakRss - rss0) / 2 ** 20;
    assert.ok(grew < 400, `RSS grew by ${grew.toFixed(0)} MiB (start ${(rss0 / 2 ** 20).toFixed(0)} MiB)`);
    if (process.env.TESSERA_TEST_LOG) process.stderr.write(details.join('\n') + '\n');
    process.stderr.write(`# hostile bucket: ${receipts.length} windows scored, honest ${honestOk}/${honestAll}, RSS +${grew.toFixed(0)} MiB, max gather ${Math.max(...timeline.map((t) => t.gather_s)).toFixed(2)} s, impostor served ${(fake.bytesServed() / 2 ** 20).toFixed(1)} MiB\n`);
  } finally {
    clearInterval(sampler);
    fake.server.closeAllConnections();
    fake.server.close();
    rmSync(root, { recursive: true, force: true });
  }
});

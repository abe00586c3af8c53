// Failpoints (failpoint.ts): the arming file's format, and a real process frozen at a point — it goes
// on after the hold when nobody kills it, it is killed -9 there when the harness does, it ignores
// points it was not armed for, and without TESSERA_FAILPOINTS=1 it never looks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FAILPOINT_FILE, FAILPOINT_HIT, parseFailpointFile } from './failpoint.js';

test('failpoint file: point and hold', () => {
  assert.deepEqual(parseFailpointFile('miner.upload 250\n'), { point: 'miner.upload', holdMs: 250 });
  assert.deepEqual(parseFailpointFile('node.anchor'), { point: 'node.anchor', holdMs: 30_000 });
  assert.equal(parseFailpointFile('  \n'), null);
  assert.equal(parseFailpointFile('x -1'), null);
});

function child(dir: string, env: Record<string, string>): { done: Promise<{ code: number | null; signal: string | null; out: string }>; pid: number } {
  const mod = pathToFileURL(join(import.meta.dirname, 'failpoint.js')).href;
  const src = `import { armFailpoints, failpoint } from ${JSON.stringify(mod)}; armFailpoints(${JSON.stringify(dir)}); failpoint('miner.train'); console.log('past miner.train'); failpoint('miner.upload'); console.log('past miner.upload');`;
  const p = spawn(process.execPath, ['--input-type=module', '-e', src], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  p.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  return { pid: p.pid!, done: new Promise((r) => p.once('exit', (code, signal) => r({ code, signal, out }))) };
}

test('failpoint: a process freezes at the armed point, goes on after the hold, or dies there when killed -9', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-fp-'));
  try {
    // Not enabled: the file is never read.
    writeFileSync(join(dir, FAILPOINT_FILE), 'miner.train 60000');
    let r = await child(dir, { TESSERA_FAILPOINTS: '0' }).done;
    assert.equal(r.code, 0);
    assert.ok(existsSync(join(dir, FAILPOINT_FILE)) && !existsSync(join(dir, FAILPOINT_HIT)));
    // Armed for the second point with a short hold: the first passes, the second holds ~300 ms, fires once.
    writeFileSync(join(dir, FAILPOINT_FILE), 'miner.upload 300');
    const t0 = Date.now();
    r = await child(dir, { TESSERA_FAILPOINTS: '1' }).done;
    assert.equal(r.code, 0);
    assert.match(r.out, /past miner.train\npast miner.upload/);
    assert.ok(Date.now() - t0 >= 300, 'held');
    assert.ok(!existsSync(join(dir, FAILPOINT_FILE)), 'consumed: fires once');
    assert.match(readFileSync(join(dir, FAILPOINT_HIT), 'utf8'), /^miner\.upload \d+ \d+\n$/);
    rmSync(join(dir, FAILPOINT_HIT));
    // Held long, killed -9 by the "harness" once the hit file names its pid: nothing after the point ran.
    writeFileSync(join(dir, FAILPOINT_FILE), 'miner.train 60000');
    const c = child(dir, { TESSERA_FAILPOINTS: '1' });
    const until = Date.now() + 15_000;
    while (!existsSync(join(dir, FAILPOINT_HIT)) || readFileSync(join(dir, FAILPOINT_HIT), 'utf8').split(' ').length < 2) {
      assert.ok(Date.now() < until, 'the child reached the failpoint');
      await new Promise((res) => setTimeout(res, 20));
    }
    const pid = Number(readFileSync(join(dir, FAILPOINT_HIT), 'utf8').split(' ')[1]);
    assert.equal(pid, c.pid);
    process.kill(pid, 'SIGKILL');
    r = await c.done;
    assert.equal(r.signal, 'SIGKILL');
    assert.equal(r.out, '', 'frozen before anything after the point');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

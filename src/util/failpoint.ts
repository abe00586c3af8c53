// Failpoints for the chaos suite (src/bench/chaos.ts): named places in a process where an outside
// harness may freeze it, to kill -9 it at that exact moment (during an upload, between the parts of a
// multipart upload, after a checkpoint object and before its pointer, after a chain call landed and
// before its answer is used). Off unless the environment sets TESSERA_FAILPOINTS=1; then a process
// that called armFailpoints(dir) looks for <dir>/chaos.failpoint at each point. When the file names
// the point, the process takes it (a rename, so it fires once), writes the point, its pid and the time
// into it and renames it to chaos.failpoint.hit, and blocks synchronously (nothing else runs in it) for the hold time the file gives
// (default 30 s), waiting for the harness's SIGKILL; if none comes it carries on as if nothing happened.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const FAILPOINT_ENV = 'TESSERA_FAILPOINTS';
export const FAILPOINT_FILE = 'chaos.failpoint';
export const FAILPOINT_HIT = 'chaos.failpoint.hit';
/** Every failpoint in the code (one name per place). */
export const FAILPOINTS = ['miner.train', 'miner.put', 'miner.upload', 'node.anchor', 'validator.checkpoint', 's3.multipart', 'chain.journaled'] as const;
export type FailpointName = (typeof FAILPOINTS)[number];

let armedDir: string | null = null;

/** Makes this process honour failpoint files in `dir` (only with TESSERA_FAILPOINTS=1). */
export function armFailpoints(dir: string): void {
  if (process.env[FAILPOINT_ENV] === '1') armedDir = dir;
}

/** The arming file's text: the point, then optionally the hold in ms. */
export function parseFailpointFile(text: string): { point: string; holdMs: number } | null {
  const [point, hold] = text.trim().split(/\s+/);
  if (!point) return null;
  const holdMs = hold === undefined ? 30_000 : Number(hold);
  return Number.isFinite(holdMs) && holdMs >= 0 ? { point, holdMs } : null;
}

/** A named point: returns at once unless armed for exactly this point (then see the header). */
export function failpoint(name: FailpointName): void {
  if (armedDir === null) return;
  const file = join(armedDir, FAILPOINT_FILE);
  let want: { point: string; holdMs: number } | null;
  try { want = parseFailpointFile(readFileSync(file, 'utf8')); } catch { return; }
  if (!want || want.point !== name) return;
  const hit = join(armedDir, FAILPOINT_HIT), claim = `${hit}.claim`;
  try { renameSync(file, claim); } catch { return; } // another process (or a second call) took it
  writeFileSync(claim, `${name} ${process.pid} ${Date.now()}\n`);
  renameSync(claim, hit); // the hit file appears whole: the harness never reads a half-written pid
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, want.holdMs);
}

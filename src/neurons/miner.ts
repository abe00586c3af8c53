// The miner: a table of contents of named steps. Per window W (the chain's current window once θ is
// at the start of W): train H inner steps → compress + sign → upload before the deadline → wait for
// the leader's aggregate of W and apply it (bit-identical to everyone) → probe → save local state.
import { sha256Hex } from '../protocol/index.js';
import { currentWindow, nextBlock } from './chaintime.js';
import { Directory } from './directory.js';
import { loadMinerLocal, makePayload, saveMinerLocal, trainWindow, type MinerLocal } from './inner.js';
import type { ModelState } from './model-state.js';
import { startNode, type Node, type NodeOptions } from './node.js';
import { backoffMs, sleep, Stopped } from './retry.js';
import { Stopwatch } from './status.js';
import { bootstrap, syncTo } from './sync.js';
import type { NodeConfig } from './types.js';
import { publishProbe, uploadGradient } from './upload.js';

export async function runMiner(cfg: NodeConfig, opts: NodeOptions = {}): Promise<void> {
  const node = await startNode(cfg, opts);
  const dir = new Directory(node);
  const state: ModelState = { window: 0, fingerprint: '', leader: null };
  if (cfg.behavior !== undefined && cfg.behavior !== 'honest') node.log(`behavior '${cfg.behavior}' is not implemented yet: mining honestly`);
  let synced = false;
  try {
    const local = loadMinerLocal(node);
    for (let failures = 0; ;) {
      try {
        if (!synced) { await bootstrap(node, dir, state); synced = true; }
        const W = await nextTrainingWindow(node, dir, state);
        if (cfg.stopAfterWindow !== undefined && W > cfg.stopAfterWindow) break;
        await mineWindow(node, dir, state, local, W);
        failures = 0;
        if (cfg.stopAfterWindow !== undefined && W >= cfg.stopAfterWindow) break;
      } catch (e) {
        if (e instanceof Stopped) throw e;
        failures++;
        synced = false; // θ may be half-updated: re-sync from the leader's checkpoint and records
        node.log(`window failed: ${(e as Error).stack ?? String(e)}`);
        node.status.set('retry', { lastError: (e as Error).message });
        await sleep(backoffMs(Math.min(failures, 6)), node.signal);
      }
    }
  } catch (e) {
    if (!(e instanceof Stopped)) throw e;
  } finally {
    stop(node, dir);
  }
}

/** The window to train next: the chain's current window, once θ has caught up to its start. */
async function nextTrainingWindow(node: Node, dir: Directory, state: ModelState): Promise<number> {
  for (;;) {
    const W = await currentWindow(node);
    if (state.window === W) return W;
    if (state.window > W) await nextBlock(node); // cannot happen on a sane chain; wait it out
    else {
      node.status.set('sync', { window: W });
      await syncTo(node, dir, state, W);
    }
  }
}

async function mineWindow(node: Node, dir: Directory, state: ModelState, local: MinerLocal, W: number): Promise<void> {
  const sw = new Stopwatch();
  node.status.set('train', { window: W });
  const { delta, loss } = await sw.time('train', () => trainWindow(node, local, W));
  node.status.set('encode', { loss });
  const own = new Map<string, Uint8Array>();
  if (delta) {
    const { bytes, efNext } = await sw.time('encode', () => makePayload(node, local, delta, W));
    node.status.set('upload');
    const outcome = await sw.time('upload', () => uploadGradient(node, W, bytes));
    if (outcome === 'uploaded' || outcome === 'already_uploaded') {
      local.ef = efNext;
      sw.payloadBytes = bytes.length;
      own.set(sha256Hex(bytes), bytes);
    }
    node.log(`window ${W}: loss ${loss.toFixed(4)}, payload ${bytes.length} bytes ${outcome}`);
  }
  await syncTo(node, dir, state, W + 1, sw, own);
  if (state.window === W + 1) await publishProbe(node, W);
  saveMinerLocal(node, local, W);
  node.status.timeline(sw.entry(W, state.fingerprint));
  node.status.set('idle');
}

function stop(node: Node, dir: Directory): void {
  dir.close();
  node.store.close();
  node.status.set('stopped');
  node.log('stopped');
}

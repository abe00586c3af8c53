// The miner: a table of contents of named steps. Per window W (the chain's current window once θ is
// at the start of W): train H inner steps → compress + sign → upload before the deadline → wait for
// the leader's aggregate of W and apply it (bit-identical to everyone) → probe → save local state.
// An adversarial NodeConfig.behavior (behaviors.ts) changes only what is sent and when.
import { sha256Hex } from '../protocol/index.js';
import { currentWindow, nextBlock } from './chaintime.js';
import { Directory } from './directory.js';
import { Behavior, parseBehavior } from './behaviors.js';
import { loadMinerLocal, saveMinerLocal, type MinerLocal } from './inner.js';
import type { ModelState } from './model-state.js';
import { startNode, type Node, type NodeOptions } from './node.js';
import { backoffMs, sleep, Stopped } from './retry.js';
import { Stopwatch } from './status.js';
import { bootstrap, syncTo } from './sync.js';
import type { NodeConfig } from './types.js';
import { publishProbe } from './upload.js';

export async function runMiner(cfg: NodeConfig, opts: NodeOptions = {}): Promise<void> {
  const behavior = new Behavior(parseBehavior(cfg.behavior)); // an unknown name fails before registering
  const node = await startNode(cfg, opts);
  const dir = new Directory(node);
  const state: ModelState = { window: 0, fingerprint: '', leader: null };
  if (behavior.name !== 'honest') node.log(`ADVERSARIAL behavior '${behavior.name}' (tests and demos)`);
  let synced = false;
  try {
    const local = loadMinerLocal(node);
    for (let failures = 0; ;) {
      try {
        if (!synced) { await bootstrap(node, dir, state); synced = true; }
        const W = await nextTrainingWindow(node, dir, state);
        if (cfg.stopAfterWindow !== undefined && W > cfg.stopAfterWindow) break;
        await mineWindow(node, dir, state, local, behavior, W);
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

async function mineWindow(node: Node, dir: Directory, state: ModelState, local: MinerLocal, behavior: Behavior, W: number): Promise<void> {
  const sw = new Stopwatch();
  const work = await behavior.produce(node, dir, local, W, sw);
  const own = new Map<string, Uint8Array>();
  if (work) {
    node.status.set('upload');
    const outcome = await sw.time('upload', () => behavior.upload(node, W, work.bytes));
    if (outcome === 'uploaded' || outcome === 'already_uploaded') {
      if (work.efNext) local.ef = work.efNext;
      behavior.uploaded(W, work);
      sw.payloadBytes = work.bytes.length;
      own.set(sha256Hex(work.bytes), work.bytes);
    }
    node.log(`window ${W}: loss ${work.loss.toFixed(4)}, payload ${work.bytes.length} bytes ${outcome}`);
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

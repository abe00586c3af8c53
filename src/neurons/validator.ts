// The validator: a table of contents of named steps. Per window W (one window behind the chain):
// watch uploads until W's deadline → gather + verify → score with the Gauntlet (receipt to own bucket)
// → next window's peer list + apply the clean uploads and publish the AggregateRecord (leader), or
// replay the leader's (follower) → checkpoint → weights every run.weightsEvery windows → val loss.
import { Directory } from './directory.js';
import { gatherGradients, watchUploads } from './gather.js';
import { publishAggregate, publishPeers, startOrResumeRun, writeCheckpoint } from './leader.js';
import type { ModelState } from './model-state.js';
import { startNode, type Node, type NodeOptions } from './node.js';
import { backoffMs, retrying, sleep, Stopped } from './retry.js';
import { Scorer } from './scoring.js';
import { Stopwatch } from './status.js';
import { bootstrap, syncTo } from './sync.js';
import type { NodeConfig } from './types.js';

/** Devnet faucet stake a validator takes when it holds none (NodeConfig.stake overrides). */
export const DEFAULT_STAKE = 1000;

type Role = 'lead' | 'follow';

export async function runValidator(cfg: NodeConfig, opts: NodeOptions = {}): Promise<void> {
  const node = await startNode(cfg, opts);
  const dir = new Directory(node);
  const state: ModelState = { window: 0, fingerprint: '', leader: null };
  let role: Role | null = null;
  try {
    await ensureStake(node, dir);
    const scorer = new Scorer(node);
    let first = -1;
    for (let failures = 0; ;) {
      try {
        if (role === null) role = await takeRole(node, dir, state);
        if (first < 0) first = state.window;
        const W = state.window;
        if (cfg.stopAfterWindow !== undefined && W > cfg.stopAfterWindow) break;
        await validateWindow(node, dir, state, scorer, role, W, first);
        failures = 0;
      } catch (e) {
        if (e instanceof Stopped) throw e;
        failures++;
        role = null; // θ may be half-updated: re-sync from the records before going on
        node.log(`window ${state.window} failed: ${(e as Error).stack ?? String(e)}`);
        node.status.set('retry', { lastError: (e as Error).message });
        await sleep(backoffMs(Math.min(failures, 6)), node.signal);
      }
    }
  } catch (e) {
    if (!(e instanceof Stopped)) throw e;
  } finally {
    dir.close();
    node.store.close();
    node.status.set('stopped');
    node.log('stopped');
  }
}

/** Devnet: takes faucet stake so the hotkey holds a validator permit (a real chain stakes from a coldkey). */
async function ensureStake(node: Node, dir: Directory): Promise<void> {
  const amount = node.cfg.stake ?? DEFAULT_STAKE;
  if (amount <= 0 || (await (await dir.refresh()).stakeOf(node.uid)) > 0) return;
  try {
    await retrying(node, 'add stake', () => node.chain.addStake(node.signer, amount));
    node.log(`staked ${amount} from the devnet faucet`);
  } catch (e) {
    node.log(`could not add stake (${(e as Error).message}); stake this hotkey to get a validator permit`);
  }
}

/** Leader (highest stake with a permit) starts or resumes the run; any other validator follows the leader. */
async function takeRole(node: Node, dir: Directory, state: ModelState): Promise<Role> {
  const leader = await (await dir.refresh()).leader();
  if (leader === node.uid) {
    await startOrResumeRun(node, dir, state);
    return 'lead';
  }
  node.log(`following leader uid ${leader ?? '(none yet)'}`);
  await bootstrap(node, dir, state);
  return 'follow';
}

async function validateWindow(node: Node, dir: Directory, state: ModelState, scorer: Scorer, role: Role, W: number, first: number): Promise<void> {
  const sw = new Stopwatch();
  const watch = await watchUploads(node, dir, W);
  scorer.beginWindow(W);
  const gathered = await sw.time('gather', () => gatherGradients(node, dir, watch, watch.candidates, sw));
  node.status.set('score');
  const result = await sw.time('score', () => scorer.scoreWindow(W, dir, watch.candidates, gathered));
  node.status.set('apply');
  if (role === 'lead') {
    await publishPeers(node, W + 1, result.peers, result.reserves);
    const chosen = new Set(result.aggregate);
    const rec = await sw.time('apply', () => publishAggregate(node, state, W, gathered.valid.filter((v) => chosen.has(v.uid))));
    node.log(`window ${W}: aggregated uids [${rec.uids.join(' ')}] → ${rec.fingerprintAfter.slice(0, 12)}`);
    if ((state.window - first) % node.run.checkpointEvery === 0) {
      node.status.set('checkpoint');
      await writeCheckpoint(node, state);
    }
  } else await syncTo(node, dir, state, W + 1, sw);
  if ((W + 1 - first) % node.run.weightsEvery === 0) await setWeights(node, scorer);
  const valLoss = await sw.time('score', () => scorer.valLoss());
  node.status.set('idle', { valLoss, loss: valLoss });
  node.status.timeline(sw.entry(W, state.fingerprint));
  const line = result.miners.map((m) => `${m.uid}:${m.final.toFixed(3)}${m.penalties.length ? `(${m.penalties.map((p) => p.kind).join(',')})` : m.gate ? '(own-data)' : ''}`);
  node.log(`window ${W}: val loss ${valLoss.toFixed(4)}; final scores ${line.join(' ') || '-'}`);
}

/** The Gauntlet's shaped weights on chain (peers and reserves with positive final scores); recorded in status.weights. */
async function setWeights(node: Node, scorer: Scorer): Promise<void> {
  const { uids, weights } = scorer.weights();
  if (uids.length === 0) { node.log('no miner scores above 0 yet: weights not set'); return; }
  try {
    await retrying(node, 'set weights', () => node.chain.setWeights(node.signer, uids, weights));
    node.status.set(node.status.phase, { weights: Object.fromEntries(uids.map((u, i) => [u, weights[i]!])) });
    node.log(`set weights ${uids.map((u, i) => `${u}:${weights[i]!.toFixed(3)}`).join(' ')}`);
  } catch (e) {
    if (e instanceof Stopped) throw e;
    node.log(`setting weights failed: ${(e as Error).message}`);
    node.status.note({ lastError: `set weights: ${(e as Error).message}` });
  }
}

// The validator: a table of contents of named steps. Per window W (θ at the start of W), once the
// chain is past W's deadline: gather + verify every anchored upload → score with the Gauntlet (receipt
// to own bucket) → publish and anchor the peer list of W+1 → compute W's aggregate exactly as every
// node does, apply it and publish the AggregateRecord → checkpoint → weights → validation loss.
// Every validator does all of it; which one leads a window follows from the chain's anchors
// (protocol/aggregation.ts), so a validator that stops is replaced by the next one by stake at once.
import { SubtensorChain } from '../chain/subtensor/chain.js';
import { chainHead, chainNow, deadlineOf } from './chaintime.js';
import { Directory } from './directory.js';
import { gatherUploads } from './gather.js';
import { SharedModel } from './model-state.js';
import { startNode, type Node, type NodeOptions } from './node.js';
import { keepAppliedCopies, publishAggregate, publishPeers, startOrJoinRun, writeCheckpoint } from './publish.js';
import { backoffMs, retrying, sleep, Stopped } from './retry.js';
import { Scorer } from './scoring.js';
import { Stopwatch } from './status.js';
import { advance, crossCheck } from './sync.js';
import type { NodeConfig } from './types.js';
import { gatherAggregate, planWindow, windowAnchors } from './window-aggregate.js';
import { windowOf } from '../protocol/index.js';

/**
 * A validator this many windows behind the chain or fewer (an outage, a restart) still scores the
 * window it catches up on (its in-time uploads are anchored and in the miners' buckets: not scoring
 * them would lose them), only without publishing the next window's peer list (too late to count).
 * Further behind, it applies windows unscored until it is this close again. 4 lost 6 uploads in the
 * chaos suite (a 17 s gateway outage put both validators 5 windows of 3.6 s behind); scoring a window of
 * the devnet's model takes well under a window, so a late validator gains on the chain and catches up.
 */
export const SCORE_BEHIND_WINDOWS = 8;

/** Devnet faucet stake a validator takes when it holds none (NodeConfig.stake overrides). */
export const DEFAULT_STAKE = 1000;

export async function runValidator(cfg: NodeConfig, opts: NodeOptions = {}): Promise<void> {
  const node = await startNode(cfg, opts);
  const dir = new Directory(node);
  const model = new SharedModel(node);
  try {
    await ensureStake(node, dir);
    const scorer = new Scorer(node);
    for (let failures = 0; ;) {
      try {
        if (!model.ready) await startOrJoinRun(node, dir, model);
        const W = model.window;
        if (cfg.stopAfterWindow !== undefined && W > cfg.stopAfterWindow) break;
        await validateWindow(node, dir, model, scorer, W);
        failures = 0;
      } catch (e) {
        if (e instanceof Stopped) throw e;
        failures++;
        model.invalidate(); // θ may be half-updated: re-sync from the checkpoints and records before going on
        node.log(`window ${model.window} failed: ${(e as Error).stack ?? String(e)}`);
        node.status.set('retry', { lastError: (e as Error).message });
        await sleep(backoffMs(Math.min(failures, 6)), node.signal);
      }
    }
  } catch (e) {
    if (!(e instanceof Stopped)) throw e;
  } finally {
    dir.close();
    node.store.close();
    if (node.chain instanceof SubtensorChain && !opts.chain) await node.chain.close().catch(() => {});
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
    const got = await (await dir.refresh()).stakeOf(node.uid);
    node.log(got < amount ? `staked ${got} from the devnet faucet (asked for ${amount}; the faucet caps what one hotkey gets)` : `staked ${got} from the devnet faucet`);
  } catch (e) {
    node.log(`could not add stake (${(e as Error).message}); stake this hotkey to get a validator permit`);
  }
}

async function validateWindow(node: Node, dir: Directory, model: SharedModel, scorer: Scorer, W: number): Promise<void> {
  const sw = new Stopwatch();
  node.status.set('wait', { window: W });
  const anchors = await windowAnchors(node, W);
  // Too late to publish W+1's peer list in time (a restart, an outage): still score W when at most
  // SCORE_BEHIND_WINDOWS behind; further behind, apply W like any catching-up node.
  const head = await chainHead(node);
  const late = head.height > (W + 2) * node.run.blocksPerWindow && head.timestamp > (await deadlineOf(node, W + 1));
  const behind = windowOf(head.height, node.run.blocksPerWindow) - W;
  if (late && behind > SCORE_BEHIND_WINDOWS) {
    const r = await advance(node, dir, model, { sw, recordsFirst: true });
    node.log(`window ${W}: catching up (not scored: ${behind} windows behind, more than ${SCORE_BEHIND_WINDOWS}): applied uids [${r.uids.join(' ')}] → ${model.fingerprint.slice(0, 12)}`);
    return;
  }
  const candidates = [...new Set([...(await (await dir.refresh()).miners()), ...[...anchors.inTime.keys(), ...anchors.late.keys()].filter((u) => u !== node.uid && !isValidator(dir, u))])].sort((a, b) => a - b);
  scorer.beginWindow(W);
  const gathered = await sw.time('gather', () => gatherUploads(node, dir, anchors, candidates, sw));
  node.status.set('score');
  const slots = (await planWindow(node, dir, W)).slots;
  const result = await sw.time('score', () => scorer.scoreWindow(W, dir, candidates, gathered, slots));
  node.status.metrics.scored(result.miners, gathered.rejected);
  if (late) node.log(`window ${W}: scored ${behind} window(s) late (an outage or a restart): no peer list for window ${W + 1}, it would not count`);
  else if (result.peers.length + result.reserves.length > 0) await publishPeers(node, W + 1, result.peers, result.reserves);
  else node.log(`window ${W}: no miner is eligible yet (evaluated, positive final score, no recent offence): no peer list for window ${W + 1}, so the last list (or the open start) stands`);
  node.status.set('apply');
  const plan = await planWindow(node, dir, W);
  const agg = await gatherAggregate(node, dir, plan, undefined, sw, gathered.fetched);
  const before = model.fingerprint;
  const after = await sw.time('apply', () => model.apply(W, agg.updates));
  await keepAppliedCopies(node, agg);
  await publishAggregate(node, agg, before, after);
  // Cross-check the window before with its leader's record (a difference re-syncs this validator).
  if (W > 0) await crossCheck(node, dir, W - 1, before, (await planWindow(node, dir, W - 1)).leader);
  node.log(`window ${W}: aggregated uids [${agg.uids.join(' ')}] (peer list of ${plan.leader === null ? 'nobody yet' : `uid ${plan.leader}${plan.leader === node.uid ? ' = this validator' : ''}`}) → ${after.slice(0, 12)}`);
  if (model.window % node.run.checkpointEvery === 0) {
    node.status.set('checkpoint');
    await writeCheckpoint(node, model);
  }
  if ((W + 1) % node.run.weightsEvery === 0) await setWeights(node, scorer);
  const valLoss = await sw.time('score', () => scorer.valLoss());
  // Replay audits of W's picked uploads (audit.ts): one, and more while they end before W + 1's deadline (when W + 1 is
  // scored: its peer list for W + 2 must not wait for audits). Their results go into W + 1's receipt.
  node.status.set('audit');
  const t0 = performance.now(), now = chainNow(node);
  const audits = await scorer.runAudits(dir, Date.now() + (await deadlineOf(node, W + 1)) - (now ?? Date.now()));
  const auditS = (performance.now() - t0) / 1000;
  node.status.set('idle', { valLoss, loss: valLoss });
  node.status.timeline({
    ...sw.entry(W, model.fingerprint), ...(audits > 0 ? { audits, audit_s: Math.round(auditS * 1e4) / 1e4 } : {}), aggregated: agg.uids, leader: plan.leader,
    val_loss: valLoss, valid: gathered.valid.map((v) => v.uid), late: [...gathered.rejected].filter(([, r]) => r.reason === 'late').map(([u]) => u),
  });
  const line = result.miners.map((m) => `${m.uid}:${m.final.toFixed(3)}${m.penalties.length ? `(${m.penalties.map((p) => p.kind).join(',')})` : m.gate ? '(own-data)' : ''}`);
  node.log(`window ${W}: val loss ${valLoss.toFixed(4)}; final scores ${line.join(' ') || '-'}; next peers [${result.peers.join(' ')}]`);
}

function isValidator(dir: Directory, uid: number): boolean {
  const m = dir.metagraph, i = m ? m.uids.indexOf(uid) : -1;
  return i >= 0 && !!m!.validatorPermit[i];
}

/** The Gauntlet's shaped weights on chain (eligible miners with positive final scores); recorded in status.weights. */
async function setWeights(node: Node, scorer: Scorer): Promise<void> {
  const { uids, weights } = scorer.weights();
  if (uids.length === 0) { node.log('no miner is eligible for weight yet (none evaluated with a positive final score and no recent penalty): weights not set'); return; }
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

// Scenarios outside the protocol: adversarial miners for tests, demos and the Gauntlet bench. They
// plug into the miner through its hooks (neurons/miner.ts MinerHooks); nothing in neurons/ knows them.
import { runMiner, type MinerOptions, type NodeConfig } from '../neurons/index.js';
import { adversaryHooks, parseBehavior } from './adversaries.js';

export { BEHAVIORS, parseBehavior, adversaryHooks, flakyHooks, parkThenCopyHooks, rewriterHooks, SCALE_FACTOR, STALE_AGE, type BehaviorName } from './adversaries.js';

/** runMiner with the hooks of cfg.behavior (honest: none). An unknown name fails before registering. */
export function runScenarioMiner(cfg: NodeConfig, opts: MinerOptions = {}): Promise<void> {
  return runMiner(cfg, { ...opts, hooks: adversaryHooks(parseBehavior(cfg.behavior), { target: cfg.behaviorTarget }) });
}

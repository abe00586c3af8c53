// The node processes: runMiner / runValidator (each a loop of named steps) and the status contract
// (status.json, timeline.jsonl, fingerprints.jsonl under the node's dataDir).
export { runMiner, type MinerHooks, type MinerContext, type MinerOptions, type Work } from './miner.js';
export { runValidator, DEFAULT_STAKE } from './validator.js';
export type { NodeOptions } from './node.js';
export { STATUS_FILE, TIMELINE_FILE, FINGERPRINTS_FILE, LOG_FILE } from './status.js';
export { MINER_STATE_FILE } from './inner.js';
export { GAUNTLET_FILE, readReceipts, receiptsPrefix, type ReadReceiptsOptions } from './scoring.js';
export type { NodeConfig, NodeStatus, Phase, RunConfig, TimelineEntry } from './types.js';
export { NodeMetrics, serveMetrics, WINDOW_PARTS } from './metrics.js';

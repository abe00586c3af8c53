// Public surface of the chain layer: the Chain interface and Metagraph (subtensor names), Yuma
// consensus as a pure function, and the devnet (state machine, HTTP server, fetch client).
export { ChainError, SS58_PREFIX, type Anchor, type Chain, type ChainErrorCode, type ChainParams, type BlockHead, type Metagraph, type Signer, type SparseRow } from './types.js';
export { yumaEpoch, denseMatrix, type YumaInput, type YumaOutput, type MatrixRow } from './yuma.js';
export { weightedMedian, weightedMedianCol, isTopkNonzero, toU16Proportion, normalize } from './yuma-math.js';
export { genesis, applyCall, produceBlock, metagraphOf, commitmentsOf, anchorsOf, pruneAnchors, blockTimestampOf, blockHashOf, sealHash, checkParams, permits, DEFAULT_PARAMS, TIMESTAMP_HISTORY, ANCHORS_PER_UID,
  MAX_STAKE_PER_HOTKEY, MAX_TOTAL_STAKE, MAX_WEIGHT, MAX_UIDS_LIMIT, MAX_EMISSION_PER_BLOCK, REGISTRATIONS_PER_BLOCK, IMMUNITY_PERIOD, DEFAULT_FAUCET_CAP,
  faucetLimit, uidToReplace, totalStake, type FaucetConfig, type DevnetState, type AnchorTable, type Neuron, type EpochResult } from './devnet/state.js';
export { callMessage, callHash, canonicalJson, parseSignedCall, CALL_PREFIX, WRITE_METHODS, type UnsignedCall, type SignedCall, type WriteMethod } from './devnet/call.js';
export { startDevnetChainServer, MAX_CONNECTIONS, HEADERS_TIMEOUT_MS, REQUEST_TIMEOUT_MS, type DevnetServerOptions, type DevnetServer } from './devnet/server.js';
export { DevnetChainClient, type DevnetClientOptions, type DevnetInfo } from './devnet/client.js';
export { loadState, loadChain, STATE_FILE, JOURNAL_FILE } from './devnet/persist.js';
export { checkState, StateFieldError } from './devnet/check-state.js';
export { verifyCall, publicKeyOf, cryptoReady } from './devnet/verify.js';

// Public surface of the chain layer: the Chain interface and Metagraph (subtensor names), Yuma
// consensus as a pure function, and the devnet (state machine, HTTP server, fetch client).
export { ChainError, SS58_PREFIX, type Anchor, type Chain, type ChainErrorCode, type ChainParams, type BlockHead, type Metagraph, type Signer, type SparseRow } from './types.js';
export { yumaEpoch, denseMatrix, type YumaInput, type YumaOutput, type MatrixRow } from './yuma.js';
export { weightedMedian, weightedMedianCol, isTopkNonzero, toU16Proportion, normalize } from './yuma-math.js';
export { genesis, applyCall, produceBlock, metagraphOf, commitmentsOf, anchorsOf, pruneAnchors, blockTimestampOf, checkParams, permits, DEFAULT_PARAMS, TIMESTAMP_HISTORY, ANCHORS_PER_UID, type DevnetState, type AnchorTable, type Neuron, type EpochResult } from './devnet/state.js';
export { callMessage, callHash, canonicalJson, parseSignedCall, CALL_PREFIX, WRITE_METHODS, type UnsignedCall, type SignedCall, type WriteMethod } from './devnet/call.js';
export { startDevnetChainServer, type DevnetServerOptions, type DevnetServer } from './devnet/server.js';
export { DevnetChainClient, type DevnetClientOptions, type DevnetInfo } from './devnet/client.js';
export { loadState, STATE_FILE } from './devnet/persist.js';
export { verifyCall, publicKeyOf, cryptoReady } from './devnet/verify.js';

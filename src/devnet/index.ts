// Public surface of the devnet: one call starts chain + storage + miners + validator as separate
// processes under one folder (resumable), plus the snapshot/terminal view and the run defaults.
export { Devnet, type DevnetNode } from './orchestrator.js';
export { DEVNET_DEFAULTS, ADVERSARIAL_BEHAVIORS, adversaryName, parseAdversaries, makeRunConfig, defaultDeadlineS, readRecord, RECORD_FILE, type DevnetOptions, type DevnetRecord, type DevnetStorage, type RunOverrides } from './config.js';
export { renderFrame, renderLine, fingerprintAgreement, readFingerprints, readStatus, readTimeline, readJsonl, type DevnetSnapshot, type NodeRow, type Agreement } from './view.js';
export { bucketName } from './storage.js';
export { ensureNodeUser, signV4, type S3Admin } from './rgw-admin.js';
export { CHAIN_READY_PREFIX, PARENT_ENV, TesseraProcess, watchParent } from './process.js';
export { devnetChainView, liveChainView, validatorStore, storeKindOf, type ChainView } from './chain-view.js';

// The Chain interface every node uses (devnet now, a subtensor adapter later), the Metagraph it
// returns under subtensor's storage names, and the Signer (a hotkey pair) that performs writes.
import { TesseraError } from '../util/errors.js';

/** SS58 address format of Bittensor (the generic Substrate prefix). */
export const SS58_PREFIX = 42;

/** A hotkey able to sign: SS58 address (prefix 42, as Bittensor) and sr25519 signatures. */
export interface Signer {
  readonly address: string;
  sign(message: Uint8Array): Promise<Uint8Array>;
}

export interface BlockHead {
  height: number;
  /** Block timestamp in ms since the epoch, set by the chain (the time authority), not local clocks. */
  timestamp: number;
}

export type SparseRow = Array<[number, number]>;

/** Chain hyperparameters (subtensor names in comments). */
export interface ChainParams {
  tempo: number;               // Tempo: blocks between Yuma epochs
  kappa: number;               // Kappa / 65535 (subtensor default 32767: 32767/65535; the devnet quantizes to u16)
  bondsMovingAverage: number;  // BondsMovingAverage / 1e6 (900_000 → 0.9)
  bondsPenalty: number;        // BondsPenalty / 65535 (default 1: bonds from clipped weights)
  maxAllowedValidators: number;// MaxAllowedValidators: top-K stake holds a ValidatorPermit
  maxAllowedUids: number;      // MaxAllowedUids
  weightsRateLimit: number;    // WeightsSetRateLimit: blocks between two setWeights of one hotkey
  activityCutoff: number;      // blocks; validators silent longer lose their stake weight (subtensor: ActivityCutoffFactorMilli × tempo / 1000)
  emissionPerBlock: number;    // subnet emission per block (epoch emission = tempo × this)
  ownerCut: number;            // fraction of emission to the subnet owner before the 50/50 split
}

export interface Metagraph {
  /** Height and timestamp the metagraph was read at. */
  block: number;
  timestamp: number;
  n: number;
  uids: number[];
  hotkeys: string[];           // Keys
  stake: number[];
  validatorPermit: boolean[];  // ValidatorPermit
  lastUpdate: number[];        // LastUpdate: block of the last setWeights (or registration)
  blockAtRegistration: number[];
  /** Results of the last Yuma epoch (all zero before the first). */
  lastEpoch: number;
  Rank: number[];
  /** Legacy: subtensor no longer computes Trust; the devnet gives zeros, SubtensorChain what an old runtime stores (else zeros). */
  Trust: number[];
  Consensus: number[];
  Incentive: number[];
  Dividends: number[];
  ValidatorTrust: number[];
  Emission: number[];          // per uid emission of the last epoch
  Bonds: SparseRow[];          // u16 proportions (u16 / 65535) as subtensor stores them; classic Yuma: column max-upscaled
  Weights: SparseRow[];        // as set by each validator (raw values; Yuma normalizes rows)
  tempo: number;
  kappa: number;
  bondsMovingAverage: number;
  weightsRateLimit: number;
  maxAllowedValidators: number;
  activityCutoff: number;
  /** Commit-reveal of weights: a setWeights shows in Weights this many epochs later (RevealPeriodEpochs); 0 = off. */
  revealPeriodEpochs: number;
}

/** A digest a uid anchored for a window, and the block that included it. */
export interface Anchor {
  uid: number;
  /** 64 lowercase hex digits (a sha256). */
  digest: string;
  block: number;
  /** Position among the anchors included in the same block, in arrival order (0 first); absent where the chain does not say. */
  index?: number;
}

export interface Chain {
  head(): Promise<BlockHead>;
  /** Timestamp of a past block; recent history only on the devnet. */
  blockTimestamp(height: number): Promise<number>;
  /**
   * Hash of a past block (0x + 64 hex digits): randomness nobody knows before the block is sealed (the
   * Gauntlet's evaluation beacon, docs/protocol.md "Gauntlet"). Recent history only on the devnet.
   */
  blockHash(height: number): Promise<string>;
  /** Registers the hotkey (idempotent: an already registered hotkey gets its uid back). */
  register(hotkey: Signer): Promise<number>;
  /** Devnet faucet: adds stake to the hotkey. A real chain stakes from a coldkey instead. */
  addStake(hotkey: Signer, amount: number): Promise<void>;
  /** Publishes the hotkey's commitment (bucket location + read credentials; Commitments.CommitmentOf). */
  commit(hotkey: Signer, data: string): Promise<void>;
  commitments(): Promise<Record<number, string>>;
  /** Sets the validator's weights (uids and non-negative weights of equal length). */
  setWeights(hotkey: Signer, uids: number[], weights: number[]): Promise<void>;
  metagraph(): Promise<Metagraph>;
  /**
   * Anchors a digest for a window (docs/protocol.md "Anchors"): the chain records (uid, window, digest)
   * with the block that includes the call. One anchor per (hotkey, window): the same digest again is a
   * no-op, another digest is refused (code 'anchored').
   */
  anchor(hotkey: Signer, window: number, digest: string): Promise<void>;
  /** The anchors of a window, ascending uid (recent windows only on the devnet). */
  anchors(window: number): Promise<Anchor[]>;
  /** Resolves once the chain reaches `height`; rejects with code 'timeout' after timeoutMs. */
  waitForBlock(height: number, timeoutMs: number): Promise<BlockHead>;
}

/** Machine-readable reasons a chain call fails (the same codes travel over the devnet's HTTP API). */
export type ChainErrorCode =
  | 'bad_request' | 'bad_signature' | 'wrong_hotkey' | 'wrong_chain' | 'nonce_used'
  | 'not_registered' | 'no_permit' | 'rate_limited' | 'full' | 'not_found' | 'unavailable' | 'timeout' | 'anchored';

export class ChainError extends TesseraError {
  constructor(public readonly code: ChainErrorCode, message: string, hint?: string, public readonly details?: Record<string, unknown>) {
    super(message, hint);
    this.name = 'ChainError';
  }
}

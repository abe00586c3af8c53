// SubtensorChain: the Chain interface over a subtensor node's JSON-RPC (@polkadot/api). Call shapes come
// from the runtime's metadata (calls.ts); the metagraph is read at one block hash; anchors (and, where
// the runtime has no Commitments pallet, commitments) travel as System.remark texts that the adapter
// finds again by scanning blocks (docs/chain.md "Subtensor").
import { ApiPromise, WsProvider } from '@polkadot/api';
import type { SubmittableExtrinsic } from '@polkadot/api/types';
import type { Call, DispatchError, EventRecord, SignedBlock } from '@polkadot/types/interfaces';
import type { Signer as PolkadotSigner, SignerResult } from '@polkadot/types/types';
import { hexToU8a, u8aConcat, u8aToHex, u8aToString } from '@polkadot/util';
import { blake2AsU8a, cryptoWaitReady } from '@polkadot/util-crypto';
import { randomInt } from 'node:crypto';
import { ChainError, type Anchor, type BlockHead, type Chain, type ChainErrorCode, type Metagraph, type Signer, type SparseRow } from '../types.js';
import {
  anchorRemark, commitHash, commitmentText, commitRemark, parseRemark, RAO_PER_TAO, shapeOf, SUBTENSOR_SIGNED_EXTENSIONS, SubtensorCalls,
  weightsToU16, type RuntimeShape,
} from './calls.js';

/** Public endpoints of the two Bittensor networks (`--network finney|test`). */
export const NETWORK_ENDPOINTS: Record<string, string> = {
  finney: 'wss://entrypoint-finney.opentensor.ai:443',
  test: 'wss://test.finney.opentensor.ai:443',
};

/** Subtensor's block time: Timestamp.Now advances 12 000 ms per block (also on chopsticks). */
export const SUBTENSOR_BLOCK_MS = 12_000;

export interface SubtensorChainOptions {
  /** ws:// or wss:// URL of a subtensor node. */
  endpoint: string;
  netuid: number;
  /** Coldkey that pays burned registration and owns the stake; absent: register() only finds a uid registered elsewhere (btcli). */
  coldkey?: Signer;
  /** Local runtimes only (chopsticks, a dev node): the sudo key, for sudo_register where burned_register is disabled (spec 103). */
  sudo?: Signer;
  /** Blocks before the first read that the remark scan covers (anchors; commitments without the Commitments pallet). Default 7200 (a day at 12 s). */
  scanBlocks?: number;
  /** How long a transaction may take to reach a block. Default 60 000 ms. */
  txTimeoutMs?: number;
  /** How long connecting may take. Default 30 000 ms. */
  connectTimeoutMs?: number;
  log?: (line: string) => void;
}

/** Runtime errors that mean something to a caller: the Chain error code and what to do. */
const RUNTIME_ERRORS: Record<string, [ChainErrorCode, string]> = {
  NotRegistered: ['not_registered', 'register the hotkey on this subnet first (tessera registers it with a coldkey; or btcli subnet register)'],
  HotKeyNotRegisteredInSubNet: ['not_registered', 'register the hotkey on this subnet first'],
  HotKeyAccountNotExists: ['not_registered', 'register the hotkey first: it has no owner coldkey on chain'],
  NoValidatorPermit: ['no_permit', 'a validator needs a ValidatorPermit from an earlier epoch: add stake and wait for the next epoch'],
  NeuronNoValidatorPermit: ['no_permit', 'a validator needs a ValidatorPermit from an earlier epoch: add stake and wait for the next epoch'],
  SettingWeightsTooFast: ['rate_limited', 'wait WeightsSetRateLimit blocks between two set_weights'],
  TxRateLimitExceeded: ['rate_limited', 'wait TxRateLimit blocks between two transactions of this key'],
  CommittingWeightsTooFast: ['rate_limited', 'wait before committing weights again'],
  TooManyRegistrationsThisBlock: ['rate_limited', 'register again in a later block'],
  TooManyRegistrationsThisInterval: ['rate_limited', 'register again in a later interval'],
  RegistrationDisabled: ['bad_request', 'this runtime does not allow burned registration: register on a runtime that does, or (local runtimes) pass the sudo key'],
  NotEnoughBalanceToStake: ['bad_request', 'fund the coldkey: it holds less than the stake asked for'],
  NotEnoughBalanceToPayFees: ['bad_request', 'fund the signing account: it cannot pay the fee'],
  IncorrectNetworkVersionKey: ['bad_request', 'the subnet raised WeightsVersionKey: update tessera'],
  IncorrectWeightVersionKey: ['bad_request', 'the subnet raised WeightsVersionKey: update tessera'],
  WeightVecLengthIsLow: ['bad_request', 'set weights on at least MinAllowedWeights uids'],
  WeightVecNotEqualSize: ['bad_request', 'pass one weight per uid'],
  UidVecContainInvalidOne: ['bad_request', 'read the metagraph for valid uids'],
  MaxWeightExceeded: ['bad_request', 'the subnet caps one weight at MaxWeightsLimit: spread the weights over more uids'],
  CommitRevealEnabled: ['bad_request', 'this subnet has commit-reveal on: weights go through commit_weights / reveal_weights'],
  InvalidRevealCommitHashNotMatch: ['bad_request', 'the reveal does not match the commit: commit again'],
  RevealTooEarly: ['rate_limited', 'reveal after the reveal period'],
  SpaceLimitExceeded: ['bad_request', 'the commitment is larger than the runtime takes'],
  CommitmentSetRateLimitExceeded: ['rate_limited', 'Commitments allows one set_commitment per RateLimit blocks: wait and commit again'],
  InvalidIpAddress: ['bad_request', 'announce a routable address'],
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The Chain signer of @polkadot/api for a tessera Signer (sr25519): payloads over 256 bytes are signed as their blake2_256. */
export function polkadotSigner(s: Signer): PolkadotSigner {
  return {
    async signRaw({ data }): Promise<SignerResult> {
      let bytes = hexToU8a(data);
      if (bytes.length > 256) bytes = blake2AsU8a(bytes, 256);
      const sig = await s.sign(bytes);
      return { id: 0, signature: u8aToHex(u8aConcat(new Uint8Array([1]), sig)) }; // MultiSignature::Sr25519
    },
  };
}

interface RemarkEntry { block: number; index: number; sender: string; text: string }
interface PendingReveal { uids: number[]; values: number[]; salt: number[]; versionKey: bigint; block: number }

export class SubtensorChain implements Chain {
  readonly calls: SubtensorCalls;
  private readonly remarks: RemarkEntry[] = [];
  private scannedTo = -1;
  private scanStarted = false;
  private readonly pending = new Map<string, PendingReveal>();
  private readonly txLock = new Map<string, Promise<unknown>>();

  private constructor(readonly api: ApiPromise, readonly shape: RuntimeShape, private readonly opts: SubtensorChainOptions) {
    this.calls = new SubtensorCalls(api.tx as never, shape, opts.netuid);
  }

  get netuid(): number { return this.opts.netuid; }
  get endpoint(): string { return this.opts.endpoint; }
  /** A node on this machine (a chopsticks devnet): peers may use local buckets as on the devnet chain. */
  get isLocal(): boolean { return /^wss?:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(this.opts.endpoint); }

  /** Connects, reads the runtime's metadata and checks that the subnet exists. */
  static async connect(opts: SubtensorChainOptions): Promise<SubtensorChain> {
    if (!/^wss?:\/\/\S+$/.test(opts.endpoint)) throw new ChainError('bad_request', `subtensor endpoint ${opts.endpoint} is not a ws:// or wss:// URL`, 'e.g. --chain ws://127.0.0.1:9944, or --network finney|test');
    if (!Number.isInteger(opts.netuid) || opts.netuid < 0 || opts.netuid > 65535) throw new ChainError('bad_request', `netuid ${opts.netuid} is not a u16`, 'pass --netuid N');
    await cryptoWaitReady();
    const provider = new WsProvider(opts.endpoint, false);
    const timeoutMs = opts.connectTimeoutMs ?? 30_000;
    let api: ApiPromise;
    try {
      await Promise.race([provider.connect(), sleep(timeoutMs).then(() => { throw new Error(`no answer within ${timeoutMs} ms`); })]);
      await Promise.race([provider.isReady, sleep(timeoutMs).then(() => { throw new Error(`no answer within ${timeoutMs} ms`); })]);
      api = await ApiPromise.create({ provider, noInitWarn: true, throwOnConnect: true, signedExtensions: SUBTENSOR_SIGNED_EXTENSIONS });
    } catch (e) {
      await provider.disconnect().catch(() => {});
      throw new ChainError('unavailable', `cannot connect to subtensor at ${opts.endpoint}: ${(e as Error).message}`, 'check the URL and that the node is running (tessera devnet --chain chopsticks starts a local one)');
    }
    const shape = shapeOf(api.registry, api.runtimeMetadata);
    const chain = new SubtensorChain(api, shape, opts);
    const exists = await api.query.subtensorModule.networksAdded(opts.netuid);
    if (!(exists as unknown as { isTrue: boolean }).isTrue) {
      await chain.close();
      throw new ChainError('not_found', `subnet ${opts.netuid} does not exist on ${opts.endpoint} (${shape.specName} spec ${shape.specVersion})`, 'pass the netuid of an existing subnet (btcli subnet list)');
    }
    opts.log?.(`subtensor: ${opts.endpoint} ${shape.specName} spec ${shape.specVersion}, netuid ${opts.netuid}; ` +
      `commitments ${shape.commitments ? 'Commitments.set_commitment' : 'System.remark'}, weights ${shape.commitReveal ? 'set_weights or commit/reveal' : 'set_weights'}`);
    return chain;
  }

  async close(): Promise<void> { await this.api.disconnect(); }

  async head(): Promise<BlockHead> {
    const header = await this.api.rpc.chain.getHeader();
    const ts = await this.api.query.timestamp.now.at(header.hash);
    return { height: header.number.toNumber(), timestamp: Number(ts.toString()) };
  }

  async blockTimestamp(height: number): Promise<number> {
    const hash = await this.hashOf(height);
    return Number((await this.api.query.timestamp.now.at(hash)).toString());
  }

  blockHash(height: number): Promise<string> { return this.hashOf(height); }

  private async hashOf(height: number): Promise<string> {
    const hash = (await this.api.rpc.chain.getBlockHash(height)).toHex();
    if (/^0x0*$/.test(hash)) throw new ChainError('not_found', `block ${height} is not known to ${this.opts.endpoint}`, 'ask for a block at or below the head');
    return hash;
  }

  async waitForBlock(height: number, timeoutMs: number): Promise<BlockHead> {
    const deadline = Date.now() + timeoutMs;
    let last: BlockHead | undefined;
    for (;;) {
      last = await this.head();
      if (last.height >= height) return last;
      if (Date.now() >= deadline) break;
      await sleep(Math.min(250, Math.max(0, deadline - Date.now())));
    }
    throw new ChainError('timeout', `block ${height} not reached within ${timeoutMs} ms (head ${last.height})`, `check that ${this.opts.endpoint} produces blocks`);
  }

  private async uidOf(hotkey: string, at?: string): Promise<number | null> {
    const q = at ? (await this.api.at(at)).query : this.api.query;
    const v = await q.subtensorModule.uids(this.netuid, hotkey) as unknown as { isSome: boolean; unwrap(): { toNumber(): number } };
    return v.isSome ? v.unwrap().toNumber() : null;
  }

  async register(hotkey: Signer): Promise<number> {
    const have = await this.uidOf(hotkey.address);
    if (have !== null) return have;
    const { coldkey, sudo } = this.opts;
    if (!coldkey && !sudo) {
      throw new ChainError('not_registered', `hotkey ${hotkey.address} is not registered on subnet ${this.netuid}, and no coldkey was given to register it`,
        `register it with its coldkey (btcli subnet register --netuid ${this.netuid}), then start the node again; a running node never needs the coldkey`);
    }
    let registered = false;
    if (coldkey) {
      try {
        await this.submit('burned_register', this.calls.burnedRegister(hotkey.address), coldkey);
        registered = true;
      } catch (e) {
        const disabled = e instanceof ChainError && e.details?.runtimeError === 'SubtensorModule.RegistrationDisabled';
        if (!disabled || !sudo || !this.shape.sudoRegister) throw e;
        this.opts.log?.('subtensor: burned_register is disabled on this runtime; registering through sudo_register (local runtime)');
      }
    }
    if (!registered) {
      if (!sudo || !this.shape.sudoRegister) throw new ChainError('bad_request', 'no way to register: no coldkey, and this runtime has no sudo_register', 'pass a funded coldkey');
      await this.submit('sudo(sudo_register)', this.calls.sudoRegister(hotkey.address, (coldkey ?? sudo).address), sudo);
    }
    const uid = await this.uidOf(hotkey.address);
    if (uid === null) throw new ChainError('not_registered', `registration of ${hotkey.address} was included but Uids(${this.netuid}, hotkey) is empty`, 'read the chain events; the subnet may have replaced it at once');
    return uid;
  }

  /** Stakes `amount` TAO on the hotkey from the coldkey (local runtimes: the sudo key, which owns what sudo_register registered). */
  async addStake(hotkey: Signer, amount: number): Promise<void> {
    const from = this.opts.coldkey ?? this.opts.sudo;
    if (!from) throw new ChainError('bad_request', 'staking needs the coldkey that owns the hotkey', `stake with btcli (btcli stake add --netuid ${this.netuid}) or pass the coldkey`);
    if (!(amount > 0) || !Number.isFinite(amount)) throw new ChainError('bad_request', `stake amount ${amount} must be a positive number of TAO`, 'pass e.g. 10');
    await this.submit('add_stake', this.calls.addStake(hotkey.address, BigInt(Math.round(amount * RAO_PER_TAO))), from);
  }

  async commit(hotkey: Signer, data: string): Promise<void> {
    if (this.shape.commitments) await this.submit('set_commitment', this.calls.setCommitment(data), hotkey);
    else await this.submit('remark (commitment)', this.calls.remark(commitRemark(this.netuid, data)), hotkey);
  }

  async commitments(): Promise<Record<number, string>> {
    const hash = (await this.api.rpc.chain.getHeader()).hash.toHex();
    const at = await this.api.at(hash);
    const keys = await at.query.subtensorModule.keys.entries(this.netuid);
    const uidOf = new Map(keys.map(([k, v]) => [v.toString(), (k.args[1] as unknown as { toNumber(): number }).toNumber()]));
    const out: Record<number, string> = {};
    if (this.shape.commitments) {
      for (const [k, v] of await at.query.commitments.commitmentOf.entries(this.netuid)) {
        const uid = uidOf.get(k.args[1].toString());
        const reg = v as unknown as { isSome: boolean; unwrap(): { info: { fields: unknown[] } } };
        if (uid === undefined || !reg.isSome) continue;
        out[uid] = commitmentText(reg.unwrap().info.fields as never);
      }
      return out;
    }
    await this.scanRemarks();
    for (const r of this.remarks) {
      const p = parseRemark(r.text);
      const uid = uidOf.get(r.sender);
      if (p?.kind === 'commit' && p.netuid === this.netuid && uid !== undefined) out[uid] = p.data; // later remarks replace earlier ones
    }
    return out;
  }

  /**
   * Sets weights: set_weights, or commit_weights where the subnet has CommitRevealWeightsEnabled (the
   * reveal of an earlier commit of this hotkey is sent first, once the runtime accepts it).
   */
  async setWeights(hotkey: Signer, uids: number[], weights: number[]): Promise<void> {
    const w = weightsToU16(uids, weights);
    const q = this.api.query.subtensorModule;
    const versionKey = BigInt((await q.weightsVersionKey(this.netuid)).toString());
    const cr = this.shape.commitReveal && (await q.commitRevealWeightsEnabled(this.netuid) as unknown as { isTrue: boolean }).isTrue;
    if (!cr) {
      await this.submit('set_weights', this.calls.setWeights(w.uids, w.values, versionKey), hotkey);
      return;
    }
    const before = this.pending.get(hotkey.address);
    if (before) {
      try {
        await this.submit('reveal_weights', this.calls.revealWeights(before.uids, before.values, before.salt, before.versionKey), hotkey);
        this.pending.delete(hotkey.address);
      } catch (e) {
        if (!(e instanceof ChainError) || e.code !== 'rate_limited') throw e;
        this.opts.log?.(`subtensor: reveal of the commit from block ${before.block} not accepted yet (${e.message}); kept for the next call`);
        return;
      }
    }
    const salt = Array.from({ length: 8 }, () => randomInt(0, 65536));
    const hash = commitHash(this.api.registry, hotkey.address, this.netuid, w.uids, w.values, salt, versionKey);
    const r = await this.submit('commit_weights', this.calls.commitWeights(hash), hotkey);
    this.pending.set(hotkey.address, { ...w, salt, versionKey, block: r.block });
  }

  async metagraph(): Promise<Metagraph> {
    const header = await this.api.rpc.chain.getHeader();
    const at = await this.api.at(header.hash);
    const q = at.query.subtensorModule;
    const n = this.netuid;
    const num = (v: unknown): number => Number((v as { toString(): string }).toString());
    const vec = async (item: string, scale: number): Promise<number[]> => {
      const f = (q as unknown as Record<string, ((n: number) => Promise<unknown>) | undefined>)[item];
      if (!f) return [];
      return ((await f(n)) as unknown as unknown[]).map((x) => num(x) / scale);
    };
    const count = num(await q.subnetworkN(n));
    const keys = await q.keys.entries(n);
    const hotkeys: string[] = new Array(count).fill('');
    for (const [k, v] of keys) { const uid = num(k.args[1]); if (uid < count) hotkeys[uid] = v.toString(); }
    const stakeRao = this.shape.stakeItem === 'totalHotkeyAlpha'
      ? await Promise.all(hotkeys.map((h) => q.totalHotkeyAlpha(h, n)))
      : await q.totalHotkeyStake.multi(hotkeys);
    const rows = async (item: 'weights' | 'bonds', scale: number): Promise<SparseRow[]> => {
      const out: SparseRow[] = Array.from({ length: count }, () => []);
      for (const [k, v] of await q[item].entries(n)) {
        const uid = num(k.args[1]);
        if (uid < count) out[uid] = (v as unknown as Array<[unknown, unknown]>).map(([j, x]) => [num(j), num(x) / scale] as [number, number]);
      }
      return out;
    };
    const reg: number[] = new Array(count).fill(0);
    for (const [k, v] of await q.blockAtRegistration.entries(n)) { const uid = num(k.args[1]); if (uid < count) reg[uid] = num(v); }
    const pad = (xs: number[]): number[] => Array.from({ length: count }, (_, i) => xs[i] ?? 0);
    const U16 = 65535;
    const permit = ((await q.validatorPermit(n)) as unknown as Array<{ isTrue: boolean }>).map((b) => b.isTrue);
    return {
      block: header.number.toNumber(),
      timestamp: num(await at.query.timestamp.now()),
      n: count,
      uids: Array.from({ length: count }, (_, i) => i),
      hotkeys,
      stake: stakeRao.map((s) => num(s) / RAO_PER_TAO),
      validatorPermit: Array.from({ length: count }, (_, i) => permit[i] ?? false),
      lastUpdate: pad(await vec('lastUpdate', 1)),
      blockAtRegistration: reg,
      lastEpoch: num(await q.lastMechansimStepBlock(n)),
      Rank: pad(await vec('rank', U16)),
      Trust: pad(this.shape.trust ? await vec('trust', U16) : []),
      Consensus: pad(await vec('consensus', U16)),
      Incentive: pad(await vec('incentive', U16)),
      Dividends: pad(await vec('dividends', U16)),
      ValidatorTrust: pad(await vec('validatorTrust', U16)),
      Emission: pad(await vec('emission', RAO_PER_TAO)),
      Bonds: await rows('bonds', U16),
      Weights: await rows('weights', 1),
      tempo: num(await q.tempo(n)),
      kappa: num(await q.kappa(n)) / U16,
      bondsMovingAverage: num(await q.bondsMovingAverage(n)) / 1e6,
      weightsRateLimit: num(await q.weightsSetRateLimit(n)),
      maxAllowedValidators: num(await q.maxAllowedValidators(n)),
      activityCutoff: num(await q.activityCutoff(n)),
      revealPeriodEpochs: await this.revealPeriodEpochs(q, n),
    };
  }

  /** RevealPeriodEpochs where the subnet has CommitRevealWeightsEnabled (a runtime without commit-reveal: 0). */
  private async revealPeriodEpochs(q: unknown, n: number): Promise<number> {
    const items = q as Record<string, ((n: number) => Promise<unknown>) | undefined>;
    if (!this.shape.commitReveal || !items.commitRevealWeightsEnabled) return 0;
    const on = (await items.commitRevealWeightsEnabled(n)) as { isTrue: boolean };
    if (!on.isTrue) return 0;
    return items.revealPeriodEpochs ? Number(((await items.revealPeriodEpochs(n)) as { toString(): string }).toString()) : 1;
  }

  async anchor(hotkey: Signer, window: number, digest: string): Promise<void> {
    if (!Number.isSafeInteger(window) || window < 0) throw new ChainError('bad_request', `anchor: window ${window} is not an integer >= 0`, 'pass the window number');
    if (!/^[0-9a-f]{64}$/.test(digest)) throw new ChainError('bad_request', `anchor: digest ${JSON.stringify(digest)} is not 64 lowercase hex digits`, 'pass the sha256 of the payload as lowercase hex');
    const uid = await this.uidOf(hotkey.address);
    if (uid === null) throw new ChainError('not_registered', `hotkey ${hotkey.address} is not registered on subnet ${this.netuid}`, 'register it first');
    const mine = (await this.anchors(window)).find((a) => a.uid === uid);
    if (mine && mine.digest === digest) return;
    if (mine) throw new ChainError('anchored', `uid ${uid} already anchored ${mine.digest.slice(0, 12)}… for window ${window} in block ${mine.block}`, 'one anchor per hotkey and window: the first one counts');
    await this.submit('remark (anchor)', this.calls.remark(anchorRemark(this.netuid, window, digest)), hotkey);
  }

  /** The first anchor remark of each registered hotkey for `window` (by block, then extrinsic index), ascending uid. */
  async anchors(window: number): Promise<Anchor[]> {
    await this.scanRemarks();
    const keys = await this.api.query.subtensorModule.keys.entries(this.netuid);
    const uidOf = new Map(keys.map(([k, v]) => [v.toString(), Number(k.args[1].toString())]));
    const first = new Map<number, Anchor>();
    const perBlock = new Map<number, number>();
    for (const r of this.remarks) {
      const p = parseRemark(r.text);
      if (p?.kind !== 'anchor' || p.netuid !== this.netuid || p.window !== window) continue;
      const uid = uidOf.get(r.sender);
      if (uid === undefined || first.has(uid)) continue;
      const index = perBlock.get(r.block) ?? 0;
      perBlock.set(r.block, index + 1);
      first.set(uid, { uid, digest: p.digest, block: r.block, index });
    }
    return [...first.values()].sort((a, b) => a.uid - b.uid);
  }

  /** Reads the blocks since the last scan (the first scan starts scanBlocks before the head) and keeps the tessera remarks. */
  private async scanRemarks(): Promise<void> {
    const head = (await this.api.rpc.chain.getHeader()).number.toNumber();
    if (!this.scanStarted) { this.scannedTo = Math.max(0, head - (this.opts.scanBlocks ?? 7200)) - 1; this.scanStarted = true; }
    const from = this.scannedTo + 1;
    const PARALLEL = 8;
    for (let h = from; h <= head; h += PARALLEL) {
      const heights = Array.from({ length: Math.min(PARALLEL, head - h + 1) }, (_, i) => h + i);
      const blocks = await Promise.all(heights.map(async (b) => [b, await this.api.rpc.chain.getBlock(await this.hashOf(b))] as [number, SignedBlock]));
      for (const [b, block] of blocks) {
        block.block.extrinsics.forEach((ex, index) => {
          if (!ex.isSigned || ex.method.section !== 'system' || (ex.method.method !== 'remark' && ex.method.method !== 'remarkWithEvent')) return;
          const text = u8aToString((ex.method.args[0] as unknown as { toU8a(bare: boolean): Uint8Array }).toU8a(true));
          if (text.startsWith('tessera/')) this.remarks.push({ block: b, index, sender: ex.signer.toString(), text });
        });
      }
      this.scannedTo = heights[heights.length - 1];
    }
  }

  /**
   * Signs (explicit nonce from system_accountNextIndex, immortal era), submits and waits for the block.
   * One transaction per signer at a time; a failed dispatch (or a failed sudo inner call) is a
   * ChainError naming the call, the runtime error and what to do.
   */
  async submit(label: string, call: Call, who: Signer): Promise<{ block: number; blockHash: string; events: EventRecord[] }> {
    const prev = this.txLock.get(who.address) ?? Promise.resolve();
    const run = prev.catch(() => {}).then(() => this.submitNow(label, call, who));
    this.txLock.set(who.address, run);
    try {
      return await run;
    } finally {
      if (this.txLock.get(who.address) === run) this.txLock.delete(who.address);
    }
  }

  private async submitNow(label: string, call: Call, who: Signer): Promise<{ block: number; blockHash: string; events: EventRecord[] }> {
    const api = this.api;
    const nonce = (await api.rpc.system.accountNextIndex(who.address)).toNumber();
    const tx: SubmittableExtrinsic<'promise'> = api.tx(call);
    const what = `${label} (${call.section}.${call.method}) signed by ${who.address}`;
    try {
      await tx.signAsync(who.address, { signer: polkadotSigner(who), nonce, era: 0 });
    } catch (e) {
      throw new ChainError('bad_request', `${what}: cannot sign: ${(e as Error).message}`, 'check the key');
    }
    const timeoutMs = this.opts.txTimeoutMs ?? 60_000;
    const res = await new Promise<{ blockHash: string; events: EventRecord[]; dispatchError?: DispatchError }>((resolve, reject) => {
      let unsub: (() => void) | undefined;
      const timer = setTimeout(() => { unsub?.(); reject(new ChainError('timeout', `${what}: not in a block within ${timeoutMs} ms`, `check that ${this.opts.endpoint} produces blocks`)); }, timeoutMs);
      tx.send((r) => {
        const s = r.status;
        if (s.isInvalid || s.isDropped || s.isUsurped) {
          clearTimeout(timer); unsub?.();
          reject(new ChainError('bad_request', `${what}: transaction ${s.type}`, 'the node refused it: check the nonce and that the signer can pay the fee'));
          return;
        }
        if (!s.isInBlock && !s.isFinalized) return;
        clearTimeout(timer); unsub?.();
        resolve({ blockHash: (s.isInBlock ? s.asInBlock : s.asFinalized).toHex(), events: r.events, dispatchError: r.dispatchError });
      }).then((u) => { unsub = u; }, (e: Error) => {
        clearTimeout(timer);
        const m = /1010|Invalid Transaction|Inability to pay/.test(e.message) ? 'fund the signing account (it pays the fee) and check its nonce' : 'check the node log';
        reject(new ChainError('bad_request', `${what}: the node rejected it: ${e.message}`, m));
      });
    });
    const failure = res.dispatchError ?? res.events.map((e) => e.event)
      .filter((ev) => ev.section === 'sudo' && (ev.method === 'Sudid' || ev.method === 'SudoAsDone'))
      .map((ev) => ev.data[0] as unknown as { isErr: boolean; asErr: DispatchError })
      .find((r) => r.isErr)?.asErr;
    if (failure) throw this.dispatchFailure(what, failure);
    const block = (await api.rpc.chain.getHeader(res.blockHash)).number.toNumber();
    return { block, blockHash: res.blockHash, events: res.events };
  }

  private dispatchFailure(what: string, err: DispatchError): ChainError {
    let name = err.type as string, docs = '';
    if (err.isModule) {
      const m = this.api.registry.findMetaError(err.asModule);
      name = `${m.section.charAt(0).toUpperCase()}${m.section.slice(1)}.${m.name}`;
      docs = m.docs.join(' ').trim();
    }
    const [code, hint] = RUNTIME_ERRORS[name.split('.').pop() ?? ''] ?? ['bad_request', 'read the runtime error above; see docs/chain.md'];
    return new ChainError(code, `${what} failed: ${name}${docs ? ` (${docs})` : ''}`, hint, { runtimeError: name });
  }
}

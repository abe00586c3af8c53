// The devnet chain process: node:http JSON API around the pure state machine. Seals a block every
// blockMs with the server clock as timestamp (the chain is the time authority), runs Yuma every
// tempo blocks, verifies signed writes, and journals every block and acknowledged write (persist.ts).
// Hardened for an open port (docs/security.md): bounded connections and request timeouts, a block
// timer that survives any epoch error, and cached read bodies with ETags.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TesseraError } from '../../util/errors.js';
import { failpoint } from '../../util/failpoint.js';
import { ChainError, type ChainErrorCode, type ChainParams } from '../types.js';
import { canonicalJson, parseSignedCall } from './call.js';
import { ChainStore, loadChain } from './persist.js';
import {
  anchorsOf, applyCall, blockHashOf, blockTimestampOf, checkParams, commitmentsOf, DEFAULT_PARAMS, DEFAULT_REVEAL_PERIOD_EPOCHS, genesis, MAX_REVEAL_PERIOD_EPOCHS, MAX_STAKE_PER_HOTKEY, metagraphOf, produceBlock, uidOf,
  type DevnetState,
} from './state.js';
import { cryptoReady, publicKeyOf, verifyCall } from './verify.js';
import { activityCutoffBlocks } from '../yuma.js';

/**
 * Server options plus the chain parameters (tempo, kappa, ... see ChainParams) for a new chain; for an
 * existing chain any parameter given must match what it was created with.
 */
export interface DevnetServerOptions extends Partial<ChainParams> {
  /** Directory holding chain-state.json; created if missing, resumed if present. */
  dir: string;
  /** TCP port on `host`; 0 picks a free one. Default 0. */
  port?: number;
  host?: string;            // default 127.0.0.1
  blockMs?: number;         // default 1000
  log?: (line: string) => void;
  /**
   * Devnet faucet: the most stake addStake gives a hotkey (state.ts FaucetConfig). Given: stored with the
   * chain (and kept by later starts that give none). Never given: no cap but MAX_STAKE_PER_HOTKEY.
   * `tessera chain` gives DEFAULT_FAUCET_CAP unless --faucet-cap says otherwise.
   */
  faucetCap?: number;
  /** Hotkeys (SS58) exempt from faucetCap and never replaced by a registration: the devnet's own validators. */
  faucetExempt?: string[];
  /**
   * Commit-reveal of weights (state.ts DevnetState.commitReveal): a setWeights lands this many epochs later.
   * New chains only; absent = DEFAULT_REVEAL_PERIOD_EPOCHS (on, as subtensor defaults it: see docs/chain.md),
   * 0 = off. A resumed chain keeps what it was created with, and a different value given is refused.
   */
  commitRevealEpochs?: number;
  /** DevnetState.yuma, new chains only (a resumed chain keeps its own; a different value given is refused). */
  ownerHotkey?: string;
  yuma3?: boolean;
  liquidAlpha?: boolean;
  /** Open connections at most (server.maxConnections); more are refused. Default MAX_CONNECTIONS. */
  maxConnections?: number;
  /** Time a client has to send its request headers / whole request. Defaults HEADERS_TIMEOUT_MS / REQUEST_TIMEOUT_MS. */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
}

export interface DevnetServer {
  port: number;
  url: string;
  chainId: string;
  close(): Promise<void>;
}

const STATUS: Record<ChainErrorCode, number> = {
  bad_request: 400, bad_signature: 401, wrong_hotkey: 403, no_permit: 403, not_registered: 404, not_found: 404,
  wrong_chain: 409, nonce_used: 409, full: 409, anchored: 409, rate_limited: 429, unavailable: 503, timeout: 504,
};
const MAX_BODY = 1 << 20;
const MAX_WAIT_MS = 30_000;
/** Open connections the server keeps at most; a long-polling client holds one. */
export const MAX_CONNECTIONS = 1024;
/** A client must send its headers within HEADERS_TIMEOUT_MS and its whole request within REQUEST_TIMEOUT_MS. */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 15_000;
/** An idle connection (no bytes either way) is closed after this; above MAX_WAIT_MS so a long poll survives. */
export const SOCKET_IDLE_MS = MAX_WAIT_MS + 15_000;

async function openState(opts: DevnetServerOptions): Promise<{ state: DevnetState; seq: number; resumed: boolean }> {
  const given: Partial<ChainParams> = {};
  for (const k of Object.keys(DEFAULT_PARAMS) as Array<keyof ChainParams>) if (opts[k] !== undefined) given[k] = opts[k];
  const loaded = await loadChain(opts.dir);
  if (loaded) {
    const existing = loaded.state;
    for (const [k, v] of Object.entries(given)) {
      if (v !== undefined && existing.params[k as keyof ChainParams] !== v) {
        throw new TesseraError(`the devnet in ${opts.dir} was created with ${k} = ${existing.params[k as keyof ChainParams]}, not ${v}`,
          `drop the ${k} option to resume this chain, or use a new --dir for a chain with ${k} = ${v}`);
      }
    }
    const have = existing.commitReveal?.revealPeriodEpochs ?? 0;
    if (opts.commitRevealEpochs !== undefined && opts.commitRevealEpochs !== have) {
      throw new TesseraError(`the devnet in ${opts.dir} was created with commit-reveal ${have ? `over ${have} epochs` : 'off'}, not ${opts.commitRevealEpochs}`,
        `drop --commit-reveal to resume this chain, or use a new --dir`);
    }
    for (const k of ['ownerHotkey', 'yuma3', 'liquidAlpha'] as const) {
      const was = existing.yuma?.[k];
      if (opts[k] !== undefined && opts[k] !== was && !(opts[k] === false && was === undefined)) {
        throw new TesseraError(`the devnet in ${opts.dir} was created with ${k} = ${String(was ?? 'none')}, not ${String(opts[k])}`, `drop that option to resume this chain, or use a new --dir`);
      }
    }
    return { state: withFaucet(existing, opts), seq: loaded.seq, resumed: true };
  }
  if (opts.ownerHotkey !== undefined) publicKeyOf(opts.ownerHotkey);
  const yuma = { ...(opts.ownerHotkey !== undefined ? { ownerHotkey: opts.ownerHotkey } : {}), ...(opts.yuma3 ? { yuma3: true } : {}), ...(opts.liquidAlpha ? { liquidAlpha: true } : {}) };
  const cr = opts.commitRevealEpochs ?? DEFAULT_REVEAL_PERIOD_EPOCHS;
  if (!Number.isSafeInteger(cr) || cr < 0 || cr > MAX_REVEAL_PERIOD_EPOCHS) {
    throw new TesseraError(`commit-reveal period ${cr} must be an integer in [0, ${MAX_REVEAL_PERIOD_EPOCHS}] epochs`, 'pass e.g. --commit-reveal 1 (subtensor\'s RevealPeriodEpochs), or 0 for off');
  }
  // subtensor derives the activity cutoff from the tempo: a new chain gets the cutoff of its own tempo unless given.
  const params = checkParams({ ...DEFAULT_PARAMS, activityCutoff: activityCutoffBlocks(given.tempo ?? DEFAULT_PARAMS.tempo), ...given });
  const now = Date.now();
  const chainId = '0x' + createHash('sha256').update(`tessera-devnet-genesis\n${canonicalJson(params)}\n${now}\n`).update(randomBytes(16)).digest('hex');
  const fresh = { ...genesis(chainId, params, now), ...(Object.keys(yuma).length > 0 ? { yuma } : {}) };
  return { state: withFaucet(cr > 0 ? { ...fresh, commitReveal: { revealPeriodEpochs: cr } } : fresh, opts), seq: 0, resumed: false };
}

/** The state with the faucet settings the options give (the stored ones where they give none). */
function withFaucet(s: DevnetState, opts: DevnetServerOptions): DevnetState {
  if (opts.faucetCap === undefined && opts.faucetExempt === undefined) return s;
  const cap = opts.faucetCap ?? s.faucet?.cap ?? MAX_STAKE_PER_HOTKEY;
  if (!(cap >= 0 && cap <= MAX_STAKE_PER_HOTKEY)) throw new TesseraError(`faucet cap ${cap} must be in [0, ${MAX_STAKE_PER_HOTKEY}]`, 'pass e.g. --faucet-cap 100');
  const exempt = opts.faucetExempt ?? s.faucet?.exempt ?? [];
  for (const a of exempt) publicKeyOf(a);
  return { ...s, faucet: { cap, exempt: [...new Set(exempt)] } };
}

export async function startDevnetChainServer(opts: DevnetServerOptions): Promise<DevnetServer> {
  const blockMs = opts.blockMs ?? 1000;
  if (!Number.isFinite(blockMs) || blockMs < 10) throw new TesseraError(`blockMs = ${blockMs} is too small`, 'use a block time of at least 10 ms');
  const log = opts.log ?? ((): void => {});
  await cryptoReady();
  const opened = await openState(opts);
  // `state` is the working state calls and blocks apply to; readers see `durable`, the newest state
  // already on disk, so nothing a client has observed can be lost to a crash.
  let state = opened.state;
  let durable = state;
  const resumed = opened.resumed;
  let store: ChainStore | undefined; // opened once the server listens
  let waiters: Array<{ height: number; wake: () => void }> = [];
  let closed = false;

  const onDurable = (s: DevnetState): void => {
    durable = s;
    const ready = waiters.filter((w) => w.height <= durable.height);
    waiters = waiters.filter((w) => w.height > durable.height);
    ready.forEach((w) => w.wake());
  };

  // Blocks on a fixed schedule (a slow tick does not push every later block back); whatever throws in
  // a tick is logged and the next block still comes: an epoch that throws is skipped (produceBlock).
  let nextAt = 0;
  const tick = (): void => {
    if (closed) return;
    try {
      const before = state.epoch?.block;
      const entropy = randomBytes(32).toString('hex');
      state = produceBlock(state, Date.now(), (e) => log(`devnet: epoch at block ${state.height + 1} failed, block sealed without it: ${e.message}`), entropy);
      if (state.epoch && state.epoch.block !== before) log(`devnet: epoch at block ${state.height} over ${state.neurons.length} uids`);
      store!.appendBlock(state, entropy).catch((e: Error) => log(`devnet: ${e.message}`));
    } catch (e) {
      log(`devnet: block ${state.height + 1} failed: ${(e as Error).message}`);
    } finally {
      const now = Date.now();
      nextAt = Math.max(nextAt + blockMs, now);
      if (!closed) timer = setTimeout(tick, nextAt - now);
    }
  };
  let timer: NodeJS.Timeout | undefined; // started once the server listens

  const head = (): { height: number; timestamp: number } => ({ height: durable.height, timestamp: durable.timestamp });
  const { metagraphBody, commitmentsBody } = readCache();

  async function handle(req: IncomingMessage, url: URL): Promise<unknown> {
    const path = url.pathname;
    if (req.method === 'POST' && path === '/call') {
      const raw = await readJson(req);
      if (closed || !store) throw new ChainError('unavailable', closed ? 'the devnet is stopping' : 'the devnet is starting', 'retry in a moment');
      const body = parseSignedCall(raw);
      if (body.chainId !== undefined && body.chainId !== state.chainId) {
        throw new ChainError('wrong_chain', `call is for chain ${body.chainId}, this devnet is ${state.chainId}`, 'the devnet was re-created: fetch /info again and re-sign');
      }
      verifyCall(state.chainId, body);
      const at = state.height;
      const { state: next, result } = applyCall(state, body);
      state = next;
      await store.appendCall(at, body, next);
      failpoint('chain.journaled');
      log(`devnet: ${body.method} by ${body.hotkey} in block ${at + 1}`);
      return { result, block: at + 1 };
    }
    if (req.method !== 'GET') throw new ChainError('not_found', `no route ${req.method} ${path}`, 'writes go to POST /call, reads are GET');
    if (path === '/info') return { chainId: durable.chainId, params: durable.params, blockMs, ...head() };
    if (path === '/head') return head();
    if (path === '/metagraph') return metagraphBody(durable);
    if (path === '/commitments') return commitmentsBody(durable);
    if (path === '/anchors') {
      const window = url.searchParams.get('window') ?? '';
      if (!/^\d{1,15}$/.test(window)) throw new ChainError('bad_request', `anchors needs ?window=<integer >= 0>, got ${JSON.stringify(window)}`, 'e.g. /anchors?window=12');
      return anchorsOf(durable, Number(window));
    }
    const block = /^\/block\/(\d+)$/.exec(path);
    if (block) return { height: Number(block[1]), timestamp: blockTimestampOf(durable, Number(block[1])), hash: blockHashOf(durable, Number(block[1])) };
    const account = /^\/account\/([1-9A-HJ-NP-Za-km-z]{1,64})$/.exec(path);
    if (account) {
      publicKeyOf(account[1]);
      return { nonce: durable.accounts[account[1]]?.nonce ?? null, uid: uidOf(durable, account[1]) };
    }
    if (path === '/wait') {
      const height = Number(url.searchParams.get('height'));
      const waitMs = Math.min(Number(url.searchParams.get('timeoutMs') ?? 10_000), MAX_WAIT_MS);
      if (!Number.isSafeInteger(height) || !(waitMs >= 0)) throw new ChainError('bad_request', 'wait needs ?height=<integer>&timeoutMs=<ms>', 'e.g. /wait?height=10&timeoutMs=5000');
      if (height > durable.height && !closed) {
        await new Promise<void>((resolve) => {
          const w = { height, wake: (): void => { clearTimeout(t); resolve(); } };
          const t = setTimeout(() => { waiters = waiters.filter((x) => x !== w); resolve(); }, waitMs);
          waiters.push(w);
        });
      }
      return head();
    }
    throw new ChainError('not_found', `no route GET ${path}`, 'see src/chain/devnet/server.ts for the routes');
  }

  const headersTimeout = opts.headersTimeoutMs ?? HEADERS_TIMEOUT_MS;
  const requestTimeout = Math.max(opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS, headersTimeout);
  const server = createServer({ headersTimeout, requestTimeout, connectionsCheckingInterval: Math.min(1000, headersTimeout) }, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://devnet');
    handle(req, url).then((body) => (body instanceof Cached ? sendCached(req, res, body) : send(res, 200, body)), (e: unknown) => {
      if (e instanceof ChainError) return send(res, STATUS[e.code], { error: { code: e.code, message: e.message, hint: e.hint, details: e.details } });
      const message = e instanceof Error ? e.message : String(e);
      log(`devnet: ${req.method} ${url.pathname} failed: ${message}`);
      send(res, 503, { error: { code: 'unavailable', message, hint: 'retry; if it persists, check the devnet log' } });
    });
  });
  server.maxConnections = opts.maxConnections ?? MAX_CONNECTIONS;
  server.setTimeout(SOCKET_IDLE_MS);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new TesseraError(`devnet cannot listen on ${opts.host ?? '127.0.0.1'}:${opts.port ?? 0}: ${e.message}`,
      e.code === 'EADDRINUSE' ? 'another process uses that port: pick another --port or stop it' : 'check the host and port')));
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve);
  });
  const port = (server.address() as AddressInfo).port;
  try {
    store = await ChainStore.open(opts.dir, state, opened.seq, onDurable);
  } catch (e) {
    await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
    throw e;
  }
  nextAt = Date.now() + blockMs;
  timer = setTimeout(tick, blockMs);
  log(`devnet: ${resumed ? 'resumed' : 'created'} chain ${state.chainId.slice(0, 18)}… at height ${state.height}, http://${opts.host ?? '127.0.0.1'}:${port}, block ${blockMs} ms, tempo ${state.params.tempo}` +
    (state.faucet ? `, faucet cap ${state.faucet.cap} (${state.faucet.exempt.length} exempt)` : ''));

  return {
    port, url: `http://${opts.host ?? '127.0.0.1'}:${port}`, chainId: state.chainId,
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      waiters.forEach((w) => w.wake());
      waiters = [];
      await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
      await store!.close();
    },
  };
}

/** A read body serialized once per content change, with its ETag (see metagraphBody). */
class Cached {
  constructor(readonly etag: string, readonly text: string, readonly headers: Record<string, string> = {}) {}
}
const etagOf = (text: string): string => createHash('sha256').update(text).digest('base64url').slice(0, 27);

// /metagraph and /commitments are the large reads (~1.9 MB together on a full subnet) every validator
// makes every block. Their JSON is built once per change of what they show (neurons, epoch, params are
// replaced, never mutated, so their identity says whether anything changed) and carries an ETag; a
// client that sends If-None-Match with it gets 304 and no body. The metagraph's ETag is weak and covers
// everything but block and timestamp, which travel in x-devnet-block / x-devnet-timestamp headers.
/** Per-server caches of the two large read bodies. */
function readCache(): { metagraphBody: (s: DevnetState) => Cached; commitmentsBody: (s: DevnetState) => Cached } {
  let meta: { neurons: unknown; epoch: unknown; params: unknown; rest: string; etag: string } | null = null;
  let commit: { neurons: unknown; body: Cached } | null = null;
  return {
    metagraphBody(s: DevnetState): Cached {
      if (!meta || meta.neurons !== s.neurons || meta.epoch !== s.epoch || meta.params !== s.params) {
        const { block: _b, timestamp: _t, ...rest } = metagraphOf(s);
        const text = JSON.stringify(rest);
        meta = { neurons: s.neurons, epoch: s.epoch, params: s.params, rest: text.slice(1), etag: `W/"${etagOf(text)}"` };
      }
      const text = `{"block":${s.height},"timestamp":${s.timestamp}${meta.rest.length > 1 ? ',' : ''}${meta.rest}`;
      return new Cached(meta.etag, text, { 'x-devnet-block': String(s.height), 'x-devnet-timestamp': String(s.timestamp) });
    },
    commitmentsBody(s: DevnetState): Cached {
      if (commit?.neurons !== s.neurons) {
        const text = JSON.stringify(commitmentsOf(s));
        commit = { neurons: s.neurons, body: new Cached(`"${etagOf(text)}"`, text) };
      }
      return commit.body;
    },
  };
}

function sendCached(req: IncomingMessage, res: ServerResponse, body: Cached): void {
  const headers = { etag: body.etag, 'cache-control': 'no-cache', ...body.headers };
  if (req.headers['if-none-match'] === body.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body.text), ...headers });
  res.end(body.text);
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) { reject(new ChainError('bad_request', `request body over ${MAX_BODY} bytes`, 'send smaller calls')); req.destroy(); }
      else chunks.push(c);
    });
    req.on('end', () => {
      try { resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))); }
      catch { reject(new ChainError('bad_request', 'request body is not valid JSON', 'send the call as a JSON object')); }
    });
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

// The devnet chain process: node:http JSON API around the pure state machine. Seals a block every
// blockMs with the server clock as timestamp (the chain is the time authority), runs Yuma every
// tempo blocks, verifies signed writes, and persists every block and acknowledged write atomically.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TesseraError } from '../../util/errors.js';
import { ChainError, type ChainErrorCode, type ChainParams } from '../types.js';
import { canonicalJson, parseSignedCall } from './call.js';
import { loadState, StateWriter } from './persist.js';
import { anchorsOf, applyCall, blockTimestampOf, checkParams, commitmentsOf, DEFAULT_PARAMS, genesis, metagraphOf, produceBlock, uidOf, type DevnetState } from './state.js';
import { cryptoReady, publicKeyOf, verifyCall } from './verify.js';

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

async function openState(opts: DevnetServerOptions): Promise<{ state: DevnetState; resumed: boolean }> {
  const given: Partial<ChainParams> = {};
  for (const k of Object.keys(DEFAULT_PARAMS) as Array<keyof ChainParams>) if (opts[k] !== undefined) given[k] = opts[k];
  const existing = await loadState(opts.dir);
  if (existing) {
    for (const [k, v] of Object.entries(given)) {
      if (v !== undefined && existing.params[k as keyof ChainParams] !== v) {
        throw new TesseraError(`the devnet in ${opts.dir} was created with ${k} = ${existing.params[k as keyof ChainParams]}, not ${v}`,
          `drop the ${k} option to resume this chain, or use a new --dir for a chain with ${k} = ${v}`);
      }
    }
    return { state: existing, resumed: true };
  }
  const params = checkParams({ ...DEFAULT_PARAMS, ...given });
  const now = Date.now();
  const chainId = '0x' + createHash('sha256').update(`tessera-devnet-genesis\n${canonicalJson(params)}\n${now}\n`).update(randomBytes(16)).digest('hex');
  return { state: genesis(chainId, params, now), resumed: false };
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
  const writer = new StateWriter(opts.dir);
  let waiters: Array<{ height: number; wake: () => void }> = [];
  let closed = false;

  let saved = 0, shown = 0; // persist() call order, so a coalesced older save never hides a newer one
  const persist = async (s: DevnetState): Promise<void> => {
    const seq = ++saved;
    await writer.save(s);
    if (seq < shown) return;
    shown = seq;
    durable = s;
    const ready = waiters.filter((w) => w.height <= durable.height);
    waiters = waiters.filter((w) => w.height > durable.height);
    ready.forEach((w) => w.wake());
  };

  const tick = (): void => {
    if (closed) return;
    const before = state.epoch?.block;
    state = produceBlock(state, Date.now());
    if (state.epoch && state.epoch.block !== before) log(`devnet: epoch at block ${state.height} over ${state.neurons.length} uids`);
    persist(state).catch((e: Error) => log(`devnet: ${e.message}`));
    timer = setTimeout(tick, blockMs);
  };
  let timer: NodeJS.Timeout | undefined; // started once the server listens

  const head = (): { height: number; timestamp: number } => ({ height: durable.height, timestamp: durable.timestamp });

  async function handle(req: IncomingMessage, url: URL): Promise<unknown> {
    const path = url.pathname;
    if (req.method === 'POST' && path === '/call') {
      const raw = await readJson(req);
      const body = parseSignedCall(raw);
      if (body.chainId !== undefined && body.chainId !== state.chainId) {
        throw new ChainError('wrong_chain', `call is for chain ${body.chainId}, this devnet is ${state.chainId}`, 'the devnet was re-created: fetch /info again and re-sign');
      }
      verifyCall(state.chainId, body);
      const { state: next, result } = applyCall(state, body);
      state = next;
      const block = state.height + 1; // the call lands in the block being built
      await persist(state);
      log(`devnet: ${body.method} by ${body.hotkey} in block ${block}`);
      return { result, block };
    }
    if (req.method !== 'GET') throw new ChainError('not_found', `no route ${req.method} ${path}`, 'writes go to POST /call, reads are GET');
    if (path === '/info') return { chainId: durable.chainId, params: durable.params, blockMs, ...head() };
    if (path === '/head') return head();
    if (path === '/metagraph') return metagraphOf(durable);
    if (path === '/commitments') return commitmentsOf(durable);
    if (path === '/anchors') {
      const window = url.searchParams.get('window') ?? '';
      if (!/^\d{1,15}$/.test(window)) throw new ChainError('bad_request', `anchors needs ?window=<integer >= 0>, got ${JSON.stringify(window)}`, 'e.g. /anchors?window=12');
      return anchorsOf(durable, Number(window));
    }
    const block = /^\/block\/(\d+)$/.exec(path);
    if (block) return { height: Number(block[1]), timestamp: blockTimestampOf(durable, Number(block[1])) };
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

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://devnet');
    handle(req, url).then((body) => send(res, 200, body), (e: unknown) => {
      if (e instanceof ChainError) return send(res, STATUS[e.code], { error: { code: e.code, message: e.message, hint: e.hint, details: e.details } });
      const message = e instanceof Error ? e.message : String(e);
      log(`devnet: ${req.method} ${url.pathname} failed: ${message}`);
      send(res, 503, { error: { code: 'unavailable', message, hint: 'retry; if it persists, check the devnet log' } });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new TesseraError(`devnet cannot listen on ${opts.host ?? '127.0.0.1'}:${opts.port ?? 0}: ${e.message}`,
      e.code === 'EADDRINUSE' ? 'another process uses that port: pick another --port or stop it' : 'check the host and port')));
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve);
  });
  const port = (server.address() as AddressInfo).port;
  await persist(state);
  timer = setTimeout(tick, blockMs);
  log(`devnet: ${resumed ? 'resumed' : 'created'} chain ${state.chainId.slice(0, 18)}… at height ${state.height}, http://${opts.host ?? '127.0.0.1'}:${port}, block ${blockMs} ms, tempo ${state.params.tempo}`);

  return {
    port, url: `http://${opts.host ?? '127.0.0.1'}:${port}`, chainId: state.chainId,
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      waiters.forEach((w) => w.wake());
      waiters = [];
      await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
      await persist(state);
    },
  };
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

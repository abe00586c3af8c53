// DevnetChainClient: the Chain interface over the devnet's HTTP API (fetch). Retries with
// exponential backoff while the server is down or restarting; signs writes with the hotkey. Keeps the
// last /metagraph and /commitments bodies and asks with If-None-Match, so an unchanged one costs no body.
import { ChainError, type Anchor, type BlockHead, type Chain, type ChainErrorCode, type ChainParams, type Metagraph, type Signer } from '../types.js';
import { callMessage, type SignedCall, type UnsignedCall, type WriteMethod } from './call.js';

export interface DevnetClientOptions {
  /** Base URL of the devnet server, e.g. http://127.0.0.1:9944 */
  url: string;
  /** Attempts after the first one while the server is unreachable (or answers 503). Default 10. */
  retries?: number;
  /** First backoff delay, doubled per attempt up to maxBackoffMs. Defaults 200 / 5000 ms. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Per-request timeout. Default 10 000 ms. */
  requestTimeoutMs?: number;
  /** Clock for nonces (ms); injectable for tests. */
  now?: () => number;
  log?: (line: string) => void;
}

export interface DevnetInfo extends BlockHead {
  chainId: string;
  params: ChainParams;
  blockMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const RETRY_STATUS = new Set([502, 503, 504]);
/** register() waits for the next block this many times while the chain's per-block registration limit is reached. */
export const REGISTER_RATE_RETRIES = 50;
/** Paths whose bodies the client keeps to revalidate with If-None-Match. */
const CACHED_PATHS = new Set(['/metagraph', '/commitments']);

export class DevnetChainClient implements Chain {
  private readonly url: string;
  private chainId: string | undefined;
  private readonly lastNonce = new Map<string, number>();
  private readonly bodies = new Map<string, { etag: string; text: string }>();
  /** Bytes of response bodies read so far (for measurements). */
  bytesRead = 0;

  constructor(private readonly opts: DevnetClientOptions) {
    this.url = opts.url.replace(/\/+$/, '');
  }

  info(): Promise<DevnetInfo> { return this.request<DevnetInfo>('GET', '/info'); }
  head(): Promise<BlockHead> { return this.request<BlockHead>('GET', '/head'); }
  metagraph(): Promise<Metagraph> { return this.request<Metagraph>('GET', '/metagraph'); }
  commitments(): Promise<Record<number, string>> { return this.request<Record<number, string>>('GET', '/commitments'); }
  anchors(window: number): Promise<Anchor[]> { return this.request<Anchor[]>('GET', `/anchors?window=${window}`); }

  async blockTimestamp(height: number): Promise<number> {
    return (await this.request<BlockHead>('GET', `/block/${height}`)).timestamp;
  }

  async blockHash(height: number): Promise<string> {
    return (await this.request<{ hash: string }>('GET', `/block/${height}`)).hash;
  }

  /** Registers; while the chain's per-block registration limit is reached, waits for the block it names and tries again. */
  async register(hotkey: Signer): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      try {
        return (await this.write(hotkey, 'register', {})) as number;
      } catch (e) {
        const next = e instanceof ChainError && e.code === 'rate_limited' ? e.details?.nextBlock : undefined;
        if (typeof next !== 'number' || attempt >= REGISTER_RATE_RETRIES) throw e;
        await this.waitForBlock(next - 1, 60_000);
      }
    }
  }
  async addStake(hotkey: Signer, amount: number): Promise<void> { await this.write(hotkey, 'addStake', { amount }); }
  async commit(hotkey: Signer, data: string): Promise<void> { await this.write(hotkey, 'commit', { data }); }
  async setWeights(hotkey: Signer, uids: number[], weights: number[]): Promise<void> {
    await this.write(hotkey, 'setWeights', { uids, weights });
  }
  /** Anchoring the same digest again (a retry, a restarted node) succeeds; another digest fails with 'anchored'. */
  async anchor(hotkey: Signer, window: number, digest: string): Promise<void> { await this.write(hotkey, 'anchor', { window, digest }); }

  /** Long-polls /wait until the head reaches `height`; keeps trying through server restarts until the deadline. */
  async waitForBlock(height: number, timeoutMs: number): Promise<BlockHead> {
    const deadline = Date.now() + timeoutMs;
    let last: BlockHead | undefined;
    let failures = 0;
    for (let left = timeoutMs; left > 0; left = deadline - Date.now()) {
      try {
        const poll = Math.min(left, 20_000);
        last = await this.once<BlockHead>('GET', `/wait?height=${height}&timeoutMs=${poll}`, undefined, poll + 5_000);
        if (last.height >= height) return last;
        failures = 0;
      } catch (e) {
        if (!(e instanceof ChainError) || e.code !== 'unavailable') throw e;
        await sleep(Math.min(this.delay(failures++), Math.max(0, deadline - Date.now())));
      }
    }
    throw new ChainError('timeout', `block ${height} not reached within ${timeoutMs} ms (last head seen: ${last?.height ?? 'none'})`,
      `check that the devnet at ${this.url} is running and producing blocks`);
  }

  private delay(attempt: number): number {
    return Math.min((this.opts.backoffMs ?? 200) * 2 ** attempt, this.opts.maxBackoffMs ?? 5000);
  }

  /** One signed write; recovers from a stale nonce or a re-created chain once, and treats a duplicate as done. */
  private async write(hotkey: Signer, method: WriteMethod, extra: Record<string, unknown>): Promise<unknown> {
    for (let round = 0; ; round++) {
      this.chainId ??= (await this.info()).chainId;
      const now = Math.floor((this.opts.now ?? Date.now)());
      const nonce = Math.max(now, (this.lastNonce.get(hotkey.address) ?? -1) + 1);
      this.lastNonce.set(hotkey.address, nonce);
      const call: UnsignedCall = { method, params: { hotkey: hotkey.address, ...extra }, hotkey: hotkey.address, nonce };
      const sig = await hotkey.sign(callMessage(this.chainId, call));
      const body: SignedCall = { ...call, chainId: this.chainId, signature: '0x' + Buffer.from(sig).toString('hex') };
      try {
        return (await this.request<{ result: unknown }>('POST', '/call', body)).result;
      } catch (e) {
        if (!(e instanceof ChainError)) throw e;
        if (e.code === 'nonce_used' && e.details?.duplicate === true) return e.details.result; // our own call, applied before a lost reply
        if (round > 0) throw e;
        if (e.code === 'nonce_used' && typeof e.details?.lastNonce === 'number') { this.lastNonce.set(hotkey.address, e.details.lastNonce); continue; }
        if (e.code === 'wrong_chain') { this.chainId = undefined; continue; }
        throw e;
      }
    }
  }

  /** A request with retries and backoff while the server is unreachable or unavailable. */
  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const retries = this.opts.retries ?? 10;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once<T>(method, path, body, this.opts.requestTimeoutMs ?? 10_000);
      } catch (e) {
        if (!(e instanceof ChainError) || e.code !== 'unavailable' || attempt >= retries) throw e;
        const wait = this.delay(attempt);
        this.opts.log?.(`devnet client: ${e.message}; retry ${attempt + 1}/${retries} in ${wait} ms`);
        await sleep(wait);
      }
    }
  }

  private async once<T>(method: string, path: string, body: unknown, timeoutMs: number): Promise<T> {
    const kept = method === 'GET' && CACHED_PATHS.has(path) ? this.bodies.get(path) : undefined;
    let res: Response;
    try {
      const headers: Record<string, string> = {};
      if (body !== undefined) headers['content-type'] = 'application/json';
      if (kept) headers['if-none-match'] = kept.etag;
      res = await fetch(this.url + path, {
        method, signal: AbortSignal.timeout(timeoutMs), headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
      throw new ChainError('unavailable', `devnet at ${this.url} unreachable (${cause}) on ${method} ${path}`,
        `start it (tessera chain) or check the URL; clients retry ${this.opts.retries ?? 10} times with backoff`);
    }
    if (res.status === 304 && kept) {
      const json = JSON.parse(kept.text) as Record<string, unknown>;
      // The metagraph's ETag covers all but block and timestamp, which come in headers.
      const block = res.headers.get('x-devnet-block'), timestamp = res.headers.get('x-devnet-timestamp');
      if (block !== null) json.block = Number(block);
      if (timestamp !== null) json.timestamp = Number(timestamp);
      return json as T;
    }
    const text = await res.text();
    this.bytesRead += Buffer.byteLength(text);
    let json: unknown;
    try { json = JSON.parse(text); } catch { json = undefined; }
    if (res.ok && json !== undefined) {
      const etag = res.headers.get('etag');
      if (method === 'GET' && CACHED_PATHS.has(path) && etag) this.bodies.set(path, { etag, text });
      return json as T;
    }
    const err = (json as { error?: { code?: ChainErrorCode; message?: string; hint?: string; details?: Record<string, unknown> } } | undefined)?.error;
    if (err?.code && !RETRY_STATUS.has(res.status)) throw new ChainError(err.code, err.message ?? `devnet error ${err.code}`, err.hint, err.details);
    throw new ChainError(RETRY_STATUS.has(res.status) ? 'unavailable' : 'bad_request',
      `devnet ${method} ${path} answered HTTP ${res.status}${err?.message ? `: ${err.message}` : ''}`, err?.hint ?? 'check the devnet log');
  }
}

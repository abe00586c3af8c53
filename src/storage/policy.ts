// What a node accepts when it opens ANOTHER node's bucket from the descriptor that node committed on
// chain (docs/storage.md "Peer stores"). A descriptor is untrusted peer data: its endpoint could name
// any host:port (loopback, the cloud metadata service, a private admin port), and the reader would
// send it signed requests and behave differently on their status (a port-scan oracle, SSRF). The
// policy decides which addresses a peer endpoint may reach, whether fs descriptors are accepted,
// whether https is required, and how fast one endpoint may be asked.
import { lookup as dnsLookup } from 'node:dns';
import { isIP } from 'node:net';
import type { LookupFunction } from 'node:net';
import type { StoreDescriptor } from './types.js';
import { StorageError } from './types.js';

export interface PeerPolicy {
  /** Accept kind 'fs' descriptors (a folder on this machine): local devnets only. */
  allowFs: boolean;
  /** Let peer endpoints reach loopback, private, link-local, unspecified, multicast or reserved addresses. */
  allowPrivate: boolean;
  /** Refuse http:// peer endpoints. */
  requireHttps: boolean;
  /** Requests per second to one endpoint (host:port), all its peers together; burst of one second. Infinity: no limit. */
  maxRequestsPerSecond: number;
}

/** Local devnets run every node, the chain and the RGW on 127.0.0.1 over http, and may use fs buckets. */
export const DEVNET_PEER_POLICY: PeerPolicy = Object.freeze({
  allowFs: true, allowPrivate: true, requireHttps: false, maxRequestsPerSecond: Infinity,
});

/** A real network: public https endpoints only, at most 50 requests/s to one endpoint. */
export const PUBLIC_PEER_POLICY: PeerPolicy = Object.freeze({
  allowFs: false, allowPrivate: false, requireHttps: true, maxRequestsPerSecond: 50,
});

/** Resolves a host name to addresses (dns.lookup with all: true); injectable for tests. */
export type Resolver = (hostname: string) => Promise<{ address: string; family: number }[]>;

const defaultResolver: Resolver = (hostname) => new Promise((resolve, reject) => {
  dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses)));
});

/** How long a checked resolution is reused for new connections (every new resolution is checked again). */
export const PIN_TTL_MS = 60_000;

function refused(why: string): StorageError {
  return new StorageError('denied', `peer bucket refused by the peer policy: ${why}`,
    'a peer descriptor may only name a public https endpoint on a real network; local devnets use DEVNET_PEER_POLICY');
}

/** Checks a peer's parsed descriptor against the policy before anything is sent (throws StorageError 'denied'). */
export function checkPeerDescriptor(d: StoreDescriptor, policy: PeerPolicy): void {
  if (d.kind === 'fs') {
    if (!policy.allowFs) throw refused("kind 'fs' (a folder on this machine) is only accepted on local devnets");
    return;
  }
  const url = new URL(d.endpoint);
  if (policy.requireHttps && url.protocol !== 'https:') throw refused(`endpoint ${d.endpoint} is not https`);
  const host = hostOf(url);
  // Node connects to an IP literal without calling the agent's lookup: such hosts are checked here.
  if (!policy.allowPrivate && isIP(host) && !isPublicAddress(host)) {
    throw refused(`endpoint ${d.endpoint} is a non-public address (${host})`);
  }
}

/** The URL's host without IPv6 brackets (the WHATWG parser already normalized 0x7f.1 and 2130706433 to 127.0.0.1). */
export function hostOf(url: URL): string {
  const h = url.hostname;
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

/**
 * A `lookup` for http(s).Agent: resolves, drops every non-public address, refuses the connection when
 * none is left, and pins the checked answer for PIN_TTL_MS, so a DNS answer that changes to a private
 * address (rebinding) is never connected to.
 */
export function guardedLookup(resolve: Resolver = defaultResolver, now: () => number = Date.now): LookupFunction {
  const pinned = new Map<string, { at: number; addresses: { address: string; family: number }[] }>();
  const lookup = (hostname: string, options: unknown, callback: unknown): void => {
    const cb = (typeof options === 'function' ? options : callback) as (err: Error | null, address: unknown, family?: number) => void;
    const opts = (typeof options === 'object' && options !== null ? options : {}) as { all?: boolean; family?: number | string };
    const answer = async (): Promise<{ address: string; family: number }[]> => {
      const hit = pinned.get(hostname);
      if (hit && now() - hit.at < PIN_TTL_MS) return hit.addresses;
      const all = isIP(hostname) ? [{ address: hostname, family: isIP(hostname) }] : await resolve(hostname);
      const ok = all.filter((a) => isPublicAddress(a.address));
      if (ok.length === 0) {
        throw refused(`${hostname} resolves to non-public addresses only (${all.map((a) => a.address).join(', ') || 'none'})`);
      }
      pinned.set(hostname, { at: now(), addresses: ok });
      return ok;
    };
    answer().then((addresses) => {
      const fam = opts.family === 'IPv4' ? 4 : opts.family === 'IPv6' ? 6 : Number(opts.family ?? 0);
      const usable = fam === 4 || fam === 6 ? addresses.filter((a) => a.family === fam) : addresses;
      if (usable.length === 0) return cb(Object.assign(new Error(`${hostname}: no public IPv${fam} address`), { code: 'ENOTFOUND' }), undefined);
      if (opts.all) cb(null, usable);
      else cb(null, usable[0]!.address, usable[0]!.family);
    }, (e: Error) => cb(e, undefined));
  };
  return lookup as unknown as LookupFunction;
}

// --- address classes ---

/** False for loopback, private, link-local, unspecified, multicast, CGNAT, documentation and reserved addresses (IPv4 and IPv6, IPv4-mapped included). */
export function isPublicAddress(ip: string): boolean {
  const kind = isIP(ip);
  if (kind === 4) return isPublicV4(v4Bytes(ip));
  if (kind === 6) {
    const b = v6Bytes(ip);
    if (!b) return false;
    return isPublicV6(b);
  }
  return false;
}

function v4Bytes(ip: string): number[] {
  return ip.split('.').map(Number);
}

function isPublicV4([a, b, c]: number[]): boolean {
  if (a === undefined || b === undefined || c === undefined) return false;
  if (a === 0 || a === 10 || a === 127) return false; // "this network"/unspecified, private, loopback
  if (a === 100 && b >= 64 && b <= 127) return false; // CGNAT 100.64/10
  if (a === 169 && b === 254) return false; // link-local (cloud metadata 169.254.169.254)
  if (a === 172 && b >= 16 && b <= 31) return false; // private
  if (a === 192 && b === 168) return false; // private
  if (a === 192 && b === 0 && (c === 0 || c === 2)) return false; // IETF protocol assignments, TEST-NET-1
  if (a === 198 && (b === 18 || b === 19)) return false; // benchmarking
  if (a === 198 && b === 51 && c === 100) return false; // TEST-NET-2
  if (a === 203 && b === 0 && c === 113) return false; // TEST-NET-3
  if (a >= 224) return false; // multicast 224/4, reserved 240/4, broadcast
  return true;
}

function isPublicV6(b: number[]): boolean {
  const zero = (from: number, to: number): boolean => b.slice(from, to).every((x) => x === 0);
  const v4At = (i: number): number[] => b.slice(i, i + 4);
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return isPublicV4(v4At(12)); // ::ffff:a.b.c.d (IPv4-mapped)
  if (zero(0, 12)) return false; // :: (unspecified), ::1 (loopback), ::a.b.c.d (deprecated IPv4-compatible)
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12)) return isPublicV4(v4At(12)); // 64:ff9b::/96 NAT64
  if (b[0] === 0x20 && b[1] === 0x02) return isPublicV4(v4At(2)); // 2002::/16 6to4
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0x0d && b[3] === 0xb8) return false; // 2001:db8::/32 documentation
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0x00 && b[3] === 0x00) return false; // 2001::/32 Teredo (tunnels to anywhere)
  if (b[0] === 0x01 && b[1] === 0x00 && zero(2, 8)) return false; // 100::/64 discard
  if (b[0]! >= 0xfc && b[0]! <= 0xfd) return false; // fc00::/7 unique local
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return false; // fe80::/10 link-local
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0xc0) return false; // fec0::/10 site-local (deprecated)
  if (b[0] === 0xff) return false; // multicast
  return (b[0]! & 0xe0) === 0x20; // global unicast is 2000::/3; the rest is reserved
}

/** 16 bytes of an IPv6 address (with an optional zone and a dotted IPv4 tail), or null. */
function v6Bytes(ip: string): number[] | null {
  let s = ip.split('%')[0]!;
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    const v4 = s.slice(lastColon + 1);
    if (isIP(v4) !== 4) return null;
    tail = v4Bytes(v4);
    s = s.slice(0, lastColon + 1) + '0:0';
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((h) => parseInt(h, 16)));
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  const fill = 8 - head.length - rest.length;
  if (halves.length === 1 ? fill !== 0 : fill < 0) return null;
  const groups = [...head, ...new Array(halves.length === 2 ? fill : 0).fill(0), ...rest];
  if (groups.length !== 8 || groups.some((g) => !(g >= 0 && g <= 0xffff))) return null;
  const bytes = groups.flatMap((g) => [g >> 8, g & 0xff]);
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}

// --- rate limit ---

/**
 * Token bucket with reservations: take() returns at once while tokens last, then waits in FIFO order
 * at `perSecond`; an aborted wait hands its token back. Burst: one second's worth (at least 1).
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  readonly capacity: number;

  constructor(readonly perSecond: number, private readonly now: () => number = () => performance.now()) {
    if (!(perSecond > 0)) throw new RangeError(`TokenBucket: perSecond must be > 0, got ${perSecond}`);
    this.capacity = Math.max(1, perSecond);
    this.tokens = this.capacity;
    this.last = this.now();
  }

  /** Resolves when the caller may send one request; rejects with the signal's reason when aborted first. */
  take(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((t - this.last) / 1000) * this.perSecond);
    this.last = t;
    this.tokens -= 1;
    if (this.tokens >= 0) return Promise.resolve();
    const waitMs = (-this.tokens / this.perSecond) * 1000;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, waitMs);
      const onAbort = (): void => {
        clearTimeout(timer);
        this.tokens += 1;
        reject(abortReason(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

function abortReason(signal: AbortSignal): Error {
  const e = new Error('Request aborted');
  e.name = 'AbortError';
  e.cause = signal.reason;
  return e;
}

const limiters = new Map<string, TokenBucket>();

/**
 * The one token bucket for an endpoint's origin (scheme://host:port) at this rate, shared by every peer
 * store in this process that names it: several uids pointing at one victim host share its budget.
 */
export function endpointLimiter(endpoint: string, perSecond: number): TokenBucket | null {
  if (perSecond === Infinity) return null;
  const key = `${new URL(endpoint).origin} ${perSecond}`;
  let b = limiters.get(key);
  if (!b) {
    if (limiters.size >= 4096) limiters.delete(limiters.keys().next().value!); // a full table forgets the oldest endpoint
    limiters.set(key, (b = new TokenBucket(perSecond)));
  }
  return b;
}

// Security findings at the storage layer (issue 11), each reproduced against a real local server: a
// node:http server posing as S3 that streams without end, drips bytes, never answers or returns
// 403/5xx, and real folders with symlinks and FIFOs. Numbers go to the test diagnostics.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { constants as fsc, mkdirSync, mkdtempSync, openSync, closeSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DevnetChainClient } from '../chain/index.js';
import { Directory } from '../neurons/directory.js';
import type { Node } from '../neurons/node.js';
import { serializeDescriptor } from './descriptor.js';
import { fsNodeDescriptors, FsStore } from './fs.js';
import { openPeerStore } from './open.js';
import {
  DEVNET_PEER_POLICY, guardedLookup, isPublicAddress, PIN_TTL_MS, PUBLIC_PEER_POLICY, TokenBucket, type PeerPolicy, type Resolver,
} from './policy.js';
import { withRetry } from './retry.js';
import { S3Store } from './s3.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, isTransient, StorageError, type S3Descriptor, type StorageErrorCode, type StoreTuning } from './types.js';

const MiB = 1 << 20;

// --- a server posing as S3 ---

interface Fake {
  url: string;
  port: number;
  requests: { method: string; url: string; at: number }[];
  /** Bytes the server handed to the kernel over every connection so far. */
  bytesSent(): number;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function fakeS3(handler: Handler): Promise<Fake> {
  const sockets = new Set<Socket>();
  let closedBytes = 0;
  const requests: Fake['requests'] = [];
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', at: performance.now() });
    handler(req, res);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => { closedBytes += s.bytesWritten; sockets.delete(s); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`, port, requests,
    bytesSent: () => closedBytes + [...sockets].reduce((n, s) => n + s.bytesWritten, 0),
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

/** Writes `chunk` until the client goes away (or `limit` bytes, so a broken client fails instead of hanging). */
function endless(res: ServerResponse, limit = 256 * MiB, chunk: Buffer = Buffer.alloc(64 << 10, 7)): void {
  let sent = 0;
  const pump = (): void => {
    while (sent < limit && !res.destroyed) {
      sent += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    if (!res.destroyed) res.end();
  };
  pump();
}

/** One byte every `everyMs` until the client goes away. */
function drip(res: ServerResponse, everyMs: number): void {
  const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write('x')), everyMs);
  res.on('close', () => clearInterval(t));
}

const d = (endpoint: string): S3Descriptor => ({
  kind: 's3', endpoint, region: 'us-east-1', bucket: 'tessera-test', accessKeyId: 'AKIDTEST', secretAccessKey: 'secretsecret',
});

const fakes: Fake[] = [];
const stores: { close(): void }[] = [];
after(async () => {
  stores.forEach((s) => s.close());
  await Promise.all(fakes.map((f) => f.close()));
});

async function serve(handler: Handler): Promise<Fake> {
  const f = await fakeS3(handler);
  fakes.push(f);
  return f;
}

function s3(f: Fake, tuning: StoreTuning = {}): S3Store {
  const s = new S3Store(d(f.url), { sdkAttempts: 1, ...tuning });
  stores.push(s);
  return s;
}

async function rejectsWith(p: Promise<unknown>, code: StorageErrorCode, re?: RegExp): Promise<StorageError> {
  let got: unknown;
  await assert.rejects(p, (e: unknown) => {
    got = e;
    assert.ok(e instanceof StorageError, `expected StorageError '${code}', got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
  return got as StorageError;
}

/** Runs fn while sampling RSS every 20 ms; returns fn's result and the peak RSS growth in MiB. */
async function peakRss<T>(fn: () => Promise<T>): Promise<{ value: T; growthMiB: number; ms: number }> {
  const base = process.memoryUsage().rss;
  let peak = base;
  const t = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 20);
  const t0 = performance.now();
  try {
    const value = await fn();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { value, growthMiB: (peak - base) / MiB, ms: performance.now() - t0 };
  } finally {
    clearInterval(t);
  }
}

const RANGE = 8704; // 8.5 KiB, the receipt-sized range of the finding

describe('finding 3: bodies are streamed and cut at the cap', () => {
  test('finding 3: ranged GET against an endless body reads at most the range', { timeout: 60_000 }, async (t) => {
    const f = await serve((req, res) => {
      if (req.method !== 'GET') return void res.writeHead(405).end();
      res.writeHead(200, { 'content-type': 'application/octet-stream' }); // Range ignored, no Content-Length: endless
      endless(res);
    });
    const store = s3(f);
    const { value, growthMiB, ms } = await peakRss(() => store.getRange('k', 0, RANGE));
    assert.equal(value?.length, RANGE);
    await new Promise((r) => setTimeout(r, 100)); // let the server see the close
    const sent = f.bytesSent();
    t.diagnostic(`range ${RANGE} B of an endless body: server sent ${(sent / MiB).toFixed(2)} MiB before the client hung up, ` +
      `peak RSS growth ${growthMiB.toFixed(1)} MiB, ${ms.toFixed(0)} ms`);
    assert.ok(sent < 16 * MiB, `server sent ${sent} bytes for a ${RANGE}-byte range`);
    assert.ok(growthMiB < 64, `RSS grew ${growthMiB.toFixed(1)} MiB`);
  });

  test('finding 3: a 206 whose body runs past its Content-Range is cut at the range', { timeout: 60_000 }, async (t) => {
    const f = await serve((_req, res) => {
      res.writeHead(206, { 'content-range': `bytes 0-${RANGE - 1}/${RANGE}` }); // chunked: the body ignores the range
      endless(res);
    });
    const { value, growthMiB } = await peakRss(() => s3(f).getRange('k', 0, RANGE));
    assert.equal(value?.length, RANGE);
    await new Promise((r) => setTimeout(r, 100));
    t.diagnostic(`206 with an endless body: server sent ${(f.bytesSent() / MiB).toFixed(2)} MiB, RSS +${growthMiB.toFixed(1)} MiB`);
    assert.ok(f.bytesSent() < 16 * MiB);
  });

  test('finding 3: get with maxBytes against an endless body is refused after at most maxBytes + 1 bytes', { timeout: 60_000 }, async (t) => {
    const f = await serve((_req, res) => {
      res.writeHead(200);
      endless(res);
    });
    const { value: e, growthMiB, ms } = await peakRss(() => rejectsWith(s3(f).get('k', { maxBytes: 1 * MiB }), 'too-large'));
    assert.equal(e.retryable, false);
    await new Promise((r) => setTimeout(r, 100));
    t.diagnostic(`get maxBytes 1 MiB of an endless body: server sent ${(f.bytesSent() / MiB).toFixed(2)} MiB, RSS +${growthMiB.toFixed(1)} MiB, ${ms.toFixed(0)} ms`);
    assert.ok(f.bytesSent() < 17 * MiB);
    assert.ok(growthMiB < 64);
  });

  test('finding 3: get without maxBytes stops at the store default (maxObjectBytes)', { timeout: 60_000 }, async () => {
    const f = await serve((_req, res) => {
      res.writeHead(200);
      endless(res);
    });
    await rejectsWith(s3(f, { maxObjectBytes: 2 * MiB }).get('k'), 'too-large');
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(f.bytesSent() < 18 * MiB);
  });

  test('finding 3: a Content-Length over maxBytes is refused before the body is read', async () => {
    const f = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': String(1 << 30) });
      endless(res, 1 << 30);
    });
    const t0 = performance.now();
    await rejectsWith(s3(f).get('k', { maxBytes: 4096 }), 'too-large', /Content-Length 1073741824/);
    assert.ok(performance.now() - t0 < 2000);
  });

  test('finding 3: a reply that ignores Range for a range past 0 is refused, not skipped through', async () => {
    const f = await serve((_req, res) => {
      res.writeHead(200);
      endless(res);
    });
    await rejectsWith(s3(f).getRange('k', 100 * MiB, 100 * MiB + RANGE), 'failed', /ignored the Range header/);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(f.bytesSent() < 16 * MiB);
  });

  test('finding 3: list pages, error replies and endless truncated listings are capped', { timeout: 60_000 }, async () => {
    const head = '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>tessera-test</Name>';
    let mode: 'page' | 'error' | 'forever' = 'page';
    const f = await serve((req, res) => {
      if (mode === 'page') {
        res.writeHead(200, { 'content-type': 'application/xml' });
        res.write(head);
        endless(res, 256 * MiB, Buffer.from('<Contents><Key>k</Key><Size>1</Size></Contents>'.repeat(1000)));
      } else if (mode === 'error') {
        res.writeHead(503, { 'content-type': 'application/xml' });
        res.write('<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code><Message>');
        endless(res);
      } else {
        const n = Number(new URL(req.url!, 'http://x').searchParams.get('continuation-token') ?? 0);
        const keys = Array.from({ length: 10 }, (_, i) => `<Contents><Key>k${n * 10 + i}</Key><Size>1</Size></Contents>`).join('');
        res.writeHead(200, { 'content-type': 'application/xml' });
        res.end(`${head}<KeyCount>10</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated><NextContinuationToken>${n + 1}</NextContinuationToken>${keys}</ListBucketResult>`);
      }
    });
    const store = s3(f);
    let sent = f.bytesSent();
    await rejectsWith(store.list('k'), 'too-large');
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(f.bytesSent() - sent < 32 * MiB, `list page: ${f.bytesSent() - sent} bytes`);
    mode = 'error';
    sent = f.bytesSent();
    await rejectsWith(store.get('k'), 'too-large');
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(f.bytesSent() - sent < 8 * MiB, `error body: ${f.bytesSent() - sent} bytes`);
    mode = 'forever';
    await rejectsWith(store.list('', { maxKeys: 55 }), 'too-large', /more than 55 keys/);
    await rejectsWith(s3(f, { maxListKeys: 100 }).list(''), 'too-large', /more than 100 keys/);
    const before = f.requests.length;
    await rejectsWith(store.list('', { maxBytes: 30 }), 'too-large', /more than 30 keys/); // maxBytes counts keys for list
    assert.equal(f.requests.length - before, 4, 'stops at the first page past the cap');
  });
});

describe('finding 4: every request has an overall deadline and honours AbortSignal', () => {
  test('finding 4: a server dripping one byte per 200 ms is cut at the request deadline (body included)', { timeout: 20_000 }, async (t) => {
    const f = await serve((_req, res) => {
      res.writeHead(206, { 'content-range': `bytes 0-${RANGE - 1}/${RANGE}`, 'content-length': String(RANGE) });
      drip(res, 200);
    });
    const t0 = performance.now();
    const e = await rejectsWith(s3(f, { requestTimeoutMs: 1000 }).getRange('k', 0, RANGE), 'timeout', /request deadline/);
    const ms = performance.now() - t0;
    t.diagnostic(`drip 1 B / 200 ms, deadline 1000 ms: rejected after ${ms.toFixed(0)} ms`);
    assert.ok(ms >= 900 && ms < 2500, `${ms} ms`);
    assert.ok(isTransient(e), "'timeout' is retryable");
  });

  test('finding 4: a server that never answers times out (head, list, get)', { timeout: 20_000 }, async () => {
    const f = await serve(() => undefined); // reads the request, never writes a byte
    const store = s3(f, { requestTimeoutMs: 500 });
    for (const call of [() => store.head('k'), () => store.list('p/'), () => store.get('k')]) {
      const t0 = performance.now();
      await rejectsWith(call(), 'timeout');
      assert.ok(performance.now() - t0 < 1500);
    }
  });

  test('finding 4: SDK retries stay inside one deadline', { timeout: 20_000 }, async () => {
    const f = await serve((_req, res) => void res.writeHead(503).end());
    const store = s3(f, { requestTimeoutMs: 300, sdkAttempts: 50 });
    const t0 = performance.now();
    const e = await assert.rejects(store.head('k'), (err: unknown) => err instanceof StorageError && (err.code === 'timeout' || err.code === 'transient'));
    void e;
    assert.ok(performance.now() - t0 < 1500, 'fifty attempts do not stretch the deadline');
  });

  test('finding 4: a body arriving at least minBytesPerSecond fast may outlast requestTimeoutMs', { timeout: 20_000 }, async (t) => {
    const size = 3 * MiB;
    const f = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': String(size) });
      let sent = 0;
      const tick = setInterval(() => { // ~3 MiB/s in 64 KiB pieces
        if (res.destroyed) return clearInterval(tick);
        res.write(Buffer.alloc(64 << 10, 1));
        sent += 64 << 10;
        if (sent >= size) { clearInterval(tick); res.end(); }
      }, 20);
    });
    const t0 = performance.now();
    const got = await s3(f, { requestTimeoutMs: 300, minBytesPerSecond: 1 * MiB }).get('k');
    t.diagnostic(`3 MiB at ~3 MiB/s with a 300 ms deadline: ok after ${(performance.now() - t0).toFixed(0)} ms`);
    assert.equal(got?.length, size);
  });

  test('finding 4: the caller\'s AbortSignal cancels a request mid-body; aborted is not retried', { timeout: 20_000 }, async (t) => {
    const f = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': String(RANGE) });
      drip(res, 50);
    });
    const store = s3(f);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const t0 = performance.now();
    let calls = 0;
    const e = await rejectsWith(withRetry(() => { calls++; return store.get('k', { signal: ac.signal }); }, { attempts: 4, baseMs: 1 }), 'aborted');
    const ms = performance.now() - t0;
    t.diagnostic(`abort at 300 ms: rejected after ${ms.toFixed(0)} ms`);
    assert.ok(ms < 1000);
    assert.equal(e.retryable, false);
    assert.equal(calls, 1);
    // already aborted: no request at all
    const n = f.requests.length;
    await rejectsWith(store.head('k', { signal: AbortSignal.abort() }), 'aborted');
    await rejectsWith(store.list('', { signal: AbortSignal.abort() }), 'aborted');
    assert.equal(f.requests.length, n);
  });

  test('finding 4: the default deadline is 30 s', () => {
    assert.equal(DEFAULT_REQUEST_TIMEOUT_MS, 30_000);
  });

  test('finding 4: 403 and 5xx keep their meaning (denied; transient)', async () => {
    let code = 403;
    const f = await serve((_req, res) => void res.writeHead(code, { 'content-type': 'application/xml' })
      .end(`<?xml version="1.0"?><Error><Code>${code === 403 ? 'AccessDenied' : 'ServiceUnavailable'}</Code><Message>m</Message></Error>`));
    await rejectsWith(s3(f).get('k'), 'denied');
    code = 503;
    await rejectsWith(s3(f).get('k'), 'transient');
  });
});

describe('finding 8: fs buckets do not follow symlinks or block on FIFOs; peers need allowFs', () => {
  const root = mkdtempSync(join(tmpdir(), 'tessera-fs-sec-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  test('finding 8: fs reads do not follow a symlink out of the bucket', async () => {
    const bucket = join(root, 'b1');
    const outside = join(root, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret'), 'top secret bytes');
    const w = new FsStore(bucket);
    await w.ensureBucket();
    await w.put('ok/x', new Uint8Array([1, 2, 3]));
    symlinkSync(join(outside, 'secret'), join(bucket, 'leak')); // the object itself is a symlink
    symlinkSync(outside, join(bucket, 'dir')); // a folder on the way is a symlink
    symlinkSync(join(bucket, 'ok', 'x'), join(bucket, 'inner')); // even one pointing inside: not an object
    const r = new FsStore(bucket, { readOnly: true });
    for (const key of ['leak', 'dir/secret', 'inner']) {
      assert.equal(await r.get(key), null, key);
      assert.equal(await r.getRange(key, 0, 4), null, key);
      assert.equal(await r.head(key), null, `${key}: head leaks neither existence nor size`);
    }
    assert.deepEqual(await r.list(), ['ok/x']);
    assert.deepEqual(await r.list('dir/'), []);
    assert.deepEqual(await r.list('dir/s'), []);
    assert.deepEqual([...(await r.get('ok/x'))!], [1, 2, 3]);
  });

  test('finding 8: a FIFO swapped in after head does not block get, getRange or head', { timeout: 10_000 }, async () => {
    const bucket = join(root, 'b2');
    const w = new FsStore(bucket);
    await w.ensureBucket();
    await w.put('g/1', new Uint8Array(100));
    const r = new FsStore(bucket, { readOnly: true });
    assert.equal((await r.head('g/1'))?.size, 100);
    const fifo = join(bucket, 'g', '1');
    unlinkSync(fifo);
    execFileSync('mkfifo', [fifo]);
    try {
      const t0 = performance.now();
      assert.equal(await r.get('g/1'), null);
      assert.equal(await r.getRange('g/1', 0, 10), null);
      assert.equal(await r.head('g/1'), null);
      assert.deepEqual(await r.list('g/'), []);
      assert.ok(performance.now() - t0 < 2000);
    } finally {
      // a reader blocked in open(2) (the unfixed store) is released by a writer opening the FIFO
      try { closeSync(openSync(fifo, fsc.O_WRONLY | fsc.O_NONBLOCK)); } catch { /* no reader waiting */ }
    }
  });

  test('finding 8: fs descriptors from peers are refused unless the policy allows them (local devnets)', async () => {
    const text = serializeDescriptor(fsNodeDescriptors(join(root, 'b1')).read);
    assert.throws(() => openPeerStore(text, PUBLIC_PEER_POLICY), /only accepted on local devnets/);
    assert.throws(() => openPeerStore(fsNodeDescriptors(join(root, 'b1')).read, PUBLIC_PEER_POLICY), (e: unknown) => e instanceof StorageError && e.code === 'denied');
    const s = openPeerStore(text, DEVNET_PEER_POLICY);
    assert.deepEqual([...(await s.get('ok/x'))!], [1, 2, 3]);
    assert.equal((s as unknown as { put?: unknown }).put, undefined, 'a peer store is read-only');
  });
});

describe('finding 10: peer endpoints are checked, pinned and rate limited', () => {
  const noPrivate: PeerPolicy = { allowFs: false, allowPrivate: false, requireHttps: false, maxRequestsPerSecond: Infinity };

  test('finding 10: address classes (IPv4, IPv6, IPv4-mapped)', () => {
    const blocked = ['127.0.0.1', '127.255.0.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254',
      '0.0.0.0', '100.64.0.1', '224.0.0.1', '239.255.255.250', '255.255.255.255', '240.0.0.1', '192.0.2.1', '198.18.0.1',
      '::', '::1', 'fe80::1', 'fe80::1%eth0', 'fc00::1', 'fd12:3456::1', 'ff02::1', 'fec0::1', '2001:db8::1',
      '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', '::ffff:169.254.169.254', '::127.0.0.1', '64:ff9b::a00:1', '2002:7f00:1::1',
      'not-an-ip', ''];
    const open = ['8.8.8.8', '1.1.1.1', '93.184.216.34', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '2a00:1450:4001::1',
      '::ffff:8.8.8.8', '64:ff9b::808:808'];
    for (const ip of blocked) assert.equal(isPublicAddress(ip), false, ip);
    for (const ip of open) assert.equal(isPublicAddress(ip), true, ip);
  });

  test('finding 10: a peer endpoint on a loopback/private/link-local address is refused before any request', async () => {
    const f = await serve((_req, res) => void res.writeHead(200, { 'content-length': '1' }).end('x'));
    const endpoints = [f.url, `http://[::1]:${f.port}`, `http://[::ffff:127.0.0.1]:${f.port}`, `http://0x7f.1:${f.port}`,
      `http://2130706433:${f.port}`, 'http://169.254.169.254', 'http://10.0.0.5:7480', 'http://[fe80::1]:80', 'http://0.0.0.0:80'];
    for (const endpoint of endpoints) {
      const text = serializeDescriptor(d(endpoint));
      assert.throws(() => openPeerStore(text, noPrivate), (e: unknown) => e instanceof StorageError && e.code === 'denied' && /non-public/.test(e.message), endpoint);
    }
    assert.throws(() => openPeerStore(serializeDescriptor(d(f.url)), PUBLIC_PEER_POLICY), /not https/);
    assert.throws(() => openPeerStore(serializeDescriptor(d('http://s3.example.com')), PUBLIC_PEER_POLICY), /not https/);
    openPeerStore(serializeDescriptor(d('https://s3.example.com')), PUBLIC_PEER_POLICY).close(); // fine: nothing is sent yet
    const dev = openPeerStore(serializeDescriptor(d(f.url)), DEVNET_PEER_POLICY); // devnets run on 127.0.0.1
    assert.equal((await dev.head('k'))?.size, 1);
    dev.close();
    assert.equal(f.requests.length, 1, 'only the devnet store sent anything');
  });

  test('finding 10: a host name that resolves to a private address is refused at connect time', async () => {
    const f = await serve((_req, res) => void res.writeHead(200, { 'content-length': '1' }).end('x'));
    const names: Record<string, string[]> = {
      'rebind.test': ['127.0.0.1'], 'mapped.test': ['::ffff:127.0.0.1'], 'meta.test': ['169.254.169.254'], 'v6.test': ['::1'],
    };
    const resolve: Resolver = async (h) => (names[h] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    for (const host of Object.keys(names)) {
      const s = openPeerStore(serializeDescriptor(d(`http://${host}:${f.port}`)), noPrivate, { resolve, tuning: { sdkAttempts: 1 } });
      await rejectsWith(s.head('k'), 'denied', /resolves to non-public addresses only/);
      await rejectsWith(s.get('k'), 'denied');
      s.close();
    }
    assert.equal(f.requests.length, 0, 'nothing reached the local server');
  });

  test('finding 10: DNS rebinding cannot switch a pinned endpoint to a private address', async () => {
    let answer = ['93.184.216.34'];
    let calls = 0;
    let now = 0;
    const lookup = guardedLookup(async () => { calls++; return answer.map((address) => ({ address, family: 4 })); }, () => now);
    const ask = (all: boolean) => new Promise<unknown>((resolve, reject) =>
      (lookup as unknown as (h: string, o: object, cb: (e: Error | null, a: unknown, f?: number) => void) => void)(
        'peer.example', { all }, (e, a) => (e ? reject(e) : resolve(a))));
    assert.deepEqual(await ask(true), [{ address: '93.184.216.34', family: 4 }]);
    answer = ['127.0.0.1']; // the attacker's DNS now points at loopback
    now += PIN_TTL_MS - 1;
    assert.equal(await ask(false), '93.184.216.34', 'pinned: the checked address is reused');
    assert.equal(calls, 1);
    now += 2;
    await assert.rejects(ask(true), /non-public addresses only/); // re-resolved after the pin, checked again
    answer = ['10.0.0.1', '93.184.216.35']; // mixed answers keep only public addresses
    assert.deepEqual(await ask(true), [{ address: '93.184.216.35', family: 4 }]);
  });

  test('finding 10: requests to one endpoint are rate limited (token bucket, shared by its peers)', { timeout: 30_000 }, async (t) => {
    const f = await serve((_req, res) => void res.writeHead(200, { 'content-length': '1' }).end('x'));
    const policy: PeerPolicy = { allowFs: false, allowPrivate: true, requireHttps: false, maxRequestsPerSecond: 10 };
    const a = openPeerStore(serializeDescriptor(d(f.url)), policy);
    const b = openPeerStore(serializeDescriptor({ ...d(f.url), bucket: 'tessera-other' }), policy); // another uid, same host
    stores.push(a, b);
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).head(`k${i}`)));
    const ms = performance.now() - t0;
    const at = f.requests.map((r) => r.at);
    const inFirstSecond = at.filter((x) => x - at[0]! < 1000).length;
    t.diagnostic(`30 HEADs at 10 req/s: ${ms.toFixed(0)} ms; ${inFirstSecond} in the first second`);
    assert.ok(ms >= 1800, `${ms} ms`);
    assert.ok(inFirstSecond <= 21, `${inFirstSecond} requests in the first second (burst 10 + 10/s)`);
  });

  test('finding 10: a request waiting for its rate-limit token is still bound by its deadline', { timeout: 10_000 }, async () => {
    const f = await serve((_req, res) => void res.writeHead(200, { 'content-length': '1' }).end('x'));
    const policy: PeerPolicy = { allowFs: false, allowPrivate: true, requireHttps: false, maxRequestsPerSecond: 1 };
    const s = openPeerStore(serializeDescriptor(d(f.url)), policy, { tuning: { requestTimeoutMs: 300, sdkAttempts: 1 } });
    stores.push(s);
    await s.head('k'); // the one token
    const t0 = performance.now();
    await rejectsWith(s.head('k'), 'timeout');
    assert.ok(performance.now() - t0 < 800, 'did not sit out the 1 s wait');
    assert.equal(f.requests.length, 1);
  });

  test('finding 10: a waiting request can be aborted; its token goes back', async () => {
    let clock = 0;
    const b = new TokenBucket(1, () => clock);
    await b.take();
    const ac = new AbortController();
    const waiting = b.take(ac.signal);
    ac.abort();
    await assert.rejects(waiting, /aborted/);
    clock += 1000;
    await b.take(); // the aborted reservation was returned: one token after a second
  });

  test('finding 10: the directory picks the devnet policy on a devnet chain, the public one otherwise', () => {
    const lines: string[] = [];
    const node = (chain: unknown) => ({ chain, uid: 0, log: (l: string) => lines.push(l) }) as unknown as Node;
    const devnet = new Directory(node(new DevnetChainClient({ url: 'http://127.0.0.1:1' })));
    assert.equal(devnet.peerPolicy, DEVNET_PEER_POLICY);
    const other = new Directory(node({}));
    assert.equal(other.peerPolicy, PUBLIC_PEER_POLICY);
    other.commitments = { 1: serializeDescriptor({ kind: 'fs', path: '/etc', readOnly: true }), 2: serializeDescriptor(d('http://127.0.0.1:7480')) };
    assert.equal(other.bucket(1), null);
    assert.equal(other.bucket(2), null);
    assert.match(lines.join('\n'), /uid 1 committed an unusable bucket descriptor.*devnets/);
    assert.match(lines.join('\n'), /uid 2 committed an unusable bucket descriptor.*https/);
    devnet.commitments = { 2: serializeDescriptor(d('http://127.0.0.1:7480')) };
    const s = devnet.bucket(2);
    assert.ok(s);
    devnet.close();
  });
});

describe('finding 13: downloads can be capped (get maxBytes)', () => {
  test('finding 13: get with maxBytes caps a download on S3 and on fs', async () => {
    const size = 2 * MiB;
    const f = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': String(size) });
      res.end(Buffer.alloc(size, 3));
    });
    const s = s3(f);
    assert.equal((await s.get('k', { maxBytes: size }))?.length, size);
    await rejectsWith(s.get('k', { maxBytes: size - 1 }), 'too-large');
    const root = mkdtempSync(join(tmpdir(), 'tessera-cap-'));
    try {
      const w = new FsStore(root);
      await w.put('ckpt', new Uint8Array(size));
      assert.equal((await w.get('ckpt', { maxBytes: size }))?.length, size);
      await rejectsWith(w.get('ckpt', { maxBytes: size - 1 }), 'too-large');
      await rejectsWith(new FsStore(root, { maxObjectBytes: 1000 }).get('ckpt'), 'too-large');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

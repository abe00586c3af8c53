// Direct connections between the stages of one pipeline group: framed messages over TCP, with an
// optional link-rate model in user space, and the rendezvous through object storage (each stage
// publishes its listening address in its own bucket; its predecessor reads it there and connects).
//
// Frame: u32 body length | u8 type | u32 step | u16 micro | f64 send time (epoch ms) | body.
// Link rate, two ways. Shaped outside the process (`external`: each stage in its own network
// namespace, the veth links shaped by tc tbf, src/hosts/netns.ts): a frame is deliverable when it
// has arrived. Modelled in user space (the fallback, on loopback): the receiver hands a frame to the
// stage no earlier than max(send time, previous frame's delivery) + 8·(frame bytes)/rate + latency —
// a serialized link of that rate, timed from the sender's clock (both ends read the same system
// clock on one machine). Either way frames cross a real socket.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { TesseraError } from '../util/errors.js';
import type { ObjectStore, ReadOnlyStore } from '../storage/types.js';

export const enum Msg { Hello = 1, Forward = 2, Backward = 3, Norm = 4, NormTotal = 5, Done = 6 }
const HEADER = 4 + 1 + 4 + 2 + 8;
const MAX_FRAME = 256 * 2 ** 20;

export interface Frame { type: Msg; step: number; micro: number; body: Uint8Array; sentAt: number; deliverAt: number }

export interface LinkShape {
  /** Bits per second of the link into this end (0 or absent: unlimited). */
  rateBps?: number;
  latencyMs?: number;
  /** The link is shaped outside this process (tc in network namespaces): no model; a frame is deliverable on arrival. */
  external?: boolean;
}

export const nowMs = (): number => performance.timeOrigin + performance.now();

/** Thrown (rejected) when the other end of a link is gone: the group's window ends. */
export class PeerGone extends TesseraError {
  constructor(readonly peer: string, why: string) {
    super(`pipeline: ${peer} is gone (${why})`, 'the group ends this window; its stages upload nothing and re-form at the next window');
  }
}

export class Link {
  private buf: Buffer = Buffer.alloc(0);
  private queue: Frame[] = [];
  private waiters: { resolve: (f: Frame) => void; reject: (e: Error) => void }[] = [];
  private lastDeliver = 0;
  private closed: Error | null = null;
  bytesIn = 0;
  bytesOut = 0;
  /** ms the link model held frames back beyond their arrival (time spent "on the wire"). */
  heldMs = 0;

  constructor(readonly socket: Socket, readonly peer: string, readonly shape: LinkShape = {}) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    const fail = (why: string) => this.fail(new PeerGone(peer, why));
    socket.on('error', (e) => fail(e.message));
    socket.on('close', () => fail('connection closed'));
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= HEADER) {
      const len = this.buf.readUInt32LE(0);
      if (len > MAX_FRAME) { this.fail(new PeerGone(this.peer, `frame of ${len} bytes exceeds ${MAX_FRAME}`)); this.socket.destroy(); return; }
      if (this.buf.length < HEADER + len) break;
      const type = this.buf.readUInt8(4) as Msg, step = this.buf.readUInt32LE(5), micro = this.buf.readUInt16LE(9), sentAt = this.buf.readDoubleLE(11);
      const body = new Uint8Array(this.buf.subarray(HEADER, HEADER + len)); // own copy (aligned, detached from the stream buffer)
      this.buf = this.buf.subarray(HEADER + len);
      this.bytesIn += HEADER + len;
      const rate = this.shape.rateBps ?? 0;
      const wire = rate > 0 ? (8 * (HEADER + len) * 1000) / rate : 0;
      const deliverAt = this.shape.external ? nowMs() : Math.max(sentAt, this.lastDeliver) + wire + (this.shape.latencyMs ?? 0);
      this.lastDeliver = deliverAt;
      this.push({ type, step, micro, body, sentAt, deliverAt });
    }
  }

  private arrivals: (() => void)[] = [];

  private push(f: Frame): void {
    for (const cb of this.arrivals.splice(0)) cb();
    const w = this.waiters.shift();
    if (w) this.deliver(f).then(w.resolve, w.reject);
    else this.queue.push(f);
  }

  private async deliver(f: Frame): Promise<Frame> {
    const wait = f.deliverAt - nowMs();
    if (wait > 0) { this.heldMs += wait; await new Promise((r) => setTimeout(r, wait)); }
    return f;
  }

  private fail(e: Error): void {
    if (this.closed) return;
    this.closed = e;
    for (const cb of this.arrivals.splice(0)) cb();
    for (const w of this.waiters.splice(0)) w.reject(e);
  }

  send(type: Msg, step: number, micro: number, body: Uint8Array = new Uint8Array(0)): void {
    if (this.closed) throw this.closed;
    const h = Buffer.alloc(HEADER);
    h.writeUInt32LE(body.length, 0); h.writeUInt8(type, 4); h.writeUInt32LE(step >>> 0, 5); h.writeUInt16LE(micro, 9); h.writeDoubleLE(nowMs(), 11);
    // One write (writev) per frame: one wakeup of the receiver, not one for the header and one for the body.
    this.socket.cork();
    this.socket.write(h);
    this.socket.write(body);
    this.socket.uncork();
    this.bytesOut += HEADER + body.length;
  }

  /** The next frame, waiting for it (and for the link model) as needed; rejects with PeerGone. */
  recv(): Promise<Frame> {
    const f = this.queue.shift();
    if (f) return this.deliver(f);
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** A frame already deliverable now (arrived and past its delivery time), without waiting. */
  poll(): Frame | null {
    const f = this.queue[0];
    if (f && f.deliverAt <= nowMs()) return this.queue.shift()!;
    return null;
  }

  /** Delivery time of the first queued frame, or null; throws when the link failed and nothing is queued. */
  headReadyAt(): number | null {
    if (this.queue.length) return this.queue[0]!.deliverAt;
    if (this.closed) throw this.closed;
    return null;
  }

  /** Resolves at the next arrival (or failure) on this link. */
  arrival(): Promise<void> {
    return new Promise((r) => this.arrivals.push(r));
  }

  /** recv() of a frame of the given type (anything else is a protocol error). */
  async expect(type: Msg, step: number): Promise<Frame> {
    const f = await this.recv();
    if (f.type !== type || f.step !== (step >>> 0)) throw new TesseraError(`pipeline: expected message ${type} for step ${step} from ${this.peer}, got ${f.type} for step ${f.step}`);
    return f;
  }

  close(): void {
    this.fail(new PeerGone(this.peer, 'closed by this side'));
    this.socket.end();
    this.socket.destroy();
  }
}

/**
 * The first deliverable frame of any of `links` (earlier links first when several are ready),
 * waiting for arrivals and for the link model; rejects with PeerGone when a link failed.
 */
export async function pollAny(links: Link[]): Promise<{ link: Link; frame: Frame }> {
  for (;;) {
    let soonest = Infinity;
    for (const l of links) {
      const f = l.poll();
      if (f) return { link: l, frame: f };
      const at = l.headReadyAt();
      if (at !== null) soonest = Math.min(soonest, at);
    }
    if (soonest < Infinity) await new Promise((r) => setTimeout(r, Math.max(0, soonest - nowMs())));
    else await Promise.race(links.map((l) => l.arrival()));
  }
}

/** Yields to the event loop so queued socket writes go out and arrived data is parsed. */
export const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

export interface StageAddress { group: string; stage: number; host: string; port: number; window: number }

export const addressKey = (group: string, stage: number): string => `pipeline/${group}/stage-${stage}.json`;

/**
 * Stage s > 0: listens on host (port 0: any), publishes its address in its own bucket and resolves
 * with the link to stage s − 1 once that stage connected and said hello for this group and window.
 */
export async function listenForPrevious(own: ObjectStore, group: string, stage: number, window: number,
  shape: LinkShape, o: { host?: string; timeoutMs?: number } = {}): Promise<Link> {
  const host = o.host ?? '127.0.0.1';
  const server: Server = createServer();
  await new Promise<void>((res, rej) => { server.once('error', rej); server.listen(0, host, () => res()); });
  const port = (server.address() as { port: number }).port;
  const addr: StageAddress = { group, stage, host, port, window };
  await own.put(addressKey(group, stage), new TextEncoder().encode(JSON.stringify(addr)));
  try {
    return await new Promise<Link>((resolve, reject) => {
      const timer = setTimeout(() => reject(new PeerGone(`stage ${stage - 1}`, `did not connect within ${o.timeoutMs ?? 30000} ms`)), o.timeoutMs ?? 30000);
      server.on('connection', (sock) => {
        const link = new Link(sock, `stage ${stage - 1}`, shape);
        link.recv().then((f) => {
          const hello = JSON.parse(new TextDecoder().decode(f.body)) as { group: string; stage: number; window: number };
          if (f.type !== Msg.Hello || hello.group !== group || hello.stage !== stage - 1 || hello.window !== window) { link.close(); return; }
          clearTimeout(timer);
          resolve(link);
        }, () => { /* a connection that died before hello: wait for another */ });
      });
    });
  } finally {
    server.close();
  }
}

/** Stage s < S − 1: reads stage s + 1's address from its bucket (polling until it is there), connects, says hello. */
export async function connectToNext(next: ReadOnlyStore, group: string, stage: number, window: number,
  shape: LinkShape, o: { timeoutMs?: number; pollMs?: number } = {}): Promise<Link> {
  const deadline = Date.now() + (o.timeoutMs ?? 30000);
  for (;;) {
    // Until the next stage has created its bucket and published, reads fail or find nothing: keep polling.
    const raw = await next.get(addressKey(group, stage + 1), { maxBytes: 4096 }).catch(() => null);
    if (raw) {
      const a = JSON.parse(new TextDecoder().decode(raw)) as StageAddress;
      if (a.group === group && a.stage === stage + 1 && a.window === window && Number.isInteger(a.port)) {
        const sock = connect(a.port, a.host);
        const ok = await new Promise<boolean>((res) => { sock.once('connect', () => res(true)); sock.once('error', () => res(false)); });
        if (ok) {
          const link = new Link(sock, `stage ${stage + 1}`, shape);
          link.send(Msg.Hello, 0, 0, new TextEncoder().encode(JSON.stringify({ group, stage, window })));
          return link;
        }
      }
    }
    if (Date.now() > deadline) throw new PeerGone(`stage ${stage + 1}`, `published no reachable address for window ${window} within ${o.timeoutMs ?? 30000} ms`);
    await new Promise((r) => setTimeout(r, o.pollMs ?? 100));
  }
}

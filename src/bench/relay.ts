// A TCP relay the chaos suite puts between one node and the chain / object storage, so its link can be
// cut without network namespaces: while cut, new connections are accepted and held without an answer
// (as a cut link looks: requests time out, nothing is refused) and open ones are dropped; restore()
// destroys the held sockets and relays again. Loopback only.
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export class Relay {
  private server: Server | null = null;
  private readonly open = new Set<Socket>();
  private readonly held = new Set<Socket>();
  cut = false;
  port = 0;

  private constructor(private targetHost: string, private targetPort: number) {}

  /** Where the relay forwards new connections to (set once the target's port is known). */
  setTarget(host: string, port: number): void {
    this.targetHost = host;
    this.targetPort = port;
  }

  /** Starts a relay to host:port on a free loopback port. */
  static async start(targetHost: string, targetPort: number): Promise<Relay> {
    const r = new Relay(targetHost, targetPort);
    r.server = createServer((c) => r.accept(c));
    await new Promise<void>((res, rej) => { r.server!.once('error', rej); r.server!.listen(0, '127.0.0.1', () => res()); });
    r.port = (r.server.address() as { port: number }).port;
    return r;
  }

  /** A URL like `url` (http://host:port/...) with the host and port replaced by the relay's. */
  static rewrite(url: string, port: number): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(port);
    return u.toString().replace(/\/$/, url.endsWith('/') ? '/' : '');
  }

  private accept(c: Socket): void {
    if (this.cut) {
      this.held.add(c);
      c.on('error', () => {});
      c.on('close', () => this.held.delete(c));
      return;
    }
    const up = createConnection({ host: this.targetHost, port: this.targetPort });
    this.open.add(c); this.open.add(up);
    const drop = (): void => { c.destroy(); up.destroy(); this.open.delete(c); this.open.delete(up); };
    c.on('error', drop); up.on('error', drop); c.on('close', drop); up.on('close', drop);
    c.pipe(up); up.pipe(c);
  }

  /** Cuts the link: open connections are dropped, new ones hang. */
  sever(): void {
    this.cut = true;
    for (const s of this.open) s.destroy();
    this.open.clear();
  }

  /** Relays again; connections held during the cut are closed (their requests time out / retry). */
  restore(): void {
    this.cut = false;
    for (const s of this.held) s.destroy();
    this.held.clear();
  }

  async close(): Promise<void> {
    this.sever();
    this.restore();
    await new Promise<void>((res) => (this.server ? this.server.close(() => res()) : res()));
  }
}

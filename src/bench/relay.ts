// A TCP relay the chaos suite puts between one node and the chain / object storage, so its link can be
// cut without network namespaces: while cut, new connections are accepted and held without an answer
// (as a cut link looks: requests time out, nothing is refused) and open ones are dropped; restore()
// destroys the held sockets and relays again. Loopback only. The chaos suite runs each relay as a process
// of its own (spawnRelay), so the harness's own work never delays the relayed traffic.
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';

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

  /** Starts a relay to host:port on a loopback port (0: a free one). */
  static async start(targetHost: string, targetPort: number, listenPort = 0): Promise<Relay> {
    const r = new Relay(targetHost, targetPort);
    r.server = createServer((c) => r.accept(c));
    await new Promise<void>((res, rej) => { r.server!.once('error', rej); r.server!.listen(listenPort, '127.0.0.1', () => res()); });
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
    // An error drops both sides; an orderly close ends the other side after what is in flight (a
    // keep-alive HTTP server's FIN must reach the client after its last response, not instead of it).
    c.on('error', () => up.destroy()); up.on('error', () => c.destroy());
    c.on('close', () => { this.open.delete(c); up.end(); });
    up.on('close', () => { this.open.delete(up); c.end(); });
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

/** A relay in its own process, listening on `port` (chosen by the caller), controlled by signals. */
export class RelayProcess {
  private constructor(private readonly child: ChildProcess, readonly port: number) {}

  /** Spawns it at once (synchronously); it listens a moment later (clients retry until then). */
  static spawn(port: number, targetHost: string, targetPort: number): RelayProcess {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), String(port), targetHost, String(targetPort)], { stdio: 'ignore' });
    return new RelayProcess(child, port);
  }

  /** SIGUSR1: cut; SIGUSR2: restore. */
  sever(): void { this.child.kill('SIGUSR1'); }
  restore(): void { this.child.kill('SIGUSR2'); }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await gone;
  }
}

// `node relay.js PORT HOST TARGET_PORT`: relays until SIGTERM; SIGUSR1 cuts, SIGUSR2 restores.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [port, host, target] = process.argv.slice(2);
  const r = await Relay.start(host!, Number(target), Number(port));
  process.on('SIGUSR1', () => r.sever());
  process.on('SIGUSR2', () => r.restore());
  process.on('SIGTERM', () => { void r.close().then(() => process.exit(0)); });
}

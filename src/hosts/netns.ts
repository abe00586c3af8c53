// Real network hosts on one machine (issue "Real hosts, real links, real faults"): each host is a Linux
// network namespace with its own address, joined to the others by a bridge in the root namespace
// through a veth pair, and its link shaped with `tc … tbf` — `up` on the host's side of the pair
// (what it sends), `down` on the bridge's side (what it receives). Needs root (CAP_NET_ADMIN); refuses
// with a clear message otherwise. Everything a HostNet creates carries its prefix, so destroy() — and
// cleanupStale() after a crash — remove every namespace, veth and bridge it made, and nothing else.
// netem (latency) is not in this kernel: links here have a rate, not a delay.
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { TesseraError } from '../util/errors.js';
import { parseRate } from './links.js';

const run = promisify(execFile);

/** A host to create; rates in tc's syntax (`110mbit`, `500kbit`); absent = unshaped. */
export interface HostSpec { name: string; up?: string; down?: string }

export interface Host {
  name: string;
  /** The network namespace (`ip netns exec <ns> …`). */
  ns: string;
  /** The host's address on the bridge. */
  ip: string;
  up: string | null;
  down: string | null;
}

/** The bridge's subnet: the root namespace is .1, hosts .10 upwards. */
const SUBNET = '10.77';
/** Names start with this (then 4 hex digits of the HostNet): ≤ 15 characters for every interface. */
export const HOSTS_PREFIX = 'tsr';

async function ip(...args: string[]): Promise<string> {
  return (await run('ip', args)).stdout;
}
async function tc(...args: string[]): Promise<void> {
  await run('tc', args);
}

/** Why this process cannot make hosts (null: it can). */
export async function hostsUnavailable(): Promise<string | null> {
  if (process.platform !== 'linux') return 'network hosts need Linux network namespaces';
  if (process.getuid?.() !== 0) return 'network hosts need root (ip netns, veth, bridge and tc need CAP_NET_ADMIN): run as root';
  try {
    await run('ip', ['-V']);
    await run('tc', ['-V']);
  } catch {
    return 'network hosts need the `ip` and `tc` tools (apt-get install iproute2)';
  }
  return null;
}

/**
 * Why network hosts cannot be made here (null: they can), tried for real: root and the tools are not
 * enough where a container withholds CAP_NET_ADMIN, so one HostNet of one host is made and removed.
 */
export async function hostsPermitted(): Promise<string | null> {
  const why = await hostsUnavailable();
  if (why) return why;
  try {
    const net = await HostNet.create([{ name: 'probe' }]);
    await net.destroy();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

export class HostNet {
  private constructor(readonly id: string, readonly bridge: string, readonly hosts: Host[], readonly gateway: string) {}

  /** Creates the bridge and one namespace per spec (at most 200), shaped as asked; undoes everything if a step fails. */
  static async create(specs: readonly HostSpec[], o: { subnet?: number } = {}): Promise<HostNet> {
    const why = await hostsUnavailable();
    if (why) throw new TesseraError(why, 'or run without network hosts');
    if (specs.length === 0 || specs.length > 200) throw new TesseraError(`cannot make ${specs.length} hosts`, 'ask for 1 to 200');
    for (const s of specs) {
      for (const r of [s.up, s.down]) if (r !== undefined && parseRate(r) === null) throw new TesseraError(`link rate '${r}' of host ${s.name} is not a rate`, 'write it as tc does: 110mbit, 500kbit, 1gbit');
    }
    const id = `${HOSTS_PREFIX}${randomBytes(2).toString('hex')}`, third = o.subnet ?? (await freeSubnet());
    const net = new HostNet(id, `${id}br`, [], `${SUBNET}.${third}.1`);
    try {
      await ip('link', 'add', net.bridge, 'type', 'bridge');
      await ip('addr', 'add', `${net.gateway}/24`, 'dev', net.bridge);
      await ip('link', 'set', net.bridge, 'up');
      for (const [i, s] of specs.entries()) net.hosts.push(await net.addHost(i, s, third));
      return net;
    } catch (e) {
      await net.destroy();
      throw new TesseraError(`could not create network hosts: ${(e as Error).message.split('\n')[0]}`, 'check that this machine allows network namespaces (ip netns add) and bridges');
    }
  }

  private async addHost(i: number, s: HostSpec, third: number): Promise<Host> {
    const ns = `${this.id}-${i}`, outer = `${this.id}v${i}a`, inner = `${this.id}v${i}b`, addr = `${SUBNET}.${third}.${10 + i}`;
    await ip('netns', 'add', ns);
    await ip('link', 'add', outer, 'type', 'veth', 'peer', 'name', inner);
    await ip('link', 'set', outer, 'master', this.bridge, 'up');
    await ip('link', 'set', inner, 'netns', ns);
    await ip('-n', ns, 'link', 'set', inner, 'name', 'eth0');
    await ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0');
    await ip('-n', ns, 'link', 'set', 'eth0', 'up');
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
    await ip('-n', ns, 'route', 'add', 'default', 'via', this.gateway);
    // What the host sends leaves through its eth0; what it receives leaves the bridge through `outer`.
    if (s.up) await tc('-n', ns, 'qdisc', 'add', 'dev', 'eth0', 'root', 'tbf', 'rate', s.up, 'burst', burstOf(s.up), 'latency', '400ms');
    if (s.down) await tc('qdisc', 'add', 'dev', outer, 'root', 'tbf', 'rate', s.down, 'burst', burstOf(s.down), 'latency', '400ms');
    return { name: s.name, ns, ip: addr, up: s.up ?? null, down: s.down ?? null };
  }

  /** The bridge side of a host's veth (its counters: rx = what the host sent, tx = what it received). */
  veth(name: string): string {
    return `${this.id}v${this.hosts.indexOf(this.host(name))}a`;
  }

  host(name: string): Host {
    const h = this.hosts.find((x) => x.name === name);
    if (!h) throw new TesseraError(`no host '${name}'`, `hosts: ${this.hosts.map((x) => x.name).join(', ')}`);
    return h;
  }

  /** Starts a command inside a host's namespace. */
  spawn(name: string, cmd: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.host(name).ns, cmd, ...args], opts);
  }

  /** Cuts (or restores) a host's link: the bridge side of its veth goes down (up). */
  async setLink(name: string, on: boolean): Promise<void> {
    await ip('link', 'set', this.veth(name), on ? 'up' : 'down');
  }

  /**
   * Cuts a host off (a pulled cable): both ends of its veth go down, so nothing it sends leaves and
   * nothing reaches it; its processes keep running, open connections stall. restore() brings it back.
   */
  async cut(name: string): Promise<void> {
    const h = this.host(name);
    await ip('link', 'set', this.veth(name), 'down');
    await ip('-n', h.ns, 'link', 'set', 'eth0', 'down');
  }

  /** Undoes cut(): both ends up again and the default route back (the kernel drops a route whose device goes down; the tbf shaping stays). */
  async restore(name: string): Promise<void> {
    const h = this.host(name);
    await ip('link', 'set', this.veth(name), 'up');
    await ip('-n', h.ns, 'link', 'set', 'eth0', 'up');
    await ip('-n', h.ns, 'route', 'replace', 'default', 'via', this.gateway);
  }

  /** Whether a host's link is up on both ends (false after cut()). */
  async linkUp(name: string): Promise<boolean> {
    const flags = (s: string): boolean => /<[^>]*\bUP\b[^>]*>/.test(s);
    const outer = await ip('-o', 'link', 'show', this.veth(name));
    const inner = await ip('-n', this.host(name).ns, '-o', 'link', 'show', 'eth0');
    return flags(outer) && flags(inner);
  }

  /** Removes every namespace and link of this HostNet (processes inside namespaces must be stopped first). Idempotent. */
  async destroy(): Promise<void> {
    await removeMatching((n) => n === this.bridge || n.startsWith(`${this.id}v`), (ns) => ns.startsWith(`${this.id}-`));
  }
}

/** A third octet of 10.77.x.0/24 that no interface here uses yet (several HostNets may run at once). */
async function freeSubnet(): Promise<number> {
  const used = new Set([...(await ip('-o', '-4', 'addr', 'show').catch(() => '')).matchAll(/inet 10\.77\.(\d+)\./g)].map((m) => Number(m[1])));
  for (let x = 0; x < 255; x++) if (!used.has(x)) return x;
  throw new TesseraError('every 10.77.x.0/24 subnet is in use by network hosts', 'stop other devnets with --hosts, or remove stale ones (tessera devnet cleans up its own)');
}

/** A tbf burst that lets the rate be reached with 1 ms timer granularity (at least 32 kbit). */
function burstOf(rate: string): string {
  const bits = parseRate(rate)!;
  return `${Math.max(32, Math.ceil(bits / 1000 / 1000) * 8)}kbit`;
}

async function removeMatching(link: (name: string) => boolean, namespace: (ns: string) => boolean): Promise<void> {
  const nss = (await ip('netns', 'list').catch(() => '')).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n && namespace(n));
  for (const ns of nss) await ip('netns', 'del', ns).catch(() => undefined);
  const links = (await ip('-o', 'link', 'show').catch(() => '')).split('\n').map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1] ?? '').filter((n) => n && link(n));
  for (const l of links) await ip('link', 'del', l).catch(() => undefined);
}

/** Removes what the HostNet with this id left behind (a crash of the process that made it). */
export async function removeHosts(id: string): Promise<void> {
  if (!new RegExp(`^${HOSTS_PREFIX}[0-9a-f]{4}$`).test(id)) throw new TesseraError(`'${id}' is not the id of network hosts`, `ids look like ${HOSTS_PREFIX}1a2b`);
  await removeMatching((n) => n === `${id}br` || n.startsWith(`${id}v`), (ns) => ns.startsWith(`${id}-`));
}

/** Removes what any earlier HostNet left behind (a crash): every `tsr…` namespace, veth and bridge. */
export async function cleanupStale(): Promise<void> {
  const ours = (n: string): boolean => new RegExp(`^${HOSTS_PREFIX}[0-9a-f]{4}`).test(n);
  await removeMatching(ours, ours);
}

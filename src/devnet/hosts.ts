// The hosts harness of a devnet (`tessera devnet --hosts`): every node — the chain, the object storage
// (Ceph RGW), each validator and miner — in its own network namespace on one bridge (src/hosts/netns.ts),
// with its own address, each miner's and validator's link shaped to --up/--down, or each miner's to the
// `covenant` profile (src/hosts/links.ts), per host overridable with --link NAME=UP/DOWN. The chain and
// the storage stand for a chain node and an object store in a data centre, and under the covenant
// profile the validators for well-connected machines (each checkpoint they publish is the whole fp32
// model, ~120× a payload): unshaped unless --link names them.
import { existsSync, readFileSync } from 'node:fs';
import { TesseraError } from '../util/errors.js';
import { parseRate, type LinkRates } from '../hosts/links.js';
import type { HostSpec } from '../hosts/netns.js';

export const CHAIN_HOST = 'chain';
export const STORAGE_HOST = 'storage';

/** A link as asked for: tc rates (`110mbit`), null = unshaped. */
export interface LinkSpec { up: string | null; down: string | null }

export interface HostsOptions {
  /** Every miner's and validator's link (tc syntax); absent = unshaped. */
  up?: string;
  down?: string;
  /** 'covenant': rates with Covenant-72B's communication-to-compute ratio for this model (links.ts). */
  links?: 'covenant';
  /** Per host (chain, storage, validator, miner-1, ...): overrides the rates above. */
  per?: Record<string, Partial<LinkSpec>>;
}

/** `NAME=UP/DOWN` (either side may be `-`: unshaped) → [name, link]. */
export function parseLinkOption(text: string): [string, LinkSpec] {
  const m = /^([a-z0-9][a-z0-9-]*)=([^/]+)\/([^/]+)$/i.exec(text.trim());
  const rate = (r: string): string | null => (r === '-' ? null : r);
  if (!m || [m[2]!, m[3]!].some((r) => r !== '-' && parseRate(r) === null)) {
    throw new TesseraError(`--link ${text} is not NAME=UP/DOWN`, 'e.g. --link miner-2=20mbit/100mbit (tc rates; - for unshaped)');
  }
  return [m[1]!, { up: rate(m[2]!), down: rate(m[3]!) }];
}

/** Checks the rates of --up/--down; throws a TesseraError naming the bad one. */
export function checkRates(o: HostsOptions): void {
  for (const [flag, r] of [['--up', o.up], ['--down', o.down]] as const) {
    if (r !== undefined && parseRate(r) === null) throw new TesseraError(`${flag} ${r} is not a rate`, 'write it as tc does: 110mbit, 500kbit, 1gbit');
  }
  if (o.links !== undefined && (o.up !== undefined || o.down !== undefined)) {
    throw new TesseraError('--links covenant and --up/--down exclude each other', 'pick the profile or plain rates (--link NAME=UP/DOWN still overrides single hosts)');
  }
}

/**
 * The hosts of a devnet in a stable order (chain, storage, then the nodes as given) and each one's
 * link: a miner takes the profile (covenant) or --up/--down, a validator --up/--down, infrastructure
 * is unshaped; --link wins.
 */
export function hostSpecs(nodes: readonly { name: string; role: 'miner' | 'validator' }[], o: HostsOptions, covenant: LinkRates | null): HostSpec[] {
  const names = nodes.map((n) => n.name);
  const unknown = Object.keys(o.per ?? {}).filter((n) => n !== CHAIN_HOST && n !== STORAGE_HOST && !names.includes(n));
  if (unknown.length) throw new TesseraError(`--link names no host: ${unknown.join(', ')}`, `hosts: ${[CHAIN_HOST, STORAGE_HOST, ...names].join(', ')}`);
  const plain: LinkSpec = { up: o.up ?? null, down: o.down ?? null };
  const miner: LinkSpec = covenant ? { up: covenant.up, down: covenant.down } : plain;
  const none: LinkSpec = { up: null, down: null };
  const roles = new Map(nodes.map((n) => [n.name, n.role]));
  return [CHAIN_HOST, STORAGE_HOST, ...names].map((name) => {
    const role = roles.get(name);
    const base = role === 'miner' ? miner : role === 'validator' ? plain : none;
    const per = o.per?.[name];
    const up = per?.up !== undefined ? per.up : base.up, down = per?.down !== undefined ? per.down : base.down;
    return { name, ...(up ? { up } : {}), ...(down ? { down } : {}) };
  });
}

/** Bytes a host sent (up) and received (down) since its link was made: the bridge side of its veth counts them. */
export function linkCounters(veth: string): { up: number; down: number } | null {
  const f = (k: string): number | null => {
    const p = `/sys/class/net/${veth}/statistics/${k}`;
    return existsSync(p) ? Number(readFileSync(p, 'utf8').trim()) : null;
  };
  // The bridge side receives what the host sends and transmits what the host receives.
  const rx = f('rx_bytes'), tx = f('tx_bytes');
  return rx === null || tx === null ? null : { up: rx, down: tx };
}

// `tessera bench hetero`, the utilization part: a 2-stage group as two processes over real TCP
// sockets, for each codec and link rate, with the inter-stage link shaped one of two ways:
//   tc    — each stage in its own network namespace (src/hosts/netns.ts), listening on its host's
//           address; both hosts' veth links shaped by tc tbf to the rate, up and down (needs root);
//   model — both stages on loopback, the rate modelled in user space by the receiver (transport.ts);
//           the fallback where namespaces are not available.
// Utilization is the busiest stage's compute time over its wall time across the measured steps (the
// first step is warm-up): 1 would mean that stage never waits for its neighbour or for the link.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModelConfig } from '../model/index.js';
import type { ActivationKind } from '../hetero/activations.js';
import { startGroup, type RunningStage } from '../hetero/group-run.js';
import type { UtilizationResult } from '../hetero/pipeline.js';
import { HostNet, hostsUnavailable, type HostSpec } from '../hosts/netns.js';
import { linkCounters } from '../devnet/hosts.js';
import { TesseraError } from '../util/errors.js';

export type LinkMethod = 'tc' | 'model';

export interface UtilOptions {
  model: ModelConfig;
  data: string;
  rank: number;
  batch: number;
  seq: number;
  micro: number;
  steps: number;
  codecs: ActivationKind[];
  /** Link rates in bit/s (0 = unlimited). */
  rates: number[];
  /** How the links are shaped; each method measures every codec and rate. */
  links: LinkMethod[];
  seed: number;
  log: (s: string) => void;
}

export const rateLabel = (bps: number): string => bps === 0 ? 'unlimited' : bps >= 1e9 ? `${bps / 1e9} Gb/s` : `${bps / 1e6} Mb/s`;

/** bit/s → tc's rate syntax (whole mbit where it is one, else kbit). */
export const tcRate = (bps: number): string => bps % 1e6 === 0 ? `${bps / 1e6}mbit` : `${Math.max(8, Math.round(bps / 1e3))}kbit`;

/** The two hosts of a measured group: every host's link shaped to the rate both ways (0: unshaped). */
export function utilHostSpecs(rateBps: number): HostSpec[] {
  const r = rateBps > 0 ? { up: tcRate(rateBps), down: tcRate(rateBps) } : {};
  return [{ name: 'stage-0', ...r }, { name: 'stage-1', ...r }];
}

export async function measureUtilization(o: UtilOptions): Promise<UtilizationResult[]> {
  if (o.steps < 3) throw new TesseraError('bench hetero: --util-steps must be at least 3 (the first step is warm-up)');
  const out: UtilizationResult[] = [];
  for (const link of o.links) for (const codec of o.codecs) for (const rate of o.rates) {
    const r = link === 'tc' ? await withHosts(utilHostSpecs(rate), o.log, (net, track) => measureOne(o, codec, rate, net, track)) : await measureOne(o, codec, rate, null, () => undefined);
    o.log(`  ${codec} at ${r.rateLabel} (${link === 'tc' ? 'tc tbf between namespaces' : 'user-space model'}): utilization ${r.utilization.toFixed(3)}, without run-queue delay ${r.utilizationExSched.toFixed(3)}${r.utilizationExRunQueue !== undefined ? ` (${r.utilizationExRunQueue.toFixed(3)} without any outside computing, kernel)` : ''} (stall ${r.stallMsPerStep.toFixed(0)} ms, run-queue ${r.schedMsPerStep.toFixed(0)} ms per step${r.runQueueAllMsPerStep !== undefined ? ` while waiting, ${r.runQueueAllMsPerStep.toFixed(0)} ms in all` : ''}; stage ${r.busiestStage} busy ${r.stageBusyMs[r.busiestStage]!.toFixed(0)} of ${r.wallMs.toFixed(0)} ms per step; ${(r.bytesPerStep / 1e3).toFixed(1)} kB per step on the link = ${r.linkMsPerStep.toFixed(1)} ms${r.wireBytesPerStep ? `; ${(r.wireBytesPerStep / 1e3).toFixed(1)} kB per step on the veth` : ''})`);
    out.push(r);
  }
  return out;
}

/**
 * Creates the hosts, runs `fn` and destroys them — also when it fails, and on SIGINT/SIGTERM (the
 * stage processes `fn` registers through `track` are killed first, then the namespaces removed).
 */
async function withHosts<T>(specs: HostSpec[], log: (s: string) => void, fn: (net: HostNet, track: (g: RunningStage[]) => void) => Promise<T>): Promise<T> {
  const net = await HostNet.create(specs);
  let stages: RunningStage[] = [];
  const kill = async () => {
    for (const s of stages) if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGKILL');
    await Promise.all(stages.map((s) => s.done));
  };
  const onSignal = (sig: NodeJS.Signals) => {
    log(`${sig}: stopping the stages and removing network hosts ${net.id}`);
    void kill().then(() => net.destroy()).finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await fn(net, (g) => { stages = g; });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await kill();
    await net.destroy();
  }
}

async function measureOne(o: UtilOptions, codec: ActivationKind, rate: number, net: HostNet | null, track: (g: RunningStage[]) => void): Promise<UtilizationResult> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-hetero-util-'));
  try {
    const veth = net ? net.veth('stage-0') : null, before = veth ? linkCounters(veth) : null;
    const group = startGroup({ group: `util-${codec}-${rate}`, stages: 2, window: 0, model: o.model, seed: o.seed, codec, rank: o.rank,
      micro: o.micro, batch: o.batch, seq: o.seq, steps: o.steps, lr: 1e-3, data: o.data, buckets: [join(dir, 'b0'), join(dir, 'b1')],
      rateBps: net ? undefined : rate || undefined, upload: false, connectTimeoutMs: 120000 }, {}, net ?? undefined);
    track(group);
    const ends = await Promise.all(group.map((g) => g.done));
    for (const e of ends) if (!e.end.ok) throw new TesseraError(`bench hetero: stage ${e.end.stage} failed: ${e.end.reason ?? ''}`, e.stderr.slice(-500));
    const after = veth ? linkCounters(veth) : null;
    const last = o.steps - 1;
    const busy = ends.map((e) => (e.end.busyAt as number[])[last]! - (e.end.busyAt as number[])[0]!);
    const wall = ends.map((e) => (e.end.stepEnds as number[])[last]! - (e.end.stepEnds as number[])[0]!);
    const b = busy.indexOf(Math.max(...busy));
    const span = (key: string) => (ends[b]!.end[key] as number[])[last]! - (ends[b]!.end[key] as number[])[0]!;
    const stall = span('stallAt'), sched = span('schedAt'), rqAll = Array.isArray(ends[b]!.end.runQueueAt) ? span('runQueueAt') : null;
    const rqBusy = Array.isArray(ends[b]!.end.busyRunQueueAt) ? span('busyRunQueueAt') : null;
    const bytes = ((ends[0]!.end.bytesOut as number) + (ends[0]!.end.bytesIn as number)) / o.steps;
    if (net && ends[0]!.end.peer !== null && !String(ends[0]!.end.peer).startsWith(`${net.hosts[1]!.ip}:`)) {
      throw new TesseraError(`bench hetero: stage 0 reached stage 1 at ${String(ends[0]!.end.peer)}, not at its host's address ${net.hosts[1]!.ip}`);
    }
    return { codec, rateBps: rate, rateLabel: rateLabel(rate), micro: o.micro, steps: last, utilization: busy[b]! / wall[b]!, utilizationExSched: busy[b]! / (wall[b]! - sched),
      stallMsPerStep: stall / last, schedMsPerStep: sched / last,
      busiestStage: b, stageBusyMs: busy.map((x) => x / last), wallMs: wall[b]! / last, bytesPerStep: bytes, linkMsPerStep: rate ? (8 * bytes * 1000) / rate : 0,
      link: net ? 'tc' : 'model', ...(rqAll !== null ? { runQueueAllMsPerStep: rqAll / last } : {}),
      ...(rqAll !== null && rqBusy !== null ? { utilizationExRunQueue: busy[b]! / (wall[b]! - (rqAll - rqBusy)) } : {}), ...(before && after ? { wireBytesPerStep: (after.up - before.up + after.down - before.down) / o.steps } : {}) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The link methods asked for (`--util-links`): a comma list of tc and model, or auto — tc where this
 * process can make network namespaces (root, ip and tc, namespaces allowed: tried once), else the
 * user-space model, saying why.
 */
export async function resolveLinks(spec: string, log: (s: string) => void): Promise<LinkMethod[]> {
  if (spec.trim() !== 'auto') {
    const xs = spec.split(',').map((x) => x.trim()).filter(Boolean);
    const bad = xs.filter((x) => x !== 'tc' && x !== 'model');
    if (bad.length || xs.length === 0) throw new TesseraError(`unknown --util-links: ${bad.join(', ') || '(empty)'}`, 'choose auto, or a comma list of tc and model');
    if (xs.includes('tc')) {
      const why = await hostsUnavailable();
      if (why) throw new TesseraError(`--util-links tc: ${why}`, 'or use --util-links model (the rate modelled in user space over loopback)');
    }
    return [...new Set(xs)] as LinkMethod[];
  }
  const why = await hostsUnavailable() ?? await HostNet.create([{ name: 'probe' }]).then((n) => n.destroy().then(() => null), (e: Error) => e.message);
  if (why) {
    log(`utilization: links modelled in user space over loopback, not tc in network namespaces: ${why}`);
    return ['model'];
  }
  return ['tc'];
}

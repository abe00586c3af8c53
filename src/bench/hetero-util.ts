// `tessera bench hetero`, the utilization part: a 2-stage group as two processes over real TCP
// sockets on this machine, the inter-stage link shaped in user space (transport.ts: network
// namespaces with tc tbf belong to the hosts harness), for each codec and link rate. Utilization is
// the busiest stage's compute time over its wall time across the measured steps (the first step is
// warm-up): 1 would mean that stage never waits for its neighbour or for the link.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModelConfig } from '../model/index.js';
import type { ActivationKind } from '../hetero/activations.js';
import { startGroup } from '../hetero/group-run.js';
import type { UtilizationResult } from '../hetero/pipeline.js';
import { TesseraError } from '../util/errors.js';

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
  seed: number;
  log: (s: string) => void;
}

export const rateLabel = (bps: number): string => bps === 0 ? 'unlimited' : bps >= 1e9 ? `${bps / 1e9} Gb/s` : `${bps / 1e6} Mb/s`;

export async function measureUtilization(o: UtilOptions): Promise<UtilizationResult[]> {
  if (o.steps < 3) throw new TesseraError('bench hetero: --util-steps must be at least 3 (the first step is warm-up)');
  const out: UtilizationResult[] = [];
  for (const codec of o.codecs) for (const rate of o.rates) {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-hetero-util-'));
    try {
      const group = startGroup({ group: `util-${codec}-${rate}`, stages: 2, window: 0, model: o.model, seed: o.seed, codec, rank: o.rank,
        micro: o.micro, batch: o.batch, seq: o.seq, steps: o.steps, lr: 1e-3, data: o.data, buckets: [join(dir, 'b0'), join(dir, 'b1')],
        rateBps: rate || undefined, upload: false, connectTimeoutMs: 120000 });
      const ends = await Promise.all(group.map((g) => g.done));
      for (const e of ends) if (!e.end.ok) throw new TesseraError(`bench hetero: stage ${e.end.stage} failed: ${e.end.reason ?? ''}`, e.stderr.slice(-500));
      const last = o.steps - 1;
      const busy = ends.map((e) => (e.end.busyAt as number[])[last]! - (e.end.busyAt as number[])[0]!);
      const wall = ends.map((e) => (e.end.stepEnds as number[])[last]! - (e.end.stepEnds as number[])[0]!);
      const b = busy.indexOf(Math.max(...busy));
      const span = (key: string) => (ends[b]!.end[key] as number[])[last]! - (ends[b]!.end[key] as number[])[0]!;
      const stall = span('stallAt'), sched = span('schedAt');
      const bytes = ((ends[0]!.end.bytesOut as number) + (ends[0]!.end.bytesIn as number)) / o.steps;
      const r: UtilizationResult = { codec, rateBps: rate, rateLabel: rateLabel(rate), micro: o.micro, steps: last, utilization: busy[b]! / wall[b]!, utilizationExSched: busy[b]! / (wall[b]! - sched),
        stallMsPerStep: stall / last, schedMsPerStep: sched / last,
        busiestStage: b, stageBusyMs: busy.map((x) => x / last), wallMs: wall[b]! / last, bytesPerStep: bytes, linkMsPerStep: rate ? (8 * bytes * 1000) / rate : 0 };
      o.log(`  ${codec} at ${r.rateLabel}: utilization ${r.utilization.toFixed(3)}, without run-queue delay ${r.utilizationExSched.toFixed(3)} (stall ${r.stallMsPerStep.toFixed(0)} ms, run-queue ${r.schedMsPerStep.toFixed(0)} ms per step; stage ${b} busy ${r.stageBusyMs[b]!.toFixed(0)} of ${r.wallMs.toFixed(0)} ms per step; ${(bytes / 1e3).toFixed(1)} kB per step on the link = ${r.linkMsPerStep.toFixed(1)} ms)`);
      out.push(r);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}

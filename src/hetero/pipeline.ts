// One stage's inner steps over its links (docs/hetero.md "Schedule"). Per inner step:
//   first stage  — every micro-batch's forward, sent as soon as it is computed (GPipe order: the
//                  later stages never wait for activations), then the backwards as gradients arrive;
//   middle stage — whichever is ready, an activation from the previous stage first (forward, send
//                  on), else a gradient from the next one (backward, send back);
//   last stage   — for each micro-batch: receive, forward + loss + backward, send the gradient back.
// Then the gradient norm is summed along the chain (Norm forward, NormTotal back) so every stage
// clips by the group's global norm, and each stage runs AdamW on its own tensors. A link that
// fails rejects with PeerGone: the caller ends the group's window and uploads nothing.
import type { I32 } from '../engine/backend.js';
import { nowMs } from './transport.js';
import { Msg, pollAny, tick, type Frame, type Link } from './transport.js';
import type { Stage } from './stages.js';
import { microBatch } from './stages.js';

export interface StageRunOptions {
  stage: Stage;
  prev: Link | null;
  next: Link | null;
  steps: number;
  /** First global inner step index (for the step field of frames and the lr schedule). */
  firstStep?: number;
  batchOf: (step: number) => { inputs: I32; targets: I32 };
  B: number;
  T: number;
  lrOf: (step: number) => number;
  /**
   * First stage only: asked before every step after the first (with the steps done so far); false ends
   * the group's steps there: a Done frame travels down the chain and every stage returns with the steps
   * done (the live network's step budget, hetero/stage-node.ts). Absent: all `steps`.
   */
  more?: (done: number) => boolean;
  /**
   * The kernel's run-queue time of this thread so far (util/schedstat.ts), for links shaped outside the
   * process: a wait's run-queue delay is then what the kernel counted during it, the rest of it is stall.
   * Absent: run-queue delay = time from a frame's modelled delivery to its handling.
   */
  runQueueMs?: () => number;
  /** Called after every inner step (e.g. to time it, or to die on cue in a test). */
  onStep?: (step: number, loss: number) => void | Promise<void>;
}

export interface StageRunResult {
  losses: number[];
  /** Per step: ms this stage waited before the frame it needed was deliverable (pipeline bubble + link). */
  stallAt: number[];
  /** Per step: ms between a frame becoming deliverable and this stage handling it while it waited (OS run-queue delay on a loaded machine; with runQueueMs, what the kernel counted). */
  schedAt: number[];
  /** performance.now() at the end of each step. */
  stepEnds: number[];
  /** Stage.busyMs at the end of each step. */
  busyAt: number[];
  /** With runQueueMs: the kernel's run-queue ms of this thread at the end of each step (all of it: while computing, waiting or in between). */
  runQueueAt?: number[];
  /** With runQueueMs: the part of it inside the stage's computations (so inside Stage.busyMs), so far, at the end of each step. */
  busyRunQueueAt?: number[];
}

const f64 = (x: number): Uint8Array => new Uint8Array(Float64Array.of(x).buffer);
const readF64 = (b: Uint8Array): number => new Float64Array(b.slice(0, 8).buffer)[0]!;

export async function runStageSteps(o: StageRunOptions): Promise<StageRunResult> {
  const { stage: st, prev, next, B, T } = o;
  const M = st.micro, b = B / M, first = o.firstStep ?? 0;
  const res: StageRunResult = { losses: [], stepEnds: [], busyAt: [], stallAt: [], schedAt: [] };
  let stall = 0, sched = 0;
  const rq = o.runQueueMs;
  let busyRq = 0;
  /** Runs one of the stage's computations (its busy time), adding the run-queue time the kernel counted during it to busyRq. */
  const computing = <T>(f: () => T): T => {
    if (!rq) return f();
    const q0 = rq(), r = f();
    busyRq += rq() - q0;
    return r;
  };
  const timed = async <F extends { deliverAt: number }>(p: Promise<F>): Promise<F> => {
    const t = nowMs(), q0 = rq?.() ?? 0;
    const f = await p;
    const now = nowMs();
    if (rq) {
      const q = Math.min(now - t, rq() - q0);
      sched += q;
      stall += now - t - q;
    } else {
      stall += Math.max(0, Math.min(now, f.deliverAt) - t);
      sched += now - Math.max(t, f.deliverAt);
    }
    return f;
  };
  const timedAny = async (links: Link[]) => {
    const { link, frame } = await timed(pollAny(links).then((r) => Object.assign(r, { deliverAt: r.frame.deliverAt })));
    return { link, frame };
  };
  for (let k = 0; k < o.steps; k++) {
    const step = first + k;
    // The step budget: the first stage decides, the others learn it from a Done frame where a step's first forward would be.
    if (st.isFirst && k > 0 && o.more && !o.more(k)) { next?.send(Msg.Done, step, 0, new Uint8Array(0)); break; }
    let head: Frame | null = null;
    if (!st.isFirst) {
      head = await timed(prev!.recv());
      if (head.type === Msg.Done) { next?.send(Msg.Done, step, 0, new Uint8Array(0)); break; }
    }
    const { inputs, targets } = o.batchOf(step);
    const ids = (i: number) => microBatch(inputs, B, T, M, i), tg = (i: number) => microBatch(targets, B, T, M, i);
    st.zeroGrads();
    let loss = 0;
    if (st.isFirst) {
      // Forwards first: they depend on nothing, and they keep the next stage fed; the backwards
      // then run as their gradients arrive, while the later stages work on later micro-batches.
      for (let i = 0; i < M; i++) {
        next!.send(Msg.Forward, step, i, computing(() => st.forward(i, ids(i), tg(i), b, T, null)).send!);
        await tick();
      }
      for (let done = 0; done < M; done++) {
        const f = await timed(next!.expect(Msg.Backward, step));
        computing(() => st.backward(f.micro, b, T, f.body));
      }
    } else if (st.isLast) {
      for (let i = 0; i < M; i++) {
        const f = i === 0 ? head! : await timed(prev!.expect(Msg.Forward, step));
        check(f, Msg.Forward, step);
        const r = computing(() => st.forward(f.micro, ids(f.micro), tg(f.micro), b, T, f.body));
        loss += r.loss / M;
        prev!.send(Msg.Backward, step, f.micro, r.send!);
        await tick();
      }
    } else {
      let fwd = 0, bwd = 0, first0: Frame | null = head;
      while (bwd < M) {
        const f = first0 ?? (await timedAny(fwd < M ? [prev!, next!] : [next!])).frame; // forwards first: they feed the later stages
        first0 = null;
        if (f.type === Msg.Backward) {
          check(f, Msg.Backward, step);
          prev!.send(Msg.Backward, step, f.micro, computing(() => st.backward(f.micro, b, T, f.body))!);
          bwd++;
        } else {
          check(f, Msg.Forward, step);
          next!.send(Msg.Forward, step, f.micro, computing(() => st.forward(f.micro, ids(f.micro), tg(f.micro), b, T, f.body)).send!);
          fwd++;
        }
        await tick();
      }
    }
    // The group's gradient norm: partial sums forward along the chain, the total back.
    let ss = computing(() => st.gradSumSquares());
    if (prev) ss += readF64((await timed(prev.expect(Msg.Norm, step))).body);
    if (next) {
      next.send(Msg.Norm, step, 0, f64(ss));
      ss = readF64((await timed(next.expect(Msg.NormTotal, step))).body);
    }
    if (prev) prev.send(Msg.NormTotal, step, 0, f64(ss));
    computing(() => st.update(ss, o.lrOf(step)));
    if (st.isLast) {
      // the last stage knows the loss; it travels back with nothing else, so report it here
      res.losses.push(loss);
    } else res.losses.push(NaN);
    res.stepEnds.push(performance.now());
    res.busyAt.push(st.busyMs);
    res.stallAt.push(stall);
    res.schedAt.push(sched);
    if (rq) { (res.runQueueAt ??= []).push(rq()); (res.busyRunQueueAt ??= []).push(busyRq); }
    await o.onStep?.(step, loss);
  }
  return res;
}

function check(f: { type: Msg; step: number }, type: Msg, step: number): void {
  if (f.type !== type || f.step !== (step >>> 0)) throw new Error(`pipeline: expected message ${type} for step ${step}, got ${f.type} for step ${f.step}`);
}

/** Utilization of one measured configuration (bench hetero). */
export interface UtilizationResult {
  codec: string;
  rateBps: number;
  rateLabel: string;
  micro: number;
  steps: number;
  /** Busy time of the busiest stage ÷ its wall time, over the measured steps (the first step is warm-up). */
  utilization: number;
  /** The same with the OS run-queue delay after a needed frame was deliverable taken out of the wall time (schedAt). */
  utilizationExSched: number;
  /** The busiest stage's ms per step: waiting for frames not yet deliverable, and run-queue delay after they were. */
  stallMsPerStep: number;
  schedMsPerStep: number;
  busiestStage: number;
  stageBusyMs: number[];
  wallMs: number;
  /** Bytes one stage boundary carries per inner step (both directions, frames included). */
  bytesPerStep: number;
  /** Those bytes' time on the link at its rate, per step. */
  linkMsPerStep: number;
  /** How the link was shaped: tc tbf between network namespaces, or the user-space model on loopback (absent in older records: model). */
  link?: 'tc' | 'model';
  /** tc only: the busiest stage's run-queue ms per step as the kernel counted it, all of it (schedMsPerStep is the part while it waited for a frame). */
  runQueueAllMsPerStep?: number;
  /** tc only: busy ÷ (wall − every run-queue ms the kernel counted outside the stage's computations: while waiting for frames and in between, e.g. preempted in a send). */
  utilizationExRunQueue?: number;
  /** tc only: bytes stage 0's veth carried per step, both directions (TCP/IP and Ethernet headers and acks included; warm-up step included). */
  wireBytesPerStep?: number;
}

// A pipeline stage as a live-network miner (docs/hetero.md "Groups in the network"). It is an ordinary
// miner process (sync, probe, aggregate, upload and anchor: neurons/miner.ts) whose window's work is
// replaced: instead of H inner steps on the whole model it publishes its group record, connects to its
// neighbours over TCP (transport.ts: the addresses go through the stages' own buckets), runs H inner
// steps of its own layers with them (pipeline.ts), and encodes its own tensors' pseudo-gradient with
// its own error feedback into a partial payload (wire flag bit 1), signed by its hotkey.
//
// Every stage trains on the data assigned to the group's first stage's uid (the group's data). The
// first stage keeps the step budget (another step only while it fits before the deadline, as a miner
// plans) and ends the group's steps with a Done frame down the chain, so every stage takes the same steps.
// A neighbour that is gone (not connected within half a window, or a link that breaks mid-window)
// ends the group's window for this stage: it uploads nothing that window and tries again at the next.
import { compress, type SparseTensor, type SparseUpdate } from '../compress/index.js';
import { makeBatch } from '../data/index.js';
import { createLlama, type Llama } from '../model/index.js';
import { ADAMW_DEFAULTS, adamwInit, lrAt } from '../optim/index.js';
import { trainingOffsets } from '../protocol/index.js';
import { makeActivationCodec } from '../bench/hetero.js';
import { blockIntervalMs, chainNow, expectedDeadline } from '../neurons/chaintime.js';
import { encodeSigned } from '../neurons/inner.js';
import { OVERLAP_FLOAT, SAFETY_MARGIN, type MinerHooks, type Work } from '../neurons/miner.js';
import type { Node } from '../neurons/node.js';
import { retrying } from '../neurons/retry.js';
import { TesseraError } from '../util/errors.js';
import { checkPipeline, groupKey, groupRecordOf, type PipelineConfig } from './group.js';
import { runStageSteps } from './pipeline.js';
import { Stage, splitLayers } from './stages.js';
import { connectToNext, listenForPrevious, PeerGone, type Link } from './transport.js';

/** Inner-loop gradient clip (the group's global norm), as a full replica's. */
const INNER_CLIP = 1.0;
/** A neighbour must connect within this share of a window. */
export const CONNECT_SHARE = 0.5;

export function pipelineHooks(node: Node, p: PipelineConfig): MinerHooks {
  checkPipeline(p, node.run.model.nLayers, node.run.batch, !!node.run.overlap);
  if (p.members[p.stage] !== node.signer.address) {
    throw new TesseraError(`pipeline: stage ${p.stage} of group ${p.group} is ${p.members[p.stage]}, not this node's hotkey ${node.signer.address}`, 'list the members\' hotkeys in stage order');
  }
  const S = p.members.length, ranges = splitLayers(node.run.model.nLayers, S);
  let model: Llama | null = null, stage: Stage | null = null, trained = 0, published = false;
  const sched = { maxLr: node.run.innerLr, minLr: node.run.innerLr, warmupSteps: node.run.warmup, totalSteps: node.run.warmup + 1 };
  node.log(`pipeline stage ${p.stage + 1} of ${S} of group ${p.group}: layers ${ranges[p.stage]![0]}..${ranges[p.stage]![1] - 1}, ${p.codec} boundaries`);
  return {
    name: 'pipeline-stage',
    async produce(ctx): Promise<Work | null> {
      const { node, dir, local, W } = ctx, run = node.run;
      if (!published) {
        await retrying(node, 'put group record', () => node.store.put(groupKey(run.runId), new TextEncoder().encode(JSON.stringify(groupRecordOf(p)))));
        published = true;
      }
      const m = await (await dir.refresh()).metagraph!;
      const uids = p.members.map((h) => m.uids[m.hotkeys.indexOf(h)]);
      const absent = p.members.filter((_, i) => uids[i] === undefined);
      if (absent.length) { node.log(`window ${W}: group ${p.group}: ${absent.length} member(s) not registered yet (${absent.join(', ')}); nothing to train`); return null; }
      model ??= createLlama(run.model);
      stage ??= new Stage({ be: node.be, model, s: p.stage, ranges, codec: makeActivationCodec(p.codec, run.model, p.rank, p.group), micro: p.micro, adamw: { ...ADAMW_DEFAULTS }, clip: INNER_CLIP },
        adamwInit(model.layout.total));
      // The training base: θ (or, with overlap, θ of W − 1 less this miner's own estimate, as any miner trains from).
      model.params.set(local.trainable.model.params);
      stage.beginWindow();
      const start = model.params.slice();
      const batches = trainingOffsets(run, uids[0]!, W, node.data.train.length);
      await node.data.remote?.ensureSequences(batches.flat(), run.seq);
      const block = blockIntervalMs(node), windowMs = run.blocksPerWindow * block, timeoutMs = CONNECT_SHARE * windowMs;
      // As a miner plans (miner.ts StepPlanner, with its default encode and upload reserves): the deadline less encode, upload, a block and the safety margin.
      const deadline = await expectedDeadline(node, W);
      const reserve = 0.07 * windowMs + block + Math.max(block, SAFETY_MARGIN * windowMs) + (run.overlap ? OVERLAP_FLOAT * windowMs : 0);
      const leftMs = (): number => deadline - (chainNow(node) ?? Date.now()) - reserve;
      const own = node.store, next = p.stage < S - 1 ? await dir.bucketFresh(uids[p.stage + 1]!) : null;
      if (p.stage < S - 1 && !next) { node.log(`window ${W}: group ${p.group}: stage ${p.stage + 1} (uid ${uids[p.stage + 1]}) has no readable bucket on chain; nothing to train`); return null; }
      let prev: Link | null = null, nxt: Link | null = null;
      node.status.set('train', { window: W });
      const t0 = performance.now();
      try {
        [prev, nxt] = await Promise.all([
          p.stage > 0 ? listenForPrevious(own, p.group, p.stage, W, {}, { host: p.host, timeoutMs }) : Promise.resolve(null),
          next ? connectToNext(next, p.group, p.stage, W, {}, { timeoutMs }) : Promise.resolve(null),
        ]);
        // The step budget (first stage): another step only while it fits before the deadline less the reserve.
        const tSteps = performance.now();
        const more = (done: number): boolean => leftMs() >= ((performance.now() - tSteps) / done) * 1.15;
        const res = await runStageSteps({ stage, prev, next: nxt, steps: run.innerSteps, B: run.batch, T: run.seq, more,
          batchOf: (k) => makeBatch(node.data.train, batches[k]!, run.seq), lrOf: (k) => lrAt(sched, trained + k) });
        const steps = res.losses.length;
        trained += steps;
        if (steps < run.innerSteps) node.log(`window ${W}: group ${p.group}: trained ${steps}/${run.innerSteps} inner steps (the first stage's step budget before the deadline)`);
        node.status.set('encode');
        ctx.sw.s.train += (performance.now() - t0) / 1000;
        const delta = new Float32Array(model.layout.total);
        let finite = true;
        for (const sp of stage.specs) for (let i = sp.offset; i < sp.offset + sp.size; i++) { delta[i] = start[i]! - model.params[i]!; if (!Number.isFinite(delta[i]!)) finite = false; }
        if (!finite) {
          node.log(`window ${W}: group ${p.group}: the stage's inner training diverged; resetting its optimizer and sending nothing`);
          stage.opt = adamwInit(model.layout.total);
          return null;
        }
        // With overlap: W − 1's upload settles (and commits its error feedback) before W is encoded, as for every miner.
        await ctx.beforeEncode?.();
        const efNext = Float32Array.from(local.ef);
        const update = stageUpdate(compress(delta, efNext, stage.specs, run.codec), stage.specs.map((sp) => model!.layout.specs.findIndex((q) => q.name === sp.name)), model.layout.specs.length);
        const bytes = await encodeSigned(node, update, W, steps);
        const loss = stage.isLast ? res.losses.at(-1)! : NaN;
        node.log(`window ${W}: group ${p.group} stage ${p.stage}: ${steps} steps with ${S - 1} neighbour link(s) in ${((performance.now() - t0) / 1000).toFixed(1)} s` +
          `${stage.isLast ? `, loss ${loss.toFixed(4)}` : ''}; ${(prev?.bytesIn ?? 0) + (nxt?.bytesIn ?? 0)} B in, ${(prev?.bytesOut ?? 0) + (nxt?.bytesOut ?? 0)} B out`);
        return { bytes, update, efNext, loss, steps };
      } catch (e) {
        if (!(e instanceof PeerGone)) throw e;
        node.log(`window ${W}: group ${p.group}: ${e.message}${e.hint ? ` (${e.hint})` : ''}; this stage's window ends here: nothing uploaded`);
        // The stage's parameters may be mid-step: the next window starts again from θ (model.params.set above).
        return null;
      } finally {
        prev?.close();
        nxt?.close();
      }
    },
  };
}

/** A stage's update in the full layout: its tensors at their layout indices, `held` marking them. */
export function stageUpdate(mine: SparseUpdate, at: readonly number[], T: number): SparseUpdate {
  const empty: SparseTensor = { idx: new Uint16Array(0), codes: new Uint8Array(0), table: new Float32Array(4) };
  const tensors: SparseTensor[] = Array.from({ length: T }, () => empty), held = new Array<boolean>(T).fill(false);
  at.forEach((t, j) => { if (t < 0) throw new TesseraError('stageUpdate: a stage tensor is not in the layout'); tensors[t] = mine.tensors[j]!; held[t] = true; });
  return { tensors, held };
}

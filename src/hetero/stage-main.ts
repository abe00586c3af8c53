// One pipeline stage as its own process: `node dist/src/hetero/stage-main.js '<json StageProcessConfig>'`.
// Builds the window's model (from the seed: every stage of the group starts from the same model),
// finds its neighbours through their buckets, runs its inner steps over TCP and, only when every
// step completed, uploads its stage payload to its own bucket. Prints one JSON line per step
// ({"event":"step",...}) and a final {"event":"end","ok":...}; exit code 0, or 3 when the group's
// window ended because a neighbour disappeared (nothing uploaded).
import { getBackend } from '../engine/select.js';
import { createLlama, initParams, type ModelConfig } from '../model/index.js';
import { adamwInit, ADAMW_DEFAULTS } from '../optim/index.js';
import { encodePayload, CODEC_DEFAULTS, type CodecConfig } from '../compress/index.js';
import { FsStore } from '../storage/fs.js';
import { openTrainData } from '../train/batches.js';
import { makeBatch, sampleWindows } from '../data/index.js';
import { makeRng } from '../util/rng.js';
import { makeActivationCodec } from '../bench/hetero.js';
import type { ActivationKind } from './activations.js';
import { Stage, splitLayers } from './stages.js';
import { encodeStage } from './payloads.js';
import { connectToNext, listenForPrevious, PeerGone, type Link } from './transport.js';
import { runStageSteps } from './pipeline.js';
import { runQueueMs } from '../util/schedstat.js';

export interface StageProcessConfig {
  group: string;
  stage: number;
  stages: number;
  window: number;
  model: ModelConfig;
  seed: number;
  codec: ActivationKind;
  rank: number;
  micro: number;
  batch: number;
  seq: number;
  steps: number;
  lr: number;
  /** Prepared data directory; absent: seeded synthetic tokens (tests). */
  data?: string;
  /** Bucket folder of every stage (index = stage). */
  buckets: string[];
  rateBps?: number;
  latencyMs?: number;
  /** Address this stage listens on and publishes for its predecessor (default 127.0.0.1; in a network namespace: its host's address). */
  host?: string;
  /** The links are shaped outside this process (tc tbf between network namespaces): no user-space link model; run-queue delay read from the kernel. */
  externalLinks?: boolean;
  upload?: boolean;
  codecCfg?: CodecConfig;
  connectTimeoutMs?: number;
}

export const payloadKey = (group: string, window: number, stage: number): string => `pipeline/${group}/w${window}/stage-${stage}.payload`;

const out = (o: object): void => { process.stdout.write(`${JSON.stringify(o)}\n`); };

async function main(c: StageProcessConfig): Promise<number> {
  const be = getBackend();
  const model = createLlama(c.model);
  initParams(c.model, model.layout, model.params, c.seed);
  const ranges = splitLayers(c.model.nLayers, c.stages);
  const stage = new Stage({ be, model, s: c.stage, ranges, codec: makeActivationCodec(c.codec, c.model, c.rank, c.group), micro: c.micro,
    adamw: ADAMW_DEFAULTS, clip: 1 }, adamwInit(model.layout.total));
  stage.beginWindow();
  const start = model.params.slice();
  const data = c.data ? openTrainData(c.data) : null;
  const batchOf = (step: number) => {
    if (data) return makeBatch(data.train, sampleWindows(c.seed, 0, step, c.batch, data.train.length, c.seq), c.seq);
    const r = makeRng(`synthetic:${c.seed}:${step}`), n = c.batch * c.seq;
    return { inputs: Int32Array.from({ length: n }, () => r.nextInt(c.model.vocabSize)), targets: Int32Array.from({ length: n }, () => r.nextInt(c.model.vocabSize)) };
  };
  const own = new FsStore(c.buckets[c.stage]!, { durable: false });
  await own.ensureBucket();
  if (c.externalLinks && (c.rateBps || c.latencyMs)) throw new Error('stage: externalLinks and a user-space link model (rateBps, latencyMs) exclude each other');
  const shape = { rateBps: c.rateBps, latencyMs: c.latencyMs, external: c.externalLinks };
  const rq = c.externalLinks && runQueueMs() !== null ? () => runQueueMs()! : undefined;
  let prev: Link | null = null, next: Link | null = null;
  try {
    [prev, next] = await Promise.all([
      c.stage > 0 ? listenForPrevious(own, c.group, c.stage, c.window, shape, { host: c.host, timeoutMs: c.connectTimeoutMs }) : Promise.resolve(null),
      c.stage < c.stages - 1 ? connectToNext(new FsStore(c.buckets[c.stage + 1]!, { readOnly: true }), c.group, c.stage, c.window, shape, { timeoutMs: c.connectTimeoutMs }) : Promise.resolve(null),
    ]);
    const t0 = performance.now();
    const res = await runStageSteps({ stage, prev, next, steps: c.steps, batchOf, B: c.batch, T: c.seq, lrOf: () => c.lr, runQueueMs: rq,
      onStep: (step, loss) => void out({ event: 'step', stage: c.stage, step, loss: stage.isLast ? loss : null, busyMs: stage.busyMs, atMs: performance.now() - t0 }) });
    let uploaded: string | null = null;
    if (c.upload) {
      const delta = new Float32Array(model.layout.total);
      for (const p of stage.specs) for (let i = p.offset; i < p.offset + p.size; i++) delta[i] = start[i]! - model.params[i]!;
      const cfg = c.codecCfg ?? CODEC_DEFAULTS;
      const part = encodeStage(c.stage, delta, new Float32Array(model.layout.total), model.layout.specs, stage.specs, cfg);
      const wire = encodePayload({ update: part.update, modelHash: '00'.repeat(32), window: c.window, uid: c.stage, indexMode: '12bit',
        shapes: stage.specs.map((p) => p.shape), cfg, steps: c.steps });
      uploaded = payloadKey(c.group, c.window, c.stage);
      await own.put(uploaded, wire);
    }
    out({ event: 'end', ok: true, stage: c.stage, runQueue: rq ? 'kernel' : 'model', listen: `${c.host ?? '127.0.0.1'}`, peer: next ? `${next.socket.remoteAddress}:${next.socket.remotePort}` : null, losses: res.losses, stepEnds: res.stepEnds.map((x) => x - t0), busyAt: res.busyAt, stallAt: res.stallAt, schedAt: res.schedAt, runQueueAt: res.runQueueAt ?? null, busyRunQueueAt: res.busyRunQueueAt ?? null,
      bytesIn: (prev?.bytesIn ?? 0) + (next?.bytesIn ?? 0), bytesOut: (prev?.bytesOut ?? 0) + (next?.bytesOut ?? 0), uploaded });
    return 0;
  } catch (e) {
    if (e instanceof PeerGone) { out({ event: 'end', ok: false, stage: c.stage, reason: e.message }); return 3; }
    throw e;
  } finally {
    prev?.close();
    next?.close();
  }
}

const arg = process.argv[2];
if (arg && process.argv[1]?.endsWith('stage-main.js')) {
  main(JSON.parse(arg) as StageProcessConfig).then((code) => process.exit(code), (e: unknown) => {
    out({ event: 'end', ok: false, reason: e instanceof Error ? e.message : String(e) });
    process.exit(1);
  });
}

// Adversarial miners for tests and demos (`tessera miner --behavior NAME`, `tessera devnet
// --adversaries`, the Gauntlet scenario): each behaviour is a set of MinerHooks (neurons/miner.ts)
// that changes only what is sent and when; sync, probes and local state stay honest, so these attack
// only what the Gauntlet scores:
//   copy       re-uploads another miner's payload of the window (fetched from that miner's bucket, the
//              leader's peers first), re-encoded for its own uid, re-signed and anchored with its own key
//   noise      a random update of plausible norm (the norm its honest update would have)
//   scaled     the honest update × SCALE_FACTOR          signflip  the honest update × −1
//   lazy       trains on data that is not its assignment (the assignment of a uid nobody holds)
//   late       uploads and anchors the honest payload a block after the deadline has passed
//   malformed  corrupts bytes of the signed payload      stale     re-sends its upload of STALE_AGE windows ago
// and two informed attackers, written from a reading of the code (issue 13):
//   replay     trains on another miner's assignment from the start (training is deterministic and every
//              input is public: the model, the assignment, its own error feedback follows the victim's)
//              and uploads as soon as it is done — a copy that may land before its victim's upload
//   precompute trains half its steps on its own assignment and half on the random sequences the leading
//              validator would evaluate it on, predicted from the newest block it can see (the real
//              evaluation is seeded by a block after the deadline, so the prediction misses)
//   onestep    one inner step, its update scaled by H and declared as H steps (cheap work of plausible norm)
//   poison     the honest update with every other tensor's sign flipped, × POISON_SCALE (under the 5× norm limit)
//   half       trains the first half of its assignment only (one of a sybil pair splitting one training)
//   stitch     tensors taken in turn from other miners' uploads of the window and from its own one-step
//              update (each whole-upload overlap stays under the copy threshold)
//   withhold   precompute's training, and it never reveals its state when a replay audit picks it (an
//              attacker that knows the audits: no reveal is the lighter outcome, unrevealed, not a failed replay)
//   mediangroup one member of a median-control group (run several): poison's half-flipped update at
//              MEDIAN_GROUP_SCALE × its honest norm — beyond the 5× outlier limit of an honest median, within
//              it once the group's own uploads make the median (the median over every upload of a window)
import { compress, decodePayload, maxPayloadBytes, roundHalf, type SparseUpdate } from '../compress/index.js';
import { evalPlan, updateNorm } from '../gauntlet/index.js';
import { EVAL_BATCHES } from '../neurons/scoring.js';
import { deadlineBlockOf, keys, sha256Hex, trainingOffsets, validatorOrder } from '../protocol/index.js';
import { chainHead, deadlineOf, nextBlock } from '../neurons/chaintime.js';
import type { Directory } from '../neurons/directory.js';
import { encodeSigned } from '../neurons/inner.js';
import type { MinerContext, MinerHooks, Work } from '../neurons/miner.js';
import { fetchObject, fetchRecord } from '../neurons/model-state.js';
import type { Node } from '../neurons/node.js';
import { anchorDigest, type UploadOutcome } from '../neurons/upload.js';
import { TesseraError } from '../util/errors.js';
import { makeRng } from '../util/rng.js';

export const BEHAVIORS = ['honest', 'copy', 'noise', 'scaled', 'signflip', 'lazy', 'late', 'malformed', 'stale', 'replay', 'precompute', 'onestep', 'poison', 'half', 'stitch', 'withhold', 'mediangroup'] as const;
/** poison: the factor its half-flipped update is scaled by (the Gauntlet rejects norms above 5× the window median). */
export const POISON_SCALE = 4.5;
/** mediangroup: its half-flipped update × this (over 5× an honest median; under 5× a median the group sets, ≥ 1.6× honest). */
export const MEDIAN_GROUP_SCALE = 8;
export type BehaviorName = (typeof BEHAVIORS)[number];
export const SCALE_FACTOR = 50;
export const STALE_AGE = 2;
/** The lazy miner trains on the assignment of uid + this (a uid nobody holds: random data). */
const LAZY_UID_SHIFT = 1_000_000;

export function parseBehavior(name: string | undefined): BehaviorName {
  if (name === undefined || name === '') return 'honest';
  if ((BEHAVIORS as readonly string[]).includes(name)) return name as BehaviorName;
  throw new TesseraError(`unknown miner behavior '${name}'`, `use one of: ${BEHAVIORS.join(', ')}`);
}

/** The hooks of a behaviour; undefined for 'honest' (the miner's own steps). */
export function adversaryHooks(name: BehaviorName, opts: { target?: number } = {}): MinerHooks | undefined {
  switch (name) {
    case 'honest': return undefined;
    case 'copy': return { name, produce: (ctx) => copyPayload(ctx) };
    case 'noise': return transforming(name, noiseOf);
    case 'scaled': return transforming(name, (_n, u) => scaleBy(u, SCALE_FACTOR));
    case 'signflip': return transforming(name, (_n, u) => scaleBy(u, -1));
    case 'malformed': return { name, produce: async (_ctx, honest) => { const w = await honest(); return w && { ...w, bytes: corrupt(w.bytes) }; } };
    case 'lazy': return { name, produce: ({ node, W }, honest) => honest(trainingOffsets(node.run, node.uid + LAZY_UID_SHIFT, W, node.data.train.length)) };
    case 'late': return { name, upload: (ctx, bytes) => uploadLate(ctx.node, ctx.W, bytes) };
    case 'stale': return staleHooks();
    case 'replay': return replayHooks(opts.target);
    case 'precompute': return { name, produce: async (ctx, honest) => honest(await precomputedBatches(ctx)) };
    case 'withhold': return { name, produce: async (ctx, honest) => { const w = await honest(await precomputedBatches(ctx)); return w && { ...w, reveal: undefined }; } };
    case 'onestep': return { name, produce: (ctx, honest) => oneStep(ctx, honest) };
    case 'poison': return transforming(name, (_n, u) => halfFlipped(u, POISON_SCALE));
    case 'mediangroup': return transforming(name, (_n, u) => halfFlipped(u, MEDIAN_GROUP_SCALE));
    case 'half': return { name, produce: ({ node, W }, honest) => honest(trainingOffsets(node.run, node.uid, W, node.data.train.length).slice(0, Math.ceil(node.run.innerSteps / 2))) };
    case 'stitch': return { name, produce: (ctx, honest) => stitch(ctx, honest) };
  }
}

/** One inner step on its first assigned batch, sent as if it were H: the update × H, declaring H steps. */
async function oneStep(ctx: MinerContext, honest: (batches?: number[][]) => Promise<Work | null>): Promise<Work | null> {
  const { node, W } = ctx, H = node.run.innerSteps;
  const w = await honest(trainingOffsets(node.run, node.uid, W, node.data.train.length).slice(0, 1));
  if (!w) return null;
  const update = scaleBy(w.update, H);
  return { ...w, update, steps: H, bytes: await encodeSigned(node, update, W, H) };
}

/** Its own one-step update, then (polling until the deadline block) up to 3 other uploads of W: tensor t from source t mod (k + 1), the own one last. */
async function stitch(ctx: MinerContext, honest: (batches?: number[][]) => Promise<Work | null>): Promise<Work | null> {
  const { node, dir, W } = ctx;
  const own = await honest(trainingOffsets(node.run, node.uid, W, node.data.train.length).slice(0, 1));
  if (!own) return null;
  const shapes = node.model.layout.specs.map((s) => s.shape), cap = maxPayloadBytes(shapes, node.run.codec);
  const stop = deadlineBlockOf(W, node.run.blocksPerWindow), got = new Map<number, SparseUpdate>();
  while (got.size < 3 && (await chainHead(node)).height < stop - 1) {
    for (const uid of await copyTargets(node, dir, W)) {
      if (got.has(uid) || got.size >= 3) continue;
      const store = dir.bucket(uid);
      const bytes = store ? await fetchObject(node, store, keys.gradient(node.run.runId, W, uid), cap) : null;
      const d = bytes ? decodePayload(bytes, { shapes, cfg: node.run.codec, modelHash: node.runHash }) : null;
      if (d?.ok && d.payload.window === W && !d.payload.update.held) got.set(uid, d.payload.update);
    }
    if (got.size < 3) await nextBlock(node);
  }
  const sources = [...got.values(), own.update];
  const update: SparseUpdate = { tensors: own.update.tensors.map((t, i) => sources[i % sources.length]!.tensors[i] ?? t) };
  return { ...own, update, steps: node.run.innerSteps, bytes: await encodeSigned(node, update, W, node.run.innerSteps) };
}

/** Trains on one victim's assignment every window (`target`, else the first miner copyTargets names, kept once chosen). */
function replayHooks(target?: number): MinerHooks {
  let victim = target;
  return {
    name: 'replay',
    async produce(ctx, honest) {
      victim ??= (await copyTargets(ctx.node, ctx.dir, ctx.W))[0];
      if (victim === undefined) return honest();
      if (ctx.W % 8 === 0) ctx.node.log(`window ${ctx.W}: replaying uid ${victim}'s training`);
      return honest(trainingOffsets(ctx.node.run, victim, ctx.W, ctx.node.data.train.length));
    },
  };
}

/**
 * Its own first ⌈H/2⌉ assigned batches, then batches of the random sequences the leading validator's
 * plan would hold if the evaluation beacon were the newest block's hash (evalPlan, E = EVAL_BATCHES).
 */
async function precomputedBatches({ node, dir, W }: MinerContext): Promise<number[][]> {
  const run = node.run, n = node.data.train.length, own = trainingOffsets(run, node.uid, W, n);
  const d = await dir.refresh(), leader = validatorOrder(d.metagraph!)[0];
  const hotkey = leader === undefined ? '' : d.metagraph!.hotkeys[leader]!;
  const head = await chainHead(node), guess = await node.chain.blockHash(head.height).catch(() => '');
  const plan = evalPlan(run, W, node.uid, hotkey, guess, n, EVAL_BATCHES);
  const half = Math.ceil(run.innerSteps / 2), extra: number[][] = [];
  for (let i = 0; i < plan.random.length && half + extra.length < run.innerSteps; i += run.batch) extra.push(plan.random.slice(i, i + run.batch));
  return [...own.slice(0, half), ...extra, ...own.slice(half)].slice(0, run.innerSteps);
}

/** u × k with every other tensor's sign flipped (a harmful update of chosen norm). */
const halfFlipped = (u: SparseUpdate, k: number): SparseUpdate => ({ tensors: scaleBy(u, k).tensors.map((t, i) => (i % 2 === 1 ? { ...t, table: t.table.map((x) => -x) } : t)) });

/** u with every table scaled by k, rounded to binary16 as the codec rounds its own tables (payload v3 carries 16 bits). */
const scaleBy = (u: SparseUpdate, k: number): SparseUpdate => ({ tensors: u.tensors.map((t) => ({ idx: t.idx, codes: t.codes, table: t.table.map((x) => roundHalf(x * k)) })) });

/** Honest training and error feedback, but another update is sent (re-encoded and re-signed). */
function transforming(name: BehaviorName, f: (node: Node, u: SparseUpdate, W: number) => SparseUpdate): MinerHooks {
  return {
    name,
    async produce(ctx, honest) {
      const w = await honest();
      if (!w) return null;
      const update = f(ctx.node, w.update, ctx.W);
      return { ...w, update, bytes: await encodeSigned(ctx.node, update, ctx.W, w.steps) };
    },
  };
}

/** A random update with the norm of the honest one. */
function noiseOf(node: Node, u: SparseUpdate, W: number): SparseUpdate {
  const n = node.model.params.length, rng = makeRng(`tessera/behavior/noise:${node.uid}:${W}`);
  const noise = compress(Float32Array.from({ length: n }, () => rng.normal()), new Float32Array(n), node.model.layout.specs, node.run.codec);
  const a = updateNorm(u), b = updateNorm(noise);
  return scaleBy(noise, b > 0 ? a / b : 0);
}

function staleHooks(): MinerHooks {
  const sent = new Map<number, Work>();
  return {
    name: 'stale',
    async produce(ctx, honest) {
      const old = sent.get(ctx.W - STALE_AGE);
      if (!old) return honest();
      return { ...old, efNext: null, loss: NaN, bytes: await encodeSigned(ctx.node, old.update, ctx.W, old.steps) };
    },
    uploaded(W, work) {
      sent.set(W, work);
      for (const w of sent.keys()) if (w < W - 2 * STALE_AGE) sent.delete(w);
    },
  };
}

/** Flips 16 bytes in the middle of a signed payload (its content hash no longer matches). */
function corrupt(bytes: Uint8Array): Uint8Array {
  const out = Uint8Array.from(bytes), mid = out.length >> 1;
  for (let i = mid; i < Math.min(out.length, mid + 16); i++) out[i] ^= 0xa5;
  return out;
}

/** Polls (one round per block, until W's deadline block) for another miner's payload of W to copy. */
async function copyPayload({ node, dir, W, sw }: MinerContext): Promise<Work | null> {
  const shapes = node.model.layout.specs.map((s) => s.shape), cap = maxPayloadBytes(shapes, node.run.codec);
  const stop = deadlineBlockOf(W, node.run.blocksPerWindow);
  node.status.set('encode', { window: W });
  return sw.time('encode', async () => {
    while ((await chainHead(node)).height < stop) {
      for (const uid of await copyTargets(node, dir, W)) {
        const store = dir.bucket(uid);
        const bytes = store ? await fetchObject(node, store, keys.gradient(node.run.runId, W, uid), cap) : null;
        const d = bytes ? decodePayload(bytes, { shapes, cfg: node.run.codec, modelHash: node.runHash }) : null;
        if (!d?.ok || d.payload.window !== W) continue;
        node.log(`window ${W}: copying uid ${uid}'s upload`);
        const steps = Math.max(1, d.payload.steps);
        return { bytes: await encodeSigned(node, d.payload.update, W, steps), update: d.payload.update, efNext: null, loss: NaN, steps };
      }
      await nextBlock(node);
    }
    node.log(`window ${W}: nothing to copy before the deadline`);
    return null;
  });
}

/** The leading validator's peers of W, then its reserves, then every other miner (ascending uid). */
async function copyTargets(node: Node, dir: Directory, W: number): Promise<number[]> {
  const d = await dir.refresh(), miners = await d.miners(), leader = validatorOrder(d.metagraph!)[0];
  const store = leader === undefined ? null : dir.bucket(leader);
  const rec = store ? await fetchRecord(node, store, keys.peers(node.run.runId, W), 'peers') : null;
  return [...new Set([...(rec?.peers ?? []), ...(rec?.reserves ?? []), ...miners])].filter((u) => u !== node.uid && miners.includes(u));
}

/** Uploads and anchors once the chain is a block past W's deadline. */
async function uploadLate(node: Node, W: number, bytes: Uint8Array): Promise<UploadOutcome> {
  const deadline = await deadlineOf(node, W);
  let head = await chainHead(node);
  while (head.timestamp <= deadline) head = await nextBlock(node);
  await nextBlock(node);
  // uploadGradient refuses after the deadline; a late adversary sends anyway.
  await node.store.put(keys.gradient(node.run.runId, W, node.uid), bytes, { ifNoneMatch: true }).catch(() => undefined);
  await anchorDigest(node, W, sha256Hex(bytes));
  node.status.addBytes(bytes.length, 0);
  return 'uploaded';
}

/**
 * Not an adversary: an honest miner on an unreliable machine that sends nothing in every `period`-th
 * window (offset `phase`), as a miner that runs out of time would. For fairness tests.
 */
export function flakyHooks(period = 2, phase = 1): MinerHooks {
  return {
    name: 'flaky',
    produce: async ({ node, W }, honest) => {
      if (W % period !== phase) return honest();
      node.log(`window ${W}: (flaky) sending nothing this window`);
      return null;
    },
  };
}

/**
 * A hostile owner, not a Gauntlet adversary (security finding 5): an honest miner that, after each
 * upload, replaces its payload of `age` windows ago with junk — after every node applied it. Catch-up
 * replays must not depend on the owner keeping it (validators keep applied copies).
 */
export function rewriterHooks(age = 2): MinerHooks {
  return {
    name: 'rewriter',
    async upload(ctx, _bytes, honest) {
      const outcome = await honest();
      const old = ctx.W - age;
      if (old >= 0) {
        const key = keys.gradient(ctx.node.run.runId, old, ctx.node.uid);
        if (await ctx.node.store.head(key)) {
          await ctx.node.store.delete(key);
          await ctx.node.store.put(key, new Uint8Array(4096).fill(0x5a));
          ctx.node.log(`window ${ctx.W}: (rewriter) replaced its payload of window ${old}`);
        }
      }
      return outcome;
    },
  };
}

/**
 * Security finding 6 (placeholder then overwrite): parks junk at its key early in the window, then —
 * once another miner's payload of the window is readable — overwrites the junk with that payload
 * re-signed as its own and anchors it. When "first seen" was the first HEAD of the key, the victim was
 * flagged `copied`; with the chain's anchors the parker anchors after its victim and is the copier.
 */
export function parkThenCopyHooks(): MinerHooks {
  return {
    name: 'park-then-copy',
    async produce(ctx) {
      const key = keys.gradient(ctx.node.run.runId, ctx.W, ctx.node.uid);
      await ctx.node.store.put(key, new Uint8Array(4096).fill(0x33)).catch(() => undefined);
      return copyPayload(ctx);
    },
    async upload(ctx, bytes) {
      const key = keys.gradient(ctx.node.run.runId, ctx.W, ctx.node.uid);
      await ctx.node.store.delete(key);
      await ctx.node.store.put(key, bytes);
      await anchorDigest(ctx.node, ctx.W, sha256Hex(bytes));
      return 'uploaded';
    },
  };
}

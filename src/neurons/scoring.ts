// Validator scoring with the Gauntlet (src/gauntlet): measure every upload of window W (norm, index
// sketch, LossScore trial steps, the miner's parameter probe), hand the measurements to the pure
// scorer, write the window's receipt to this validator's own bucket at keys.receipt(runId, W), and
// keep the Gauntlet state (ratings, moving averages, penalty counters) in dataDir across restarts.
//
// Cost model (per window, evaluating every submitting miner): each evaluated miner costs 4 forward
// passes over E = min(H, EVAL_BATCHES) batches of run.batch sequences (before/after the trial step ×
// assigned/random data; the "before" passes cannot be shared since every miner has its own data), one
// parameter copy and one sparse apply, plus O(kept values) for its norm and index sketch. A miner's own
// window is H training steps ≈ 3H forward passes, so M miners cost about M·4E/(3H) miner-windows of
// compute: 0.36·M with Templar's H = 30 and E = 8, 1.3·M in the tests (H = 8). EVAL_BUDGET caps the
// miners evaluated per window; when it binds, the best-ranked are evaluated first, then the ones that
// waited longest (unevaluated uploads are not rated that window).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SparseUpdate } from '../compress/index.js';
import {
  eligibleFinals, provenMiners, selectPeers, emptyState, encodeReceipt, evalPlan, foldChange, GAUNTLET_DEFAULTS, indexSketch, makeEvaluator, meanAbsDiff, measureLosses, ownLossAfter, parseReceipt, parseState,
  scoreWithReceipt, shapeWeights, sketchOverlap, referenceMedian, tensorSketches, tensorCopyShare, pairTensorShare, sharedTensors, effectiveShares, splitGroupWeights, updateNorm, type GroupInput, windowsBehind, type Evaluator, type GauntletParams, type GauntletState, type MinerInput, type ScoreReceipt,
  type WindowResult,
} from '../gauntlet/index.js';
import { keys, probeIndices, reserveCount, runPrefix, sha256Hex, trainingBase, trainingOffsets } from '../protocol/index.js';
import { applyAggregate, decodePayload, maxPayloadBytes } from '../compress/index.js';
import { AUDIT_TOLERANCE, auditChosen, auditRateOf, decodeReveal, maxRevealBytes, paramsDigest, replayUpdate, stateCommitment, updateCosine } from './audit.js';
import { sleep } from './retry.js';
import { blockIntervalMs } from './chaintime.js';
import type { AuditInput } from '../gauntlet/index.js';
import type { Verified } from './gather.js';
import type { ReadOnlyStore } from '../storage/index.js';
import { validationBatches, type Batch } from '../train/batches.js';
import { evaluate } from '../train/evaluate.js';
import type { Directory } from './directory.js';
import { GATHER_CONCURRENCY, type Gathered } from './gather.js';
import { declaredGroups, groupKey, holdsExactly, mergeHeld, MAX_GROUP_RECORD_BYTES, parseGroupRecord, type DeclaredGroup, type GroupRecord } from '../hetero/group.js';
import { mapPool, readPeer } from './peer-read.js';
import { evalBeacon } from './chaintime.js';
import { fetchObject, fetchRecord } from './model-state.js';
import { retrying } from './retry.js';
import { writeJsonAtomic } from './status.js';
import { PROBE_VALUES } from './upload.js';
import type { Node } from './node.js';

/** Assigned batches (of the H) evaluated per miner, and as many random ones. */
export const EVAL_BATCHES = 8;
/** Most miners evaluated per window (every submitter while the cost allows). */
export const EVAL_BUDGET = 256;
/** Overlapping pairs per window measured on each other's data (cross losses: who is the origin of a copy). */
export const CROSS_PAIRS = 16;
/** Fixed validation batches evaluated each window. */
export const VAL_BATCHES = 2;
export const GAUNTLET_FILE = 'gauntlet.json';

interface Saved {
  runHash: string;
  state: GauntletState;
  /** θ at the start of `window` at probeIndices(window): the baseline of the next per-window change. */
  probeBase: { window: number; values: number[] } | null;
  typicalChange: number | null;
  /** The pipeline groups of the last scored window (their weight split holds after a restart too). */
  groups?: GroupInput[];
}

export class Scorer {
  readonly params: GauntletParams = { ...GAUNTLET_DEFAULTS };
  private saved: Saved;
  private last: WindowResult | null = null;
  /** θ at probeIndices(W − 1) while scoring W: what the miners' probes of W − 1 must match. */
  private probeRef: { window: number; values: number[] } | null = null;
  private readonly ev: Evaluator;
  private readonly val: Batch[];
  private groupsSeen = '';
  /** θ at the start of the last two windows begun (copies; only while audits are on): the bases replay audits re-run from. */
  private thetas: { window: number; params: Float32Array }[] = [];
  /** The last scored window's uploads picked for a replay audit (runAudits), and the results waiting for the next receipt. */
  private picked: { window: number; uploads: Verified[]; owed: Set<number>; base: Float32Array } | null = null;
  private audited: AuditInput[] = [];
  /** Measured replay cost per inner step (null until an audit ran). */
  private auditMsPerStep: number | null = null;

  constructor(private readonly node: Node) {
    this.ev = makeEvaluator(node.be, node.model, node.data.train, node.run);
    this.val = validationBatches(node.data, node.run.batch, node.run.seq, VAL_BATCHES);
    this.saved = { runHash: node.runHash, state: emptyState(), probeBase: null, typicalChange: null };
    const path = join(node.cfg.dataDir, GAUNTLET_FILE);
    if (!existsSync(path)) return;
    try {
      const f = JSON.parse(readFileSync(path, 'utf8')) as Saved;
      const st = parseState(JSON.stringify(f.state));
      if (f.runHash !== node.runHash) node.log(`${path} belongs to another run; starting the Gauntlet afresh`);
      else if (!st.ok) node.log(`${path}: ${st.reason}; starting the Gauntlet afresh`);
      else {
        this.saved = { runHash: f.runHash, state: st.state, probeBase: f.probeBase ?? null, typicalChange: f.typicalChange ?? null, ...(f.groups ? { groups: f.groups } : {}) };
        node.log(`restored Gauntlet state: ${Object.keys(st.state.miners).length} miner(s), last scored window ${st.state.window}`);
      }
    } catch (e) {
      node.log(`cannot read ${path} (${(e as Error).message}); starting the Gauntlet afresh`);
    }
  }

  get state(): GauntletState { return this.saved.state; }

  /** Final scores by uid (what peers are ranked by). */
  finals(): Map<number, number> {
    return new Map(Object.entries(this.saved.state.miners).map(([u, m]) => [Number(u), m.final]));
  }

  /** Shaped weights of the newest result (or of the saved state after a restart). */
  weights(): { uids: number[]; weights: number[] } {
    if (this.last) return this.last.weights;
    return splitGroupWeights(shapeWeights(this.finals(), this.node.run.maxPeers, reserveCount(this.node.run.maxPeers), this.params, provenMiners(this.saved.state.miners, this.params.indicatorWarmup)),
      this.saved.groups ?? []);
  }

  /** Call with θ at the start of W, before anything of W is applied: probe reference and per-window change. */
  beginWindow(W: number): void {
    const params = this.node.model.params, at = (w: number): number[] => probeIndices(w, params.length, PROBE_VALUES).map((i) => params[i]!);
    const base = this.saved.probeBase;
    this.probeRef = W > 0 ? { window: W - 1, values: at(W - 1) } : null;
    if (base && base.window === W - 1 && this.probeRef) {
      const change = meanAbsDiff(this.probeRef.values, base.values);
      if (Number.isFinite(change) && change > 0) this.saved.typicalChange = foldChange(this.saved.typicalChange, change);
    }
    this.saved.probeBase = { window: W, values: at(W) };
    if (auditRateOf(this.node.run) > 0) this.thetas = [...this.thetas.filter((t) => t.window === W - 1), { window: W, params: Float32Array.from(params) }];
  }

  /** Scores window W (or reloads its receipt when a restart already scored it); writes the receipt. */
  /** slots: the window's aggregate order (window-aggregate.ts planWindow): its first maxPeers valid uploads make the norm reference. */
  async scoreWindow(W: number, dir: Directory, candidates: readonly number[], gathered: Gathered, slots?: readonly number[]): Promise<WindowResult> {
    if (this.saved.state.window >= W) return this.reloadResult(W);
    const groups = await this.groups(dir, gathered), contributions = new Map<number, number[]>();
    const beacon = await evalBeacon(this.node, W);
    const ok = new Set(gathered.valid.map((v) => v.uid));
    const normReference = slots ? slots.filter((u) => ok.has(u)).slice(0, this.node.run.maxPeers) : undefined;
    const miners = await this.measure(W, beacon.hash, dir, candidates, gathered, groups, contributions, normReference);
    const audits = this.audited;
    this.audited = [];
    this.pickAudits(W, beacon, gathered, miners, new Set(audits.filter((a) => a.outcome === 'pass').map((a) => a.uid)));
    const inputs = { window: W, validator: { uid: this.node.uid, hotkey: this.node.signer.address }, beacon, ...(normReference ? { normReference } : {}),
      maxPeers: this.node.run.maxPeers, reserves: reserveCount(this.node.run.maxPeers), innerSteps: this.node.run.innerSteps, miners,
      ...(auditRateOf(this.node.run) > 0 ? { auditing: true } : {}), ...(audits.length ? { audits } : {}),
      ...(groups.length ? { groups: groups.map((x) => ({ group: x.group, members: x.members, shares: x.shares, ...(contributions.has(x.members[0]!) ? { contributions: contributions.get(x.members[0]!)! } : {}) })) } : {}) };
    for (const x of inputs.groups ?? []) {
      if (!x.contributions) continue;
      const eff = effectiveShares(x), lazy = x.members.filter((_, i) => eff[i] === 0);
      this.node.log(`window ${W}: group ${x.group} [${x.members.join(' ')}]: stage contributions ${x.contributions.map((c) => c.toFixed(4)).join(' ')}; weight shares ${eff.map((e) => e.toFixed(3)).join(' ')}` +
        `${lazy.length ? ` (no share for lazy stage uid(s) ${lazy.join(' ')}: removing their tensors does not raise the loss)` : ''}`);
    }
    const { receipt, state } = scoreWithReceipt(this.node.runHash, this.params, this.saved.state, inputs);
    await retrying(this.node, `put score receipt of window ${W}`, () => this.node.store.put(keys.receipt(this.node.run.runId, W), encodeReceipt(receipt)));
    this.saved.state = state;
    this.saved.groups = inputs.groups;
    writeJsonAtomic(join(this.node.cfg.dataDir, GAUNTLET_FILE), this.saved);
    return (this.last = receipt.result);
  }

  private async reloadResult(W: number): Promise<WindowResult> {
    const bytes = await fetchObject(this.node, this.node.store, keys.receipt(this.node.run.runId, W));
    const r = bytes ? parseReceipt(bytes) : null;
    if (r?.ok && r.receipt.window === W) { this.node.log(`window ${W} was scored before a restart: reusing its receipt`); return (this.last = r.receipt.result); }
    // Scored, but the receipt is gone: keep the state's scores rather than score the window twice.
    this.node.log(`WARNING: window ${W} is in the Gauntlet state but its receipt cannot be read back; publishing peers from the saved scores`);
    const { maxPeers } = this.node.run, st = this.saved.state;
    const present = new Map([...eligibleFinals(st.miners, W, this.params.penaltyMemory)].map(([u, f]) => [u, st.miners[u]!.lastSeen >= W - 1 ? f : 0]));
    const order = selectPeers(present, maxPeers, reserveCount(maxPeers), provenMiners(st.miners, this.params.indicatorWarmup));
    return (this.last = { window: W, medianNorm: 0, miners: [], peers: order.peers, reserves: order.reserves, weights: this.weights(), dropped: [] });
  }

  /**
   * The pipeline groups (hetero/group.ts) behind this window's partial uploads: the group records in the
   * buckets of the uids that sent one, and of every member those records name. A network without
   * partial uploads reads nothing here.
   */
  private async groups(dir: Directory, g: Gathered): Promise<DeclaredGroup[]> {
    const key = groupKey(this.node.run.runId), records = new Map<number, GroupRecord | null>(), m = dir.metagraph!;
    const read = async (uids: number[]): Promise<void> => {
      await mapPool(uids.filter((u) => !records.has(u)), GATHER_CONCURRENCY, async (uid) => {
        const store = dir.bucket(uid), r = store ? await readPeer(this.node, store, key, { cap: MAX_GROUP_RECORD_BYTES, budgetMs: 5000 }) : null;
        records.set(uid, r?.ok ? parseGroupRecord(r.bytes) : null);
      });
    };
    await read(g.valid.filter((v) => v.update.held?.some((h) => !h)).map((v) => v.uid));
    const named = [...records.values()].flatMap((r) => r?.members ?? []).map((h) => m.uids[m.hotkeys.indexOf(h)]).filter((u): u is number => u !== undefined);
    await read([...new Set(named)]);
    const found = declaredGroups(records, m, this.node.model.layout.specs, this.node.run.model.nLayers);
    const seen = found.map((x) => `${x.group} [${x.members.join(' ')}]`).join(', ');
    if (seen !== this.groupsSeen) { this.node.log(`pipeline groups: ${seen || 'none'}`); this.groupsSeen = seen; }
    return found;
  }

  /**
   * One MinerInput per candidate: status, sighting, norm, sketch and (within the budget) LossScore + probe.
   * A declared group is one input, under its lead's uid: its stages' valid uploads (each holding exactly its
   * stage's tensors) merged into one update, evaluated on the data assigned to the lead (the group's data).
   * A stage without a valid upload makes the group missing, late or invalid as that stage is (the aggregate
   * still applies the stages that sent, as senders of the tensors they hold). A partial upload from a uid in
   * no declared group is invalid.
   */
  private async measure(W: number, beacon: string, dir: Directory, candidates: readonly number[], g: Gathered, groups: readonly DeclaredGroup[] = [],
    contributions = new Map<number, number[]>(), normReference?: readonly number[]): Promise<MinerInput[]> {
    const { run } = this.node, shapes = this.node.model.layout.specs.map((s) => s.shape), T = shapes.length;
    const valid = new Map(g.valid.map((v) => [v.uid, v]));
    const member = new Map<number, DeclaredGroup>(groups.flatMap((x) => x.members.map((u) => [u, x] as const)));
    const rejected = new Map(g.rejected);
    for (const v of g.valid) {
      const x = member.get(v.uid);
      const partial = !!v.update.held && v.update.held.some((h) => !h);
      if (!x && partial) {
        rejected.set(v.uid, { reason: 'bad_count', detail: `a partial payload (${v.update.held!.filter(Boolean).length} of ${T} tensors) from a uid that is no stage of a declared pipeline group` });
        valid.delete(v.uid);
      } else if (x && !holdsExactly(v.update, x.tensors[x.members.indexOf(v.uid)]!)) {
        rejected.set(v.uid, { reason: 'bad_count', detail: `stage ${x.members.indexOf(v.uid)} of group ${x.group} must send exactly its stage's ${x.tensors[x.members.indexOf(v.uid)]!.length} tensors` });
        valid.delete(v.uid);
      }
    }
    // A complete group becomes one upload under its lead's uid; its other members are not candidates of their own.
    const stagesOf = new Map<number, SparseUpdate[]>();
    for (const x of groups) {
      const [lead, ...rest] = x.members;
      const parts = x.members.map((u) => valid.get(u));
      for (const u of rest) valid.delete(u);
      if (parts.every((v) => v !== undefined)) {
        const vs = parts as NonNullable<(typeof parts)[number]>[];
        stagesOf.set(lead!, vs.map((v) => v.update));
        valid.set(lead!, { ...vs[0]!, update: mergeHeld(vs.map((v) => v.update), T), steps: Math.min(...vs.map((v) => v.steps)),
          landedAt: Math.max(...vs.map((v) => v.landedAt)), seen: Math.max(...vs.map((v) => v.seen)) });
      } else {
        valid.delete(lead!);
        const bad = x.members.map((u, s) => ({ u, s, r: parts[s] ? null : rejected.get(u) ?? { reason: 'missing' as const, detail: 'nothing anchored on chain by the deadline' } })).filter((e) => e.r !== null);
        const worst = bad.find((e) => e.r!.reason !== 'missing' && e.r!.reason !== 'late') ?? bad.find((e) => e.r!.reason === 'late') ?? bad[0]!;
        rejected.set(lead!, { reason: worst.r!.reason, detail: `group ${x.group} is incomplete: ${bad.map((e) => `stage ${e.s} (uid ${e.u}) ${e.r!.reason}: ${e.r!.detail}`).join('; ')}` });
      }
      for (const u of rest) rejected.delete(u);
    }
    const skip = new Set(groups.flatMap((x) => x.members.slice(1)));
    candidates = candidates.filter((u) => !skip.has(u));
    const norms = new Map([...valid.values()].map((v) => [v.uid, updateNorm(v.update)]));
    const median = referenceMedian([...norms].map(([uid, norm]) => ({ uid, norm })), normReference);
    const budget = new Set(this.evaluationOrder(candidates.filter((u) => valid.has(u))).slice(0, EVAL_BUDGET));
    const out: MinerInput[] = [], tsk = new Map<number, ReturnType<typeof tensorSketches>>();
    for (const uid of [...new Set([...candidates, ...valid.keys(), ...rejected.keys()])].filter((u) => !skip.has(u)).sort((a, b) => a - b)) {
      const v = valid.get(uid);
      if (!v) {
        const rej = rejected.get(uid) ?? { reason: 'missing', detail: 'nothing anchored on chain by the deadline' };
        const status = rej.reason === 'late' ? 'late' : rej.reason === 'missing' ? 'missing' : 'invalid';
        out.push({ uid, status, detail: `${rej.reason}: ${rej.detail}`, landedAt: null, seen: null });
        continue;
      }
      const norm = norms.get(uid)!;
      const m: MinerInput = { uid, status: 'ok', landedAt: v.landedAt, seen: v.seen, steps: v.steps, norm, sketch: indexSketch(v.update, shapes, run.codec, this.params.sketchSize) };
      tsk.set(uid, tensorSketches(v.update, shapes, run.codec, this.params.tensorSketchSize));
      if (budget.has(uid)) {
        const plan = evalPlan(run, W, uid, this.node.signer.address, beacon, this.node.data.train.length, EVAL_BATCHES, v.steps);
        await this.node.data.remote?.ensureSequences([...plan.own, ...plan.random], run.seq);
        const clipScale = norm > 0 ? Math.min(1, median / norm) : 0;
        m.measured = { plan, clipScale, losses: measureLosses(this.ev, v.update, plan, this.params.scoreStep, clipScale), behind: await this.behind(dir, uid) };
        // A group: each stage's contribution, the own-data loss after the merged update without that stage's tensors less the loss after all of it.
        const stages = stagesOf.get(uid);
        if (stages) {
          contributions.set(uid, stages.map((_, s) => {
            const rest = stages.filter((_, j) => j !== s);
            return ownLossAfter(this.ev, mergeHeld(rest, T), plan, this.params.scoreStep, clipScale) - m.measured!.losses.own.after;
          }));
        }
      }
      out.push(m);
    }
    this.tensorShares(out, tsk);
    this.crossLosses(W, out, valid, tsk);
    const remote = this.node.data.remote;
    if (remote) { // what the next window may evaluate of the assigned data (its pick and random part wait for its beacon), fetched while this one finishes
      const next = [...budget].flatMap((uid) => trainingOffsets(run, uid, W + 1, this.node.data.train.length).flat());
      remote.prefetch(next, run.seq, `window ${W + 1}'s evaluation data`);
    }
    return out;
  }

  /** Each ok upload's tensor copy share against every other (sketch.ts tensorCopyShare at tensorCopyOverlap), recorded where above 0.05. */
  private tensorShares(out: MinerInput[], tsk: ReadonlyMap<number, ReturnType<typeof tensorSketches>>): void {
    const ok = out.filter((x) => tsk.has(x.uid)), p = this.params;
    for (const a of ok) {
      for (const b of ok) {
        if (a === b) continue;
        const share = tensorCopyShare(tsk.get(a.uid)!, tsk.get(b.uid)!, p.tensorCopyOverlap, p.tensorSketchSize);
        if (share > 0.05) a.tensorShare = { ...a.tensorShare, [String(b.uid)]: Math.round(share * 1e4) / 1e4 };
      }
    }
  }

  /**
   * Cross losses of this window's overlapping pairs (gauntlet/copies.ts: the origin decides a copy, not
   * the arrival): each evaluated upload's trial step on the other's assigned sequences. The CROSS_PAIRS
   * largest overlaps are measured (2 forward passes over E batches each, 4 on shared tensors); a pair beyond them is left to copies.ts's fallbacks.
   */
  private crossLosses(W: number, out: MinerInput[], valid: ReadonlyMap<number, { update: SparseUpdate }>, tsk: ReadonlyMap<number, ReturnType<typeof tensorSketches>>): void {
    const m = out.filter((x) => x.measured && x.sketch && valid.has(x.uid)), p = this.params, pairs: { a: MinerInput; b: MinerInput; o: number }[] = [];
    for (let i = 0; i < m.length; i++) {
      for (let j = i + 1; j < m.length; j++) {
        const o = sketchOverlap(m[i]!.sketch!, m[j]!.sketch!, p.sketchSize), t = pairTensorShare(m[i]!, m[j]!);
        if (o >= p.copyThreshold || t >= p.tensorCopyShare) pairs.push({ a: m[i]!, b: m[j]!, o: Math.max(o, t) });
      }
    }
    pairs.sort((x, y) => y.o - x.o || x.a.uid - y.a.uid || x.b.uid - y.b.uid);
    if (pairs.length === 0) return;
    const t0 = performance.now(), measured = pairs.slice(0, CROSS_PAIRS);
    const record = (x: MinerInput, key: string, loss: number): void => { x.measured!.cross = { ...x.measured!.cross, [key]: Number.isFinite(loss) ? loss : null }; };
    const labels: string[] = [];
    for (const { a, b } of measured) {
      // Tensors the two share whole (a stitched upload's, or a partial copy's): just those are measured — the rest of each update is
      // its own and would blur whose data the copied part improves. None or all of them shared: the whole updates.
      const sh = sharedTensors(tsk.get(a.uid)!, tsk.get(b.uid)!, p.tensorCopyOverlap, p.tensorSketchSize);
      const withKept = tsk.get(a.uid)!.filter((t) => t.kept > 0).length;
      const shared = sh.size > 0 && sh.size < withKept ? sh : null;
      labels.push(`${a.uid}~${b.uid}${shared ? ` on ${shared.size} shared tensor(s)` : ''}`);
      const part = (u: SparseUpdate): SparseUpdate => (shared ? mergeHeld([{ tensors: u.tensors, held: u.tensors.map((_, i) => shared.has(i) && (u.held?.[i] ?? true)) }], u.tensors.length) : u);
      for (const [x, y] of [[a, b], [b, a]] as const) {
        const u = part(valid.get(x.uid)!.update);
        record(x, String(y.uid), ownLossAfter(this.ev, u, y.measured!.plan, p.scoreStep, x.measured!.clipScale));
        if (shared) record(x, `${y.uid}:own`, ownLossAfter(this.ev, u, x.measured!.plan, p.scoreStep, x.measured!.clipScale));
      }
    }
    this.node.log(`window ${W}: ${pairs.length} overlapping pair(s) (${labels.join(', ')}${pairs.length > measured.length ? ` and ${pairs.length - measured.length} more, ordered by observation` : ''}) measured on each other's data in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  }

  /**
   * W's uploads to audit (audit.ts), kept with the base θ they trained from until runAudits re-runs them:
   * the ok whole uploads of miners that never passed an audit (their first uploads are revealed unasked,
   * REVEAL_FIRST; pay waits for a pass), then those the beacon picked — the paid and best-ranked first.
   */
  private pickAudits(W: number, beacon: { height: number; hash: string }, g: Gathered, miners: readonly MinerInput[], justPassed: ReadonlySet<number>): void {
    const run = this.node.run;
    this.picked = null;
    if (auditRateOf(run) <= 0) return;
    const ok = new Set(miners.filter((m) => m.status === 'ok').map((m) => m.uid));
    // Never passed and not barred by a failed one (a failed miner is not audited again until its bar ends, unless picked).
    const fresh = (u: number): boolean => { const st = this.saved.state.miners[u]; return !justPassed.has(u) && !((st?.auditPasses ?? 0) >= 1) && !((st?.auditBanUntil ?? -1) >= W); };
    const whole = g.valid.filter((v) => ok.has(v.uid) && !v.update.held?.some((h) => !h));
    const owed = new Set(whole.filter((v) => auditChosen(run, W, v.uid, beacon.hash)).map((v) => v.uid));
    const uploads = whole.filter((v) => owed.has(v.uid) || fresh(v.uid));
    if (uploads.length === 0) return;
    const paid = new Map((this.last?.weights.uids ?? []).map((u, i) => [u, this.last!.weights.weights[i]!]));
    // Never passed first, then the paid; the evaluation order otherwise (a stable sort keeps it).
    const order = this.evaluationOrder(uploads.map((v) => v.uid)).sort((a, b) => Number(fresh(b)) - Number(fresh(a)) || (paid.get(b) ?? 0) - (paid.get(a) ?? 0));
    const theta = this.thetas.find((t) => t.window === trainingBase(run, W));
    if (!theta) {
      this.node.log(`window ${W}: replay audits of uid(s) ${order.join(' ')} skipped: θ of window ${trainingBase(run, W)} is not kept here (a restart or a window not scored)`);
      return;
    }
    this.picked = { window: W, uploads: order.map((u) => uploads.find((v) => v.uid === u)!), owed, base: theta.params };
  }

  /**
   * Re-runs the uploads pickAudits kept (after the window is applied: off the peer list's and the
   * aggregate's path): the first always (an audit that never runs deters nothing), the others while
   * their cost (measured per inner step by the audits before) fits before `untilMs`. The results go into
   * the next window's receipt. Returns how many ran.
   */
  async runAudits(dir: Directory, untilMs: number): Promise<number> {
    const job = this.picked;
    this.picked = null;
    if (!job) return 0;
    let ran = 0;
    for (const v of job.uploads) {
      const estimate = this.auditMsPerStep === null ? 0 : this.auditMsPerStep * Math.max(1, v.steps);
      if (ran > 0 && Date.now() + estimate > untilMs) {
        this.node.log(`window ${job.window}: replay audit of uid ${v.uid} not run: ~${(estimate / 1000).toFixed(1)} s would end past the next window's deadline (${ran} run)`);
        continue;
      }
      // A first audit (not picked by the beacon) reads a reveal once and waits for none: the miner owes none.
      // An owed reveal is waited for at most a quarter of a window and never past `untilMs` (it is put right after the beacon,
      // before this validator scored and applied the window): a withheld one must not make the validator late.
      const wait = Math.min(untilMs, Date.now() + 0.25 * this.node.run.blocksPerWindow * blockIntervalMs(this.node));
      const owed = job.owed.has(v.uid), t0 = performance.now(), a = await this.auditOne(job.window, v, dir, job.base, owed ? wait : 0);
      const ms = performance.now() - t0;
      if (a.cosine !== undefined) this.auditMsPerStep = ms / Math.max(1, v.steps);
      if (a.outcome === 'unrevealed' && !owed) continue;
      this.audited.push(a);
      ran++;
      this.node.log(`window ${job.window}: replay audit of uid ${v.uid}: ${a.outcome.toUpperCase()} — ${a.detail} (${(ms / 1000).toFixed(2)} s)`);
    }
    return ran;
  }

  private async auditOne(W: number, v: Verified, dir: Directory, theta: Float32Array, waitUntil: number): Promise<AuditInput> {
    const { run } = this.node, specs = this.node.model.layout.specs, n = theta.length, uid = v.uid;
    const fail = (detail: string): AuditInput => ({ uid, window: W, outcome: 'fail', detail });
    const commitment = v.stateCommitment;
    if (!commitment) return fail('the payload carries no state commitment, so its training cannot be re-run');
    const store = dir.bucket(uid), key = keys.auditState(run.runId, W, uid);
    let bytes: Uint8Array | null = null;
    while (store && !(bytes = await fetchObject(this.node, store, key, maxRevealBytes(n))) && Date.now() < waitUntil) await sleep(250, this.node.signal);
    if (!bytes) return { uid, window: W, outcome: 'unrevealed', detail: `no state revealed at ${key} when this validator looked (up to a quarter of a window after it applied the window, and not past the next deadline)` };
    const r = decodeReveal(bytes, n);
    if (typeof r === 'string') return { uid, window: W, outcome: 'unrevealed', detail: `the reveal is unreadable: ${r}` };
    if (r.window !== W || r.uid !== uid) return fail(`the reveal is of window ${r.window}, uid ${r.uid}`);
    if (stateCommitment(r) !== commitment) return fail('the revealed state does not hash to the commitment the payload carries');
    let base = theta;
    if (r.baseLess !== null) {
      // Overlap: the miner trained from θ of W − 1 less its own update of W − 1 (the eager base, miner.ts).
      const own = run.overlap && store ? await fetchObject(this.node, store, keys.gradient(run.runId, W - 1, uid), maxPayloadBytes(specs.map((s) => s.shape), run.codec)) : null;
      const d = own && sha256Hex(own) === r.baseLess ? decodePayload(own, { shapes: specs.map((s) => s.shape), cfg: run.codec, modelHash: this.node.runHash }) : null;
      if (!d?.ok) return fail(`the base is θ less an own upload of window ${W - 1} that ${own ? 'is not the one committed to' : 'cannot be read'}`);
      base = Float32Array.from(theta);
      applyAggregate(base, [d.payload.update], specs, run.codec, run.alpha);
    }
    if (paramsDigest(base) !== r.base) return fail(`trained from another base than θ of window ${trainingBase(run, W)}${r.baseLess ? ` less its own upload of window ${W - 1}` : ''}`);
    const steps = v.steps >= 1 ? Math.min(v.steps, run.innerSteps) : run.innerSteps;
    const batches = trainingOffsets(run, uid, W, this.node.data.train.length).slice(0, steps);
    await this.node.data.remote?.ensureSequences(batches.flat(), run.seq);
    const replayed = replayUpdate(this.node.be, run, specs, base, r, this.node.data.train, batches);
    if (!replayed) return fail(`re-running its ${steps} inner steps from the revealed state diverges`);
    const cosine = updateCosine(replayed, v.update, specs, run.codec, n), c = Math.round(cosine * 1e6) / 1e6;
    return cosine >= AUDIT_TOLERANCE
      ? { uid, window: W, outcome: 'pass', detail: `its ${steps} inner steps re-run from the revealed state give the upload (cosine ${c})`, cosine: c }
      : { uid, window: W, outcome: 'fail', detail: `its ${steps} inner steps on its assigned data, re-run from the revealed state, give another update (cosine ${c} < ${AUDIT_TOLERANCE})`, cosine: c };
  }

  /** Best-ranked first, then the longest unevaluated (only matters when EVAL_BUDGET binds). */
  private evaluationOrder(uids: number[]): number[] {
    const st = this.saved.state.miners;
    return [...uids].sort((a, b) => (st[b]?.final ?? 0) - (st[a]?.final ?? 0) || (st[a]?.lastEval ?? -1) - (st[b]?.lastEval ?? -1) || a - b);
  }

  /** Windows behind of uid's probe of W − 1 against θ now; null without a usable probe. */
  private async behind(dir: Directory, uid: number): Promise<number | null> {
    const ref = this.probeRef, store = dir.bucket(uid);
    if (!ref || !store) return null;
    const rec = await fetchRecord(this.node, store, keys.probe(this.node.run.runId, ref.window, uid), 'probe');
    if (!rec || rec.window !== ref.window || rec.uid !== uid || rec.values.length !== ref.values.length) return null;
    return windowsBehind(rec.values, ref.values, this.saved.typicalChange ?? 0);
  }

  /** Mean loss of θ on the fixed validation batches. */
  valLoss(): number {
    return evaluate(this.node.be, this.node.model, this.val, this.node.run.batch, this.node.run.seq);
  }
}

export { readReceipts, receiptsPrefix, type ReadReceiptsOptions } from './receipts.js';

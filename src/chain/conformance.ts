// THE conformance suite for Chain implementations (like storage/conformance.ts for stores): one list of
// checks, run against the devnet chain and against subtensor (chopsticks on the real runtime) by the
// tests, and against any endpoint by `tessera chain check`. A check that needs what a fixture cannot
// give (writes, making blocks) is skipped with the reason, never passed.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ChainError, type Chain, type Signer } from './types.js';

export interface ChainFixture {
  chain: Chain;
  /** What the chain is, for reports: e.g. "devnet http://…" or "node-subtensor spec 103". */
  label: string;
  /** Runtime spec version where the chain has one (subtensor). */
  specVersion?: number;
  /** Fresh hotkeys this fixture can write with; absent: write checks are skipped with `noWrite`. */
  newHotkey?(name: string): Promise<Signer>;
  /** Why writes are not possible (shown on the skipped checks). */
  noWrite?: string;
  /** Makes (or waits for) `blocks` more blocks; absent: checks needing epochs are skipped with `noAdvance`. */
  advance?(blocks: number): Promise<void>;
  noAdvance?: string;
  /** Blocks until the next Yuma epoch of the subnet has run (and its emission is readable). */
  blocksToEpoch?(): Promise<number>;
  /** Stake a validator takes (chain units: TAO on subtensor). Default 100. */
  validatorStake?: number;
}

export type CheckStatus = 'passed' | 'failed' | 'skipped';
export interface CheckResult { name: string; status: CheckStatus; ms: number; detail?: string }
export interface ConformanceReport { label: string; specVersion?: number; passed: number; failed: number; skipped: number; results: CheckResult[] }

interface Ctx { f: ChainFixture; keys: Map<string, Signer>; uids: Map<string, number> }
interface Check { name: string; needs: Array<'write' | 'advance'>; run(c: Ctx): Promise<void> }

const digestOf = (s: string): string => createHash('sha256').update(s).digest('hex');

async function key(c: Ctx, name: string): Promise<Signer> {
  let k = c.keys.get(name);
  if (!k) { k = await c.f.newHotkey!(name); c.keys.set(name, k); }
  return k;
}
async function registered(c: Ctx, name: string): Promise<{ hotkey: Signer; uid: number }> {
  const hotkey = await key(c, name);
  let uid = c.uids.get(name);
  if (uid === undefined) { uid = await c.f.chain.register(hotkey); c.uids.set(name, uid); }
  return { hotkey, uid };
}
async function rejectsWith(p: Promise<unknown>, codes: string[], what: string): Promise<ChainError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ChainError, `${what}: expected a ChainError, got ${(e as Error).message}`);
    assert.ok(codes.includes(e.code), `${what}: expected code ${codes.join(' or ')}, got ${e.code} (${e.message})`);
    assert.ok(e.hint && e.hint.length > 0, `${what}: the error says what to do`);
    return e;
  }
  assert.fail(`${what}: expected a ChainError`);
}

/** The checks, in order (later ones use the uids earlier ones registered). */
export const CHAIN_CHECKS: Check[] = [
  { name: 'head: a height and a millisecond timestamp; blockTimestamp(head) agrees', needs: [], async run({ f }) {
    const h = await f.chain.head();
    assert.ok(Number.isSafeInteger(h.height) && h.height >= 0, `height ${h.height}`);
    assert.ok(h.timestamp > 1e12 && h.timestamp < 1e14, `timestamp ${h.timestamp} is in ms since the epoch`);
    assert.equal(await f.chain.blockTimestamp(h.height), h.timestamp);
  } },
  { name: 'blockTimestamp: earlier blocks have earlier timestamps', needs: [], async run({ f }) {
    const h = await f.chain.head();
    if (h.height === 0) return;
    const prev = await f.chain.blockTimestamp(h.height - 1);
    assert.ok(prev < h.timestamp, `block ${h.height - 1} at ${prev}, block ${h.height} at ${h.timestamp}`);
  } },
  { name: 'blockHash: 0x + 64 hex digits, stable on a second read, different for another block', needs: [], async run({ f }) {
    const h = await f.chain.head();
    if (h.height === 0) return;
    const a = await f.chain.blockHash(h.height), b = await f.chain.blockHash(h.height - 1);
    assert.match(a, /^0x[0-9a-f]{64}$/);
    assert.equal(await f.chain.blockHash(h.height), a);
    assert.notEqual(a, b);
  } },
  { name: 'metagraph: one entry per uid in every per-uid field; parameters present', needs: [], async run({ f }) {
    const m = await f.chain.metagraph();
    assert.equal(m.uids.length, m.n);
    for (const k of ['hotkeys', 'stake', 'validatorPermit', 'lastUpdate', 'blockAtRegistration', 'Rank', 'Trust', 'Consensus', 'Incentive', 'Dividends', 'ValidatorTrust', 'Emission', 'Bonds', 'Weights'] as const) {
      assert.equal(m[k].length, m.n, `metagraph.${k} has ${m[k].length} entries for n = ${m.n}`);
    }
    assert.ok(m.tempo >= 1 && m.kappa >= 0 && m.kappa <= 1 && m.maxAllowedValidators >= 1, 'tempo, kappa, maxAllowedValidators');
    for (const x of [...m.Incentive, ...m.Dividends, ...m.Consensus]) assert.ok(x >= 0 && x <= 1 + 1e-9, `fraction ${x} in [0, 1]`);
  } },
  { name: 'waitForBlock: a far block times out with code timeout', needs: [], async run({ f }) {
    const h = await f.chain.head();
    await rejectsWith(f.chain.waitForBlock(h.height + 1_000_000, 300), ['timeout'], 'waitForBlock(far)');
  } },
  { name: 'register: gives a uid; again gives the same uid; the metagraph maps it to the hotkey', needs: ['write'], async run(c) {
    const { hotkey, uid } = await registered(c, 'conf-validator');
    assert.equal(await c.f.chain.register(hotkey), uid);
    const m = await c.f.chain.metagraph();
    assert.equal(m.hotkeys[uid], hotkey.address);
  } },
  { name: 'register: another hotkey gets another uid', needs: ['write'], async run(c) {
    const a = await registered(c, 'conf-validator');
    const b = await registered(c, 'conf-miner-1');
    const d = await registered(c, 'conf-miner-2');
    assert.equal(new Set([a.uid, b.uid, d.uid]).size, 3);
  } },
  { name: 'addStake: the hotkey\'s stake grows by the amount', needs: ['write'], async run(c) {
    const { hotkey, uid } = await registered(c, 'conf-validator');
    const before = (await c.f.chain.metagraph()).stake[uid];
    const amount = c.f.validatorStake ?? 100;
    await c.f.chain.addStake(hotkey, amount);
    const after = (await c.f.chain.metagraph()).stake[uid];
    assert.ok(Math.abs(after - before - amount) < 1e-6 * amount, `stake ${before} → ${after}, added ${amount}`);
  } },
  { name: 'commit: commitments() returns the text under the uid; a new commit replaces it', needs: ['write'], async run(c) {
    const { hotkey, uid } = await registered(c, 'conf-miner-1');
    const one = '{"v":1,"kind":"fs","dir":"/tmp/conformance-a","readOnly":true}';
    await c.f.chain.commit(hotkey, one);
    assert.equal((await c.f.chain.commitments())[uid], one);
    const two = one.replace('-a"', '-b"');
    await c.f.chain.commit(hotkey, two);
    assert.equal((await c.f.chain.commitments())[uid], two);
  } },
  { name: 'anchor: anchors(window) lists (uid, digest, block); the same digest again is a no-op; another is refused (anchored)', needs: ['write'], async run(c) {
    const { hotkey, uid } = await registered(c, 'conf-miner-2');
    const window = 7_000_000 + Math.floor(Math.random() * 1e6);
    const d1 = digestOf(`a${window}`);
    await c.f.chain.anchor(hotkey, window, d1);
    const list = await c.f.chain.anchors(window);
    const mine = list.filter((a) => a.uid === uid);
    assert.equal(mine.length, 1);
    assert.equal(mine[0].digest, d1);
    // The including block may be the one being produced as the list is read: it exists soon after.
    const head = await c.f.chain.waitForBlock(mine[0].block, 30_000);
    assert.ok(mine[0].block >= 1 && mine[0].block <= head.height, `anchor block ${mine[0].block} ≤ head ${head.height}`);
    await c.f.chain.anchor(hotkey, window, d1);
    assert.equal((await c.f.chain.anchors(window)).filter((a) => a.uid === uid).length, 1);
    await rejectsWith(c.f.chain.anchor(hotkey, window, digestOf(`b${window}`)), ['anchored'], 'a second digest');
    assert.deepEqual(await c.f.chain.anchors(window + 1), []);
  } },
  { name: 'setWeights: refused for an unregistered hotkey (not_registered)', needs: ['write'], async run(c) {
    const stranger = await key(c, 'conf-stranger');
    await rejectsWith(c.f.chain.setWeights(stranger, [0], [1]), ['not_registered'], 'setWeights by an unregistered hotkey');
  } },
  { name: 'epoch: a staked validator gets a ValidatorPermit', needs: ['write', 'advance'], async run(c) {
    const v = await registered(c, 'conf-validator');
    await c.f.advance!(await blocksToEpoch(c.f));
    const m = await c.f.chain.metagraph();
    assert.equal(m.validatorPermit[v.uid], true, `ValidatorPermit of uid ${v.uid}: ${JSON.stringify(m.validatorPermit)}`);
    assert.ok(m.lastEpoch > 0, `lastEpoch ${m.lastEpoch}`);
  } },
  { name: 'setWeights: the weights land in Weights (after the reveal period where commit-reveal is on); after an epoch Incentive follows them and Emission is paid', needs: ['write', 'advance'], async run(c) {
    const v = await registered(c, 'conf-validator');
    const a = await registered(c, 'conf-miner-1');
    const b = await registered(c, 'conf-miner-2');
    await c.f.chain.setWeights(v.hotkey, [a.uid, b.uid], [1, 3]);
    let m = await c.f.chain.metagraph();
    const landed = (x: typeof m): boolean => x.Weights[v.uid].some(([j]) => j === b.uid);
    if (m.revealPeriodEpochs > 0) {
      // Commit-reveal: the weights stay hidden until revealed, RevealPeriodEpochs epochs on. The devnet reveals
      // them itself; subtensor's v2 reveal goes out with the hotkey's next setWeights (SubtensorChain).
      assert.ok(!landed(m), `commit-reveal over ${m.revealPeriodEpochs} epochs is on, yet Weights[${v.uid}] = ${JSON.stringify(m.Weights[v.uid])} right after setWeights`);
      for (let i = 0; i <= m.revealPeriodEpochs + 1 && !landed(m); i++) {
        await c.f.advance!(await blocksToEpoch(c.f));
        m = await c.f.chain.metagraph();
        if (!landed(m)) { await c.f.chain.setWeights(v.hotkey, [a.uid, b.uid], [1, 3]); m = await c.f.chain.metagraph(); }
      }
    }
    const row = new Map(m.Weights[v.uid]);
    assert.ok((row.get(b.uid) ?? 0) > 0 && (row.get(a.uid) ?? 0) > 0, `Weights[${v.uid}] = ${JSON.stringify(m.Weights[v.uid])}`);
    const ratio = (row.get(b.uid) ?? 0) / (row.get(a.uid) ?? 1);
    assert.ok(Math.abs(ratio - 3) < 0.01, `weight ratio ${ratio}, want 3`);
    assert.equal(m.lastUpdate[v.uid] > 0, true);
    await c.f.advance!(await blocksToEpoch(c.f));
    m = await c.f.chain.metagraph();
    assert.ok(m.Incentive[b.uid] > m.Incentive[a.uid] && m.Incentive[a.uid] > 0, `Incentive ${JSON.stringify(m.Incentive)}`);
    assert.ok(m.Dividends[v.uid] > 0, `Dividends ${JSON.stringify(m.Dividends)}`);
    assert.ok(m.Emission[a.uid] > 0 && m.Emission[b.uid] > 0, `Emission ${JSON.stringify(m.Emission)}`);
    assert.ok(m.Bonds[v.uid].some(([, x]) => x > 0), `Bonds[${v.uid}] = ${JSON.stringify(m.Bonds[v.uid])}`);
  } },
  { name: 'waitForBlock: resolves once the chain reaches the height', needs: ['advance'], async run({ f }) {
    const h = await f.chain.head();
    const p = f.chain.waitForBlock(h.height + 2, 60_000);
    await f.advance!(2);
    const got = await p;
    assert.ok(got.height >= h.height + 2, `reached ${got.height}`);
  } },
];

async function blocksToEpoch(f: ChainFixture): Promise<number> {
  if (f.blocksToEpoch) return f.blocksToEpoch();
  return (await f.chain.metagraph()).tempo + 1;
}

/** Why the fixture cannot run a check, or null. */
function skipReason(f: ChainFixture, c: Check): string | null {
  if (c.needs.includes('write') && !f.newHotkey) return f.noWrite ?? 'no keys to write with';
  if (c.needs.includes('advance') && !f.advance) return f.noAdvance ?? 'cannot make blocks';
  return null;
}

/** Runs every check in order; `onResult` sees each result as it comes. */
export async function runChainConformance(f: ChainFixture, onResult?: (r: CheckResult) => void): Promise<ConformanceReport> {
  const ctx: Ctx = { f, keys: new Map(), uids: new Map() };
  const results: CheckResult[] = [];
  for (const check of CHAIN_CHECKS) {
    const reason = skipReason(f, check);
    const t0 = Date.now();
    let r: CheckResult;
    if (reason) r = { name: check.name, status: 'skipped', ms: 0, detail: reason };
    else {
      try {
        await check.run(ctx);
        r = { name: check.name, status: 'passed', ms: Date.now() - t0 };
      } catch (e) {
        r = { name: check.name, status: 'failed', ms: Date.now() - t0, detail: (e as Error).message + ((e as ChainError).hint ? ` (${(e as ChainError).hint})` : '') };
      }
    }
    results.push(r);
    onResult?.(r);
  }
  const count = (s: CheckStatus): number => results.filter((r) => r.status === s).length;
  return { label: f.label, specVersion: f.specVersion, passed: count('passed'), failed: count('failed'), skipped: count('skipped'), results };
}

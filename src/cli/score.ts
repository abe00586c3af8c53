// `tessera score explain --uid N`: why a miner scored what it scored, from a validator's receipts alone.
// The chain (a running one at --chain, or a devnet folder: its running chain, else its saved state)
// gives the validator (default: the leader) and the bucket it committed; the receipts of the run are
// listed and parsed from that bucket, explained for the uid (gauntlet/explain.ts) and, with --verify,
// recomputed one by one (gauntlet/receipt.ts: the same numbers, bit for bit, or the first difference).
import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
// Imports name modules, not index files: this command should answer in seconds, without loading the training code.
import { devnetChainView, liveChainView, storeKindOf, validatorStore, type ChainView } from '../devnet/chain-view.js';
import { DEVNET_DIR, RECORD_FILE } from '../devnet/record.js';
import { explainUid } from '../gauntlet/explain.js';
import type { ScoreReceipt } from '../gauntlet/receipt.js';
import { readReceipts, runIdsIn } from '../neurons/receipts.js';
import { leaderOf } from '../protocol/peers.js';
import type { ReadOnlyStore } from '../storage/types.js';
import { TesseraError } from '../util/errors.js';
import { int } from './options.js';

interface ExplainFlags { uid: number; chain?: string; validator?: number; dir?: string; runId?: string; window?: number; verify?: boolean; json?: boolean; quiet?: boolean }

/** --chain URL; else --dir (or .tessera/devnet when it holds a devnet): its running chain, else the state it saved. */
export async function openChain(f: Pick<ExplainFlags, 'chain' | 'dir'>): Promise<ChainView> {
  if (f.chain !== undefined) return liveChainView(f.chain);
  const dir = f.dir ?? (existsSync(join(DEVNET_DIR, RECORD_FILE)) ? DEVNET_DIR : undefined);
  if (dir === undefined) {
    throw new TesseraError('no chain to read the validator from', `pass --chain URL (a running chain) or --dir DEVNET_DIR (a devnet folder, running or stopped; default ${DEVNET_DIR})`);
  }
  return devnetChainView(dir);
}

/** Progress on stderr (stdout stays the answer, --json included): one line per step, a counter while receipts are read. */
function progress(quiet: boolean): { step: (s: string) => void; count: (done: number, total: number) => void; end: () => void } {
  const t0 = performance.now(), tty = Boolean(process.stderr.isTTY);
  const el = (): string => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
  if (quiet) return { step: () => {}, count: () => {}, end: () => {} };
  return {
    step: (s) => process.stderr.write(`[${el()}] ${s}\n`),
    count: (done, total) => {
      if (tty) process.stderr.write(`\r[${el()}] reading receipts ${done}/${total}${done === total ? '\n' : ''}`);
      else if (done === 0 || done === total) process.stderr.write(`[${el()}] reading receipts ${done}/${total}\n`);
    },
    end: () => process.stderr.write(`[${el()}] done\n`),
  };
}

const weightOf = (r: ScoreReceipt, uid: number): number => {
  const i = r.result.weights.uids.indexOf(uid);
  return i < 0 ? 0 : r.result.weights.weights[i]!;
};

export async function scoreExplain(f: ExplainFlags): Promise<void> {
  const p = progress(Boolean(f.quiet));
  p.step(`reading the chain (${f.chain ?? f.dir ?? DEVNET_DIR}) ...`);
  const chain = await openChain(f);
  const m = chain.metagraph;
  const known = (uid: number): boolean => Number.isSafeInteger(uid) && uid >= 0 && uid < m.n;
  if (!known(f.uid)) throw new TesseraError(`uid ${f.uid} is not registered on this chain (${m.n} uids: 0–${m.n - 1})`, 'the devnet view and `tessera wallet show --chain URL` list the uids');
  if (m.validatorPermit[f.uid]) throw new TesseraError(`uid ${f.uid} is a validator (it holds a validator permit); validators are not scored`, 'pass a miner uid');
  const v = f.validator ?? leaderOf(m);
  if (v === null) throw new TesseraError(`no validator on this chain (no uid holds stake and a validator permit) — ${chain.source}`, 'start a validator; its receipts appear once it has scored a window');
  if (!known(v)) throw new TesseraError(`--validator ${v} is not registered on this chain (${m.n} uids)`, 'omit --validator to read the leader\'s receipts');
  p.step(`chain: ${chain.source}; reading validator uid ${v}'s receipts ...`);
  const store: ReadOnlyStore = validatorStore(chain, v);
  try {
    let runId = f.runId ?? chain.runId;
    const fail = (e: unknown): never => {
      if (e instanceof TesseraError) throw e;
      throw new TesseraError(`cannot read validator uid ${v}'s bucket (${storeKindOf(chain, v)}): ${(e as Error).message}`,
        'the bucket must be reachable from here (a stopped devnet with --ceph storage loses its objects)');
    };
    if (runId === undefined) {
      const ids = await runIdsIn(store).catch(fail);
      if (ids.length === 0) throw new TesseraError(`validator uid ${v}'s bucket holds no score receipts`, 'receipts appear once the validator has scored its first window');
      if (ids.length > 1) throw new TesseraError(`validator uid ${v}'s bucket holds receipts of several runs: ${ids.join(', ')}`, 'pick one with --run-id');
      runId = ids[0]!;
    }
    const { receipts, rejected } = await readReceipts(store, runId, { onProgress: p.count }).catch(fail);
    if (receipts.length === 0) {
      throw new TesseraError(`validator uid ${v}'s bucket holds no score receipts for run ${runId}${rejected.length ? ` (${rejected.length} unreadable)` : ''}`,
        'receipts appear once the validator has scored its first window (about two windows after the run starts); check --run-id');
    }
    const span = `windows ${receipts[0]!.window}–${receipts[receipts.length - 1]!.window}`;
    const scored = receipts.filter((r) => r.result.miners.some((x) => x.uid === f.uid));
    if (scored.length === 0) {
      throw new TesseraError(`uid ${f.uid} was not scored in any of validator uid ${v}'s ${receipts.length} receipts (${span})`,
        'a miner appears in the receipts once the validator sees one of its uploads; check the miner\'s log');
    }
    if (f.verify) p.step(`recomputing ${receipts.length} receipt(s) ...`);
    const verifyReceipt = f.verify ? (await import('../gauntlet/receipt.js')).verifyReceipt : null;
    const checks = verifyReceipt ? receipts.map((r) => ({ window: r.window, ...verifyReceipt(r) })) : null;
    const mismatches = (checks ?? []).filter((c) => !c.ok).map((c) => ({ window: c.window, mismatch: (c as { mismatch: string }).mismatch }));
    const explanation = explainUid(receipts, f.uid, { window: f.window });
    p.end();
    if (f.json) {
      console.log(JSON.stringify({
        chain: chain.source, runId, validator: { uid: v, hotkey: m.hotkeys[v] }, uid: f.uid, receipts: receipts.length, windows: [receipts[0]!.window, receipts[receipts.length - 1]!.window],
        unreadable: rejected,
        rows: scored.map((r) => ({ window: r.window, weight: weightOf(r, f.uid), ...r.result.miners.find((x) => x.uid === f.uid)! })),
        explanation,
        ...(checks ? { verify: { checked: checks.length, ok: checks.length - mismatches.length, mismatches } } : {}),
      }));
    } else {
      console.log(`validator uid ${v} (${m.hotkeys[v]}), run ${runId}: ${receipts.length} receipt(s), ${span}; chain ${chain.source}`);
      for (const r of rejected) console.log(`  skipped ${r.key}: ${r.reason}`);
      console.log('');
      console.log(explanation);
      if (checks) {
        console.log('');
        if (mismatches.length === 0) console.log(`verify: all ${checks.length} receipts recompute to the same numbers (state hash and every result field)`);
        else {
          console.log(`verify: ${mismatches.length} of ${checks.length} receipts DO NOT recompute:`);
          for (const x of mismatches) console.log(`  window ${x.window}: ${x.mismatch}`);
        }
      }
    }
    if (mismatches.length > 0) process.exitCode = 1;
  } finally {
    store.close();
  }
}

export function scoreCommand(): Command {
  const cmd = new Command('score').description('Gauntlet scores from a validator\'s receipts (recomputable by anyone)');
  cmd.command('explain')
    .description('why a miner scored what it scored: per-window upload status, scores, rank, rating, indicator, sync, penalties, final score and weight, from the validator\'s receipts')
    .requiredOption('--uid <n>', 'the miner\'s uid', int('--uid', 0))
    .option('--chain <url>', 'a running chain, e.g. http://127.0.0.1:9944')
    .option('--dir <dir>', `a devnet folder (its running chain, else its saved chain state); default ${DEVNET_DIR} when it exists`)
    .option('--validator <uid>', 'whose receipts (default: the leader, the highest stake with a validator permit)', int('--validator', 0))
    .option('--run-id <id>', 'run id (default: the devnet\'s, or the only run with receipts in the bucket)')
    .option('--window <w>', 'take this window apart (default: the newest in which the uid was scored)', int('--window', 0))
    .option('--quiet', 'no progress lines on stderr')
    .option('--verify', 'recompute every receipt from its own state, inputs and parameters and report any difference (exit 1 on a mismatch)')
    .option('--json', 'print one JSON object')
    .action((f: ExplainFlags) => scoreExplain(f));
  return cmd;
}

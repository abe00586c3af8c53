// `tessera score explain --uid N`: why a miner scored what it scored, from a validator's receipts alone.
// The chain (a running one at --chain, or a devnet folder: its running chain, else its saved state)
// gives the validator (default: the leader) and the bucket it committed; the receipts of the run are
// listed and parsed from that bucket, explained for the uid (gauntlet/explain.ts) and, with --verify,
// recomputed one by one (gauntlet/receipt.ts: the same numbers, bit for bit, or the first difference).
import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { commitmentsOf, DevnetChainClient, loadState, metagraphOf, type Metagraph } from '../chain/index.js';
import { DEVNET_DEFAULTS, readRecord, RECORD_FILE } from '../devnet/index.js';
import { explainUid, verifyReceipt, type ScoreReceipt } from '../gauntlet/index.js';
import { readReceipts } from '../neurons/index.js';
import { leaderOf, PROTOCOL_VERSION } from '../protocol/index.js';
import { DEVNET_PEER_POLICY, openPeerStore, parseDescriptor, type ReadOnlyStore } from '../storage/index.js';
import { TesseraError } from '../util/errors.js';
import { int } from './options.js';

interface ExplainFlags { uid: number; chain?: string; validator?: number; dir?: string; runId?: string; verify?: boolean; json?: boolean }

interface ChainView { source: string; metagraph: Metagraph; commitments: Record<number, string>; runId?: string }

async function live(url: string): Promise<{ metagraph: Metagraph; commitments: Record<number, string> }> {
  const c = new DevnetChainClient({ url, retries: 1, requestTimeoutMs: 5000 });
  const [metagraph, commitments] = await Promise.all([c.metagraph(), c.commitments()]);
  return { metagraph, commitments };
}

/** --chain URL; else --dir (or .tessera/devnet when it holds a devnet): its running chain, else the state it saved. */
export async function openChain(f: Pick<ExplainFlags, 'chain' | 'dir'>): Promise<ChainView> {
  if (f.chain !== undefined) {
    try {
      return { source: f.chain, ...(await live(f.chain)) };
    } catch (e) {
      throw new TesseraError(`cannot read the chain at ${f.chain}: ${(e as Error).message}`,
        'start it (tessera devnet / tessera chain), or pass --dir DEVNET_DIR to read a stopped devnet\'s saved chain state');
    }
  }
  const dir = f.dir ?? (existsSync(join(DEVNET_DEFAULTS.dir, RECORD_FILE)) ? DEVNET_DEFAULTS.dir : undefined);
  if (dir === undefined) {
    throw new TesseraError('no chain to read the validator from', `pass --chain URL (a running chain) or --dir DEVNET_DIR (a devnet folder, running or stopped; default ${DEVNET_DEFAULTS.dir})`);
  }
  const record = readRecord(dir);
  if (!record) throw new TesseraError(`${dir} is not a devnet folder (no ${RECORD_FILE})`, 'pass the --dir of a tessera devnet, or --chain URL');
  const url = `http://127.0.0.1:${record.chainPort}`;
  try {
    return { source: `${url} (devnet ${dir})`, runId: record.run.runId, ...(await live(url)) };
  } catch {
    const state = await loadState(join(dir, 'chain'));
    if (!state) throw new TesseraError(`the devnet in ${dir} has no chain state yet`, 'start it with tessera devnet first');
    return { source: `${join(dir, 'chain')} (saved state of the stopped devnet, block ${state.height})`, runId: record.run.runId, metagraph: metagraphOf(state), commitments: commitmentsOf(state) };
  }
}

/** The run ids with receipts in the bucket (keys tessera/v<version>/<runId>/receipts/...). */
async function runIdsIn(store: ReadOnlyStore): Promise<string[]> {
  const re = new RegExp(`^tessera/v${PROTOCOL_VERSION}/([^/]+)/receipts/`);
  return [...new Set((await store.list(`tessera/v${PROTOCOL_VERSION}/`)).map((k) => re.exec(k)?.[1]).filter((x): x is string => x !== undefined))].sort();
}

const weightOf = (r: ScoreReceipt, uid: number): number => {
  const i = r.result.weights.uids.indexOf(uid);
  return i < 0 ? 0 : r.result.weights.weights[i]!;
};

export async function scoreExplain(f: ExplainFlags): Promise<void> {
  const chain = await openChain(f);
  const m = chain.metagraph;
  const known = (uid: number): boolean => Number.isSafeInteger(uid) && uid >= 0 && uid < m.n;
  if (!known(f.uid)) throw new TesseraError(`uid ${f.uid} is not registered on this chain (${m.n} uids: 0–${m.n - 1})`, 'the devnet view and `tessera wallet show --chain URL` list the uids');
  if (m.validatorPermit[f.uid]) throw new TesseraError(`uid ${f.uid} is a validator (it holds a validator permit); validators are not scored`, 'pass a miner uid');
  const v = f.validator ?? leaderOf(m);
  if (v === null) throw new TesseraError(`no validator on this chain (no uid holds stake and a validator permit) — ${chain.source}`, 'start a validator; its receipts appear once it has scored a window');
  if (!known(v)) throw new TesseraError(`--validator ${v} is not registered on this chain (${m.n} uids)`, 'omit --validator to read the leader\'s receipts');
  const text = chain.commitments[v];
  if (typeof text !== 'string') throw new TesseraError(`validator uid ${v} has committed no bucket on chain`, 'its bucket is known once the validator has started');
  let store: ReadOnlyStore;
  try {
    store = openPeerStore(text, DEVNET_PEER_POLICY); // this command reads a devnet: the devnet's peer policy
  } catch (e) {
    throw new TesseraError(`validator uid ${v} committed an unusable bucket descriptor: ${(e as Error).message}`, 'ask the validator to fix its commitment');
  }
  try {
    let runId = f.runId ?? chain.runId;
    const fail = (e: unknown): never => {
      if (e instanceof TesseraError) throw e;
      throw new TesseraError(`cannot read validator uid ${v}'s bucket (${parseDescriptor(text).kind}): ${(e as Error).message}`,
        'the bucket must be reachable from here (a stopped devnet with --ceph storage loses its objects)');
    };
    if (runId === undefined) {
      const ids = await runIdsIn(store).catch(fail);
      if (ids.length === 0) throw new TesseraError(`validator uid ${v}'s bucket holds no score receipts`, 'receipts appear once the validator has scored its first window');
      if (ids.length > 1) throw new TesseraError(`validator uid ${v}'s bucket holds receipts of several runs: ${ids.join(', ')}`, 'pick one with --run-id');
      runId = ids[0]!;
    }
    const { receipts, rejected } = await readReceipts(store, runId).catch(fail);
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
    const checks = f.verify ? receipts.map((r) => ({ window: r.window, ...verifyReceipt(r) })) : null;
    const mismatches = (checks ?? []).filter((c) => !c.ok).map((c) => ({ window: c.window, mismatch: (c as { mismatch: string }).mismatch }));
    const explanation = explainUid(receipts, f.uid);
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
    .option('--dir <dir>', `a devnet folder (its running chain, else its saved chain state); default ${DEVNET_DEFAULTS.dir} when it exists`)
    .option('--validator <uid>', 'whose receipts (default: the leader, the highest stake with a validator permit)', int('--validator', 0))
    .option('--run-id <id>', 'run id (default: the devnet\'s, or the only run with receipts in the bucket)')
    .option('--verify', 'recompute every receipt from its own state, inputs and parameters and report any difference (exit 1 on a mismatch)')
    .option('--json', 'print one JSON object')
    .action((f: ExplainFlags) => scoreExplain(f));
  return cmd;
}

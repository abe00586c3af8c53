// What the readers of a network (tessera score explain, tessera dashboard) see of its chain: a running
// chain at a URL, or a devnet folder — its running chain, else the state it saved when it stopped —
// and a validator's bucket, found through that validator's on-chain commitment.
import { join } from 'node:path';
// Imports name modules, not the packages' index files: a reader (score explain) should not load the training code.
import { DevnetChainClient } from '../chain/devnet/client.js';
import { loadState } from '../chain/devnet/persist.js';
import { commitmentsOf, metagraphOf } from '../chain/devnet/state.js';
import type { Metagraph } from '../chain/types.js';
import { parseDescriptor } from '../storage/descriptor.js';
import { openPeerStore } from '../storage/open.js';
import { DEVNET_PEER_POLICY } from '../storage/policy.js';
import type { ReadOnlyStore } from '../storage/types.js';
import { TesseraError } from '../util/errors.js';
import { readRecord, RECORD_FILE, type DevnetRecord } from './record.js';

export interface ChainView {
  /** Where it was read: a URL, or a devnet's saved chain state. */
  source: string;
  /** True when read from a running chain. */
  live: boolean;
  metagraph: Metagraph;
  commitments: Record<number, string>;
  /** A devnet folder's run id and record (undefined for --chain). */
  runId?: string;
  record?: DevnetRecord;
}

async function readLive(url: string): Promise<{ metagraph: Metagraph; commitments: Record<number, string> }> {
  const c = new DevnetChainClient({ url, retries: 0, requestTimeoutMs: 5000 });
  const [metagraph, commitments] = await Promise.all([c.metagraph(), c.commitments()]);
  return { metagraph, commitments };
}

/** A running chain at `url`. */
export async function liveChainView(url: string): Promise<ChainView> {
  try {
    return { source: url, live: true, ...(await readLive(url)) };
  } catch (e) {
    throw new TesseraError(`cannot read the chain at ${url}: ${(e as Error).message}`,
      'start it (tessera devnet / tessera chain), or pass --dir DEVNET_DIR to read a stopped devnet\'s saved chain state');
  }
}

/** A devnet folder: its running chain, else the state it saved. */
export async function devnetChainView(dir: string): Promise<ChainView> {
  const record = readRecord(dir);
  if (!record) throw new TesseraError(`${dir} is not a devnet folder (no ${RECORD_FILE})`, 'pass the --dir of a tessera devnet, or --chain URL');
  const url = record.chainUrl ?? `http://127.0.0.1:${record.chainPort}`;
  try {
    return { source: `${url} (devnet ${dir})`, live: true, runId: record.run.runId, record, ...(await readLive(url)) };
  } catch {
    const state = await loadState(join(dir, 'chain'));
    if (!state) throw new TesseraError(`the devnet in ${dir} has no chain state yet`, 'start it with tessera devnet first');
    return { source: `${join(dir, 'chain')} (saved state of the stopped devnet, block ${state.height})`, live: false, runId: record.run.runId, record,
      metagraph: metagraphOf(state), commitments: commitmentsOf(state) };
  }
}

/** The bucket validator `uid` committed on chain, read-only under the devnet's peer policy. */
export function validatorStore(view: ChainView, uid: number): ReadOnlyStore {
  const text = view.commitments[uid];
  if (typeof text !== 'string') throw new TesseraError(`validator uid ${uid} has committed no bucket on chain`, 'its bucket is known once the validator has started');
  try {
    return openPeerStore(text, DEVNET_PEER_POLICY); // these readers read a devnet: the devnet's peer policy
  } catch (e) {
    throw new TesseraError(`validator uid ${uid} committed an unusable bucket descriptor: ${(e as Error).message}`, 'ask the validator to fix its commitment');
  }
}

/** The storage kind a validator's commitment names (for error messages). */
export function storeKindOf(view: ChainView, uid: number): string {
  try { return parseDescriptor(view.commitments[uid] ?? '').kind; } catch { return 'unknown'; }
}

// The network as a node sees it: the metagraph and commitments (refreshed on demand), the
// miners, and read-only stores for any uid's bucket opened from its on-chain descriptor.
import { DevnetChainClient, type Metagraph } from '../chain/index.js';
import { SubtensorChain } from '../chain/subtensor/chain.js';
import { minerUids } from '../protocol/index.js';
import { DEVNET_PEER_POLICY, openPeerStore, PUBLIC_PEER_POLICY, type PeerPolicy, type ReadOnlyStore } from '../storage/index.js';
import { retrying } from './retry.js';
import type { Node } from './node.js';

export class Directory {
  metagraph: Metagraph | null = null;
  commitments: Record<number, string> = {};
  private readonly stores = new Map<number, { text: string; store: ReadOnlyStore | null }>();
  /**
   * What a peer's descriptor may point at (src/storage/policy.ts): a devnet chain (the only chain client
   * is DevnetChainClient; its nodes, RGW and fs buckets live on 127.0.0.1) allows fs, private addresses
   * and http; any other chain gets the public policy (https, public addresses, rate limited).
   */
  readonly peerPolicy: PeerPolicy;

  constructor(private readonly node: Node) {
    const local = node.chain instanceof DevnetChainClient || (node.chain instanceof SubtensorChain && node.chain.isLocal);
    this.peerPolicy = local ? DEVNET_PEER_POLICY : PUBLIC_PEER_POLICY;
  }

  async refresh(): Promise<this> {
    const [m, c] = await retrying(this.node, 'read metagraph', () => Promise.all([this.node.chain.metagraph(), this.node.chain.commitments()]));
    this.metagraph = m;
    this.commitments = c;
    return this;
  }

  private async graph(): Promise<Metagraph> {
    return this.metagraph ?? (await this.refresh()).metagraph!;
  }

  /** Miners (commitment, no permit), excluding this node. */
  async miners(): Promise<number[]> {
    return minerUids(await this.graph(), this.commitments).filter((u) => u !== this.node.uid);
  }

  async hotkeyOf(uid: number): Promise<string | null> {
    const m = await this.graph();
    const i = m.uids.indexOf(uid);
    return i < 0 ? null : m.hotkeys[i]!;
  }

  async stakeOf(uid: number): Promise<number> {
    const m = await this.graph();
    const i = m.uids.indexOf(uid);
    return i < 0 ? 0 : m.stake[i]!;
  }

  /**
   * Read-only store of uid's bucket (this node's own bucket for its own uid), or null when the uid
   * committed nothing usable (a malformed descriptor is bad peer data: logged, not thrown).
   */
  bucket(uid: number): ReadOnlyStore | null {
    if (uid === this.node.uid) return this.node.store;
    const text = this.commitments[uid];
    if (typeof text !== 'string') return null;
    const hit = this.stores.get(uid);
    if (hit && hit.text === text) return hit.store;
    hit?.store?.close();
    let store: ReadOnlyStore | null = null;
    try {
      store = openPeerStore(text, this.peerPolicy);
    } catch (e) {
      this.node.log(`uid ${uid} committed an unusable bucket descriptor: ${(e as Error).message}`);
    }
    this.stores.set(uid, { text, store });
    return store;
  }

  /** The bucket of uid, refreshing commitments once if it is not known yet. */
  async bucketFresh(uid: number): Promise<ReadOnlyStore | null> {
    if (uid !== this.node.uid && typeof this.commitments[uid] !== 'string') await this.refresh();
    return this.bucket(uid);
  }

  close(): void {
    for (const { store } of this.stores.values()) store?.close();
    this.stores.clear();
  }
}

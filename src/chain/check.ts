// Conformance fixtures for a chain endpoint, shared by `tessera chain check` and the tests: a devnet
// (http://…, open faucet: every check), a local subtensor with dev RPCs (chopsticks: the subnet is set
// up through sudo, blocks made on demand: every check), or any other subtensor (read-only checks).
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady, mnemonicGenerate } from '@polkadot/util-crypto';
import type { ChainFixture } from './conformance.js';
import { DevnetChainClient } from './devnet/client.js';
import { SS58_PREFIX, type Signer } from './types.js';
import { SubtensorChain } from './subtensor/chain.js';
import { devKeys, devRpc, hasDevRpc, pairSigner, prepareLocalSubnet } from './subtensor/local.js';

export interface OpenedFixture { fixture: ChainFixture; close(): Promise<void> }

/** Fresh sr25519 hotkeys from new mnemonics (never reused between runs). */
export async function freshKey(): Promise<ReturnType<Keyring['addFromUri']>> {
  await cryptoWaitReady();
  return new Keyring({ type: 'sr25519', ss58Format: SS58_PREFIX }).addFromUri(mnemonicGenerate());
}

/** The epoch of netuid n runs in block b where (b + n + 1) % (tempo + 1) == tempo (subtensor's blocks_until_next_epoch). */
export function blocksToEpochBlock(head: number, netuid: number, tempo: number): number {
  for (let k = 1; k <= tempo + 1; k++) if ((head + k + netuid + 1) % (tempo + 1) === tempo) return k;
  throw new Error(`tempo ${tempo}: no epoch block`);
}

export async function devnetFixture(url: string): Promise<OpenedFixture> {
  const chain = new DevnetChainClient({ url, retries: 2 });
  const info = await chain.info();
  return {
    fixture: {
      chain, label: `devnet ${url} (chain ${info.chainId.slice(0, 18)}…)`,
      newHotkey: async () => pairSigner(await freshKey()),
      advance: async (blocks) => { await chain.waitForBlock((await chain.head()).height + blocks, Math.max(30_000, blocks * info.blockMs * 5)); },
    },
    close: async () => {},
  };
}

export interface SubtensorFixtureOptions { endpoint: string; netuid: number; tempo?: number; log?: (line: string) => void }

/**
 * A subtensor endpoint. With chopsticks' dev RPCs: Sudo.Key = //Alice, the subnet created (tempo
 * `tempo`, default 5) with permissive hyperparameters, every new hotkey funded (remark fees), blocks
 * made with dev_newBlock. Without: read-only checks on the existing subnet `netuid`.
 */
export async function subtensorFixture(o: SubtensorFixtureOptions): Promise<OpenedFixture> {
  const probe = await SubtensorChain.connect({ endpoint: o.endpoint, netuid: 3, connectTimeoutMs: 20_000 }).catch(() => null);
  const dev = probe ? await hasDevRpc(probe.api) : false;
  await probe?.close();
  const tempo = o.tempo ?? 5;
  if (dev) await prepareLocalSubnet(o.endpoint, { netuid: o.netuid, tempo, log: o.log });
  const { sudo } = await devKeys();
  const chain = await SubtensorChain.connect({ endpoint: o.endpoint, netuid: o.netuid, sudo: dev ? pairSigner(sudo) : undefined, log: o.log });
  const spec = chain.shape;
  const fixture: ChainFixture = { chain, label: `${spec.specName} spec ${spec.specVersion} at ${o.endpoint}, netuid ${o.netuid}`, specVersion: spec.specVersion };
  if (dev) {
    fixture.validatorStake = 100;
    fixture.newHotkey = async (): Promise<Signer> => {
      const k = await freshKey();
      await devRpc(chain.api, 'dev_setStorage', [{ System: { Account: [[[k.address], { providers: 1, data: { free: '10000000000' } }]] } }]);
      return pairSigner(k);
    };
    fixture.advance = async (blocks) => { await devRpc(chain.api, 'dev_newBlock', [{ count: blocks }]); };
    // Epoch block, plus one: the runtime pays the epoch's emission into Stake in the block after.
    fixture.blocksToEpoch = async () => blocksToEpochBlock((await chain.head()).height, o.netuid, Number((await chain.api.query.subtensorModule.tempo(o.netuid)).toString())) + 1;
  } else {
    fixture.noWrite = 'not a local runtime (no dev RPCs): tessera chain check spends no funds on a public network; writes are checked against chopsticks';
    fixture.noAdvance = 'not a local runtime: blocks cannot be made on demand';
  }
  return { fixture, close: () => chain.close() };
}

/** A fixture for any endpoint: http(s) → devnet, ws(s) → subtensor. */
export function openFixture(endpoint: string, o: { netuid?: number; tempo?: number; log?: (line: string) => void } = {}): Promise<OpenedFixture> {
  if (/^https?:\/\//.test(endpoint)) return devnetFixture(endpoint);
  return subtensorFixture({ endpoint, netuid: o.netuid ?? 1, tempo: o.tempo, log: o.log });
}

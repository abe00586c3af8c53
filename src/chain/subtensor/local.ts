// A local subtensor: chopsticks (@acala-network/chopsticks, a dev dependency) executing the real
// runtime WASM of subtensor's raw_spec_testfinney.json (node-subtensor spec 103) in a child process,
// and the root setup a local subnet needs (sudo key, funded keys, subnet, hyperparameters, emission).
import type { ApiPromise, WsProvider } from '@polkadot/api';
import type { SubmittableExtrinsic } from '@polkadot/api/types';
import type { Call } from '@polkadot/types/interfaces';
import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TesseraError } from '../../util/errors.js';
import { SS58_PREFIX, type Signer } from '../types.js';
import { SubtensorChain } from './chain.js';
import { RAO_PER_TAO } from './calls.js';

/** subtensor's chainspecs/raw_spec_testfinney.json (genesis :code = the spec-103 runtime), shipped in assets/. */
export const TESTFINNEY_SPEC = fileURLToPath(new URL('../../../../assets/subtensor/raw_spec_testfinney.json', import.meta.url));
/** Modern finney metadata (spec 219), for offline encoding checks. */
export const FINNEY_219_METADATA = fileURLToPath(new URL('../../../../assets/subtensor/metadata-finney-spec219.json', import.meta.url));

/** The chopsticks CLI script, or a sentence saying why it is not there. */
export function chopsticksScript(): { script: string } | { missing: string } {
  try {
    const main = createRequire(import.meta.url).resolve('@acala-network/chopsticks');
    for (let d = dirname(main), i = 0; i < 4; i++, d = dirname(d)) {
      if (existsSync(join(d, 'chopsticks.cjs'))) return { script: join(d, 'chopsticks.cjs') };
    }
    return { missing: `@acala-network/chopsticks is installed (${main}) but has no chopsticks.cjs` };
  } catch {
    return { missing: '@acala-network/chopsticks is not installed (it is a dev dependency: run npm install in a clone of tessera)' };
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
  });
}

export interface ChopsticksOptions {
  /** Folder for chopsticks.log; default: a log is not kept. */
  dir?: string;
  port?: number;
  genesis?: string;
  /** How long chopsticks may take to listen. Default 120 000 ms. */
  startTimeoutMs?: number;
  /** Instant (default): every extrinsic gets its own block at once; Manual: blocks only on dev_newBlock. */
  buildBlockMode?: 'Instant' | 'Manual';
  log?: (line: string) => void;
}

/** A running chopsticks process with the dev RPCs tessera uses. */
export class Chopsticks {
  private constructor(readonly endpoint: string, private readonly child: ChildProcess, readonly startMs: number) {}

  get pid(): number | undefined { return this.child.pid; }

  static async start(opts: ChopsticksOptions = {}): Promise<Chopsticks> {
    const found = chopsticksScript();
    if ('missing' in found) throw new TesseraError(`cannot start chopsticks: ${found.missing}`, 'run `npm install` in the tessera folder (it installs @acala-network/chopsticks 1.5.1)');
    const genesis = opts.genesis ?? TESTFINNEY_SPEC;
    if (!existsSync(genesis)) throw new TesseraError(`cannot start chopsticks: genesis ${genesis} is missing`, 'restore assets/subtensor/raw_spec_testfinney.json from the repository');
    const port = opts.port ?? await freePort();
    let out: number | 'ignore' = 'ignore';
    if (opts.dir) { mkdirSync(opts.dir, { recursive: true }); out = openSync(join(opts.dir, 'chopsticks.log'), 'a'); }
    const t0 = Date.now();
    const child = spawn(process.execPath, [found.script, '--genesis', genesis, '--host', '127.0.0.1', '--port', String(port),
      '--build-block-mode', opts.buildBlockMode ?? 'Instant', '--allow-unresolved-imports'], { stdio: ['ignore', 'pipe', 'pipe'] });
    if (typeof out === 'number') closeSync(out);
    const logFile = opts.dir ? join(opts.dir, 'chopsticks.log') : undefined;
    let text = '';
    const ready = new Promise<void>((resolve, reject) => {
      const timeoutMs = opts.startTimeoutMs ?? 120_000;
      const timer = setTimeout(() => reject(new TesseraError(`chopsticks did not listen within ${timeoutMs} ms`, `see its output: ${text.slice(-400)}`)), timeoutMs);
      const onData = (b: Buffer): void => {
        text = (text + b.toString()).slice(-20_000);
        if (logFile) void import('node:fs/promises').then((fs) => fs.appendFile(logFile, b)).catch(() => {});
        if (/RPC listening/.test(text)) { clearTimeout(timer); resolve(); }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => { clearTimeout(timer); reject(new TesseraError(`chopsticks exited (code ${code}) before listening`, `its output: ${text.slice(-600)}`)); });
      child.once('error', (e) => { clearTimeout(timer); reject(new TesseraError(`cannot run chopsticks: ${e.message}`, 'check the node installation')); });
    });
    try {
      await ready;
    } catch (e) {
      child.kill('SIGKILL');
      throw e;
    }
    const c = new Chopsticks(`ws://127.0.0.1:${port}`, child, Date.now() - t0);
    opts.log?.(`chopsticks: pid ${child.pid} ${c.endpoint} ready in ${c.startMs} ms (runtime of ${genesis})`);
    return c;
  }

  /** Stops the process (SIGTERM, then SIGKILL after 5 s). */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }
}

/** A chopsticks dev RPC (dev_newBlock, dev_setStorage, dev_timeTravel, …) on an api connection. */
export const devRpc = (api: ApiPromise, method: string, params: unknown[]): Promise<unknown> =>
  (api as unknown as { _rpcCore: { provider: WsProvider } })._rpcCore.provider.send(method, params);

/** Whether the node answers chopsticks' dev RPCs (a local runtime whose state tessera may set). */
export async function hasDevRpc(api: ApiPromise): Promise<boolean> {
  try {
    const methods = (await api.rpc.rpc.methods()).methods.map((m) => m.toString());
    return methods.includes('dev_newBlock') && methods.includes('dev_setStorage');
  } catch {
    return false;
  }
}

export interface LocalSubnetOptions {
  netuid: number;
  tempo: number;
  /** Extra accounts funded with `fund` TAO each (coldkeys, and hotkeys that pay remark fees). */
  accounts?: string[];
  fund?: number;
  /**
   * MaxAllowedValidators (default 64). The runtime gives a ValidatorPermit to the top-k by stake, zero stake
   * included: on a small subnet every miner would hold one, and tessera counts permit holders as validators.
   */
  maxAllowedValidators?: number;
  log?: (line: string) => void;
}

/** Dev keys of a local runtime: //Alice becomes the sudo key and the coldkey of what it registers. */
export async function devKeys(): Promise<{ sudo: KeyringPair }> {
  await cryptoWaitReady();
  return { sudo: new Keyring({ type: 'sr25519', ss58Format: SS58_PREFIX }).addFromUri('//Alice') };
}

export const pairSigner = (p: KeyringPair): Signer => ({ address: p.address, sign: async (m) => p.sign(m) });

/**
 * Root setup of a local subtensor with dev RPCs (chopsticks): Sudo.Key = //Alice and funded accounts
 * (dev_setStorage), then through sudo calls the subnet (sudo_add_network), permissive hyperparameters
 * (no rate limits, one weight enough, no weight cap) and all of the block emission to this subnet.
 * Calls through the runtime itself wherever the runtime has one; idempotent on an existing subnet.
 */
export async function prepareLocalSubnet(endpoint: string, opts: LocalSubnetOptions): Promise<void> {
  const { sudo } = await devKeys();
  const chain = await SubtensorChain.connect({ endpoint, netuid: 3, sudo: pairSigner(sudo) }); // netuid 3 exists at genesis
  const api = chain.api;
  try {
    if (!await hasDevRpc(api)) throw new TesseraError(`${endpoint} has no dev RPCs (dev_setStorage)`, 'local subnet setup needs chopsticks; on a real network create the subnet with btcli');
    const rao = (tao: number): string => (BigInt(Math.round(tao * 1000)) * BigInt(RAO_PER_TAO / 1000)).toString();
    const fund = opts.fund ?? 1000;
    const accounts = [[[sudo.address], { providers: 1, data: { free: rao(1_000_000) } }], ...(opts.accounts ?? []).map((a) => [[a], { providers: 1, data: { free: rao(fund) } }])];
    await devRpc(api, 'dev_setStorage', [{ Sudo: { Key: sudo.address }, System: { Account: accounts } }]);
    const st = api.tx.subtensorModule as unknown as Record<string, (...a: unknown[]) => SubmittableExtrinsic<'promise'>>;
    const q = api.query.subtensorModule;
    const n = opts.netuid;
    const su = async (label: string, inner: SubmittableExtrinsic<'promise'>): Promise<void> => {
      await chain.submit(`sudo(${label})`, api.tx.sudo.sudo(inner.method).method as unknown as Call, pairSigner(sudo));
    };
    if (!(await q.networksAdded(n) as unknown as { isTrue: boolean }).isTrue) await su('sudo_add_network', st.sudoAddNetwork(n, opts.tempo, 0));
    else if (Number((await q.tempo(n)).toString()) !== opts.tempo) throw new TesseraError(`subnet ${n} exists with tempo ${(await q.tempo(n)).toString()}, not ${opts.tempo}`, 'use a fresh chopsticks or another netuid');
    // Permissive hyperparameters in one dev_setStorage (each is also a sudo_set_* call of this runtime;
    // ten sudo extrinsics cost ten blocks): no rate limits, one weight is enough, no cap on one weight.
    // Values go as strings: chopsticks 1.5.1 reads a numeric 0 as "delete the key" (the default comes back).
    await devRpc(api, 'dev_setStorage', [{ SubtensorModule: {
      TxRateLimit: '0', WeightsSetRateLimit: [[[n], '0']], MinAllowedWeights: [[[n], '1']], MaxWeightsLimit: [[[n], '65535']],
      MaxRegistrationsPerBlock: [[[n], '64']], TargetRegistrationsPerInterval: [[[n], '64']], MaxAllowedValidators: [[[n], String(opts.maxAllowedValidators ?? 64)]],
      WeightsVersionKey: [[[n], '0']], ImmunityPeriod: [[[n], '4096']],
    } }]);
    if (Number((await q.maxWeightsLimit(n)).toString()) !== 65535 || Number((await q.txRateLimit()).toString()) !== 0 || Number((await q.weightsSetRateLimit(n)).toString()) !== 0) {
      throw new TesseraError('dev_setStorage did not set the subnet hyperparameters', 'check the chopsticks version (1.5.1 is tested)');
    }
    const all = (await q.networksAdded.entries()).filter(([, v]) => (v as unknown as { isTrue: boolean }).isTrue).map(([k]) => Number(k.args[0].toString())).sort((a, b) => a - b);
    const emission = BigInt((await q.blockEmission()).toString());
    await su('sudo_set_emission_values', st.sudoSetEmissionValues(all, all.map((x) => (x === n ? emission : 0n))));
    opts.log?.(`local subtensor: subnet ${n} tempo ${opts.tempo}, emission ${emission} rao/block to it, ${opts.accounts?.length ?? 0} accounts funded`);
  } finally {
    await chain.close();
  }
}

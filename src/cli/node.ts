// `tessera miner` and `tessera validator`: resolve one NodeConfig (JSON file and/or flags), print it,
// then run the node until its stop window or SIGINT/SIGTERM (an AbortController the node honours).
import { Command, InvalidArgumentError } from 'commander';
import { fstatSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runValidator, type NodeConfig } from '../neurons/index.js';
import { BEHAVIORS, parseBehavior, runScenarioMiner, type BehaviorName } from '../scenario/index.js';
import { TesseraError } from '../util/errors.js';
import { presetNames } from '../model/index.js';
import { describeNodeConfig, resolveNodeConfig, type NodeFlags } from './node-config.js';
import { float, int } from './options.js';
import { watchParent } from '../devnet/process.js';


type Runner = (cfg: NodeConfig, opts?: { signal?: AbortSignal; log?: (line: string) => void; metricsPort?: number; metricsHost?: string }) => Promise<void>;

/** Environment fallback for --metrics-port (tessera devnet sets it to 0 for every node: any free port). */
export const METRICS_PORT_ENV = 'TESSERA_METRICS_PORT';

/** --metrics-port, else TESSERA_METRICS_PORT, else none. */
export function metricsPortOf(flag: number | undefined, env: string | undefined): number | undefined {
  if (flag !== undefined) return flag;
  if (env === undefined || env === '') return undefined;
  const n = Number(env);
  if (!Number.isSafeInteger(n) || n < 0 || n > 65535) throw new TesseraError(`${METRICS_PORT_ENV}=${env} is not a port`, 'set it to a port number (0: any free port) or unset it');
  return n;
}

/** Commander parser for --behavior: parseBehavior's message and hint as an option error. */
export function behaviorArg(v: string): BehaviorName {
  try {
    return parseBehavior(v);
  } catch (e) {
    if (e instanceof TesseraError) throw new InvalidArgumentError(`${e.message}; ${e.hint ?? ''}`.replace(/; $/, ''));
    throw e;
  }
}

function nodeCommand(role: 'miner' | 'validator', description: string): Command {
  const cmd = new Command(role)
    .description(description)
    .option('--config <file>', 'NodeConfig JSON (what tessera devnet writes to nodes/<name>/config.json); flags override its fields')
    .option('--name <name>', 'node name (lowercase letters, digits, -); default: the hotkey name')
    .option('--data-dir <dir>', "this node's state folder (status.json, timeline.jsonl, fingerprints.jsonl); default .tessera/nodes/<name>")
    .option('--chain <url>', 'chain URL, e.g. http://127.0.0.1:9944 (tessera chain)')
    .option('--wallet-dir <dir>', 'wallet folder (tessera wallet create; default .tessera/wallets)')
    .option('--hotkey <name>', 'wallet name of the hotkey')
    .option('--wallet <name>', 'the same as --hotkey (wallet name)')
    .option('--netuid <n>', 'subnet to join (the devnet chain serves one: 1)', int('--netuid', 0))
    .option('--data-cache <dir>', 'joining through the chain: folder of the verified dataset chunk cache (default <data-dir>/data-cache)')
    .option('--cache-mb <n>', 'joining through the chain: bound of the chunk cache in MB (default 1000)', float('--cache-mb', 0))
    .option('--join-wait <s>', 'joining through the chain: seconds to wait for a validator to publish the run (default 600)', float('--join-wait', 0))
    .option('--data-mirror <where>', 'validator: a read-only bucket (folder or descriptor JSON) where the dataset is published (tessera data publish), listed in the run manifest; repeatable', (v: string, prev: string[] = []) => [...prev, v])
    .option('--store <where>', 'own bucket: a folder (filesystem store) or a descriptor JSON {"v":1,"kind":"s3",...} with write keys')
    .option('--public-read <where>', 'descriptor committed on chain for others (default for a folder: the same folder, read-only)')
    .option('--dataset <dir>', 'prepared data folder (tessera data prepare)')
    .option('--run <file>', 'RunConfig JSON shared by every node of the network (without --run, --run-id or a run in --config: the run is read from the chain\'s validators)')
    .option('--run-id <id>', 'run id (with no --run/--config: a new run from the devnet defaults and the run flags below)')
    .option('--preset <name>', `model shape for a new run: ${presetNames().join(', ')}`)
    .option('--blocks-per-window <n>', 'blocks per window', int('--blocks-per-window', 1))
    .option('--inner-steps <n>', 'inner AdamW steps per window (H)', int('--inner-steps', 1))
    .option('--batch <n>', 'sequences per inner step', int('--batch', 1))
    .option('--seq <n>', 'tokens per sequence', int('--seq', 2))
    .option('--inner-lr <x>', 'peak inner learning rate', float('--inner-lr', 0))
    .option('--alpha <x>', 'outer SGD step α', float('--alpha', 0))
    .option('--deadline-s <x>', 'upload deadline after the start of window W+1, seconds', float('--deadline-s', 0))
    .option('--weights-every <n>', 'validator: set weights every n windows', int('--weights-every', 1))
    .option('--checkpoint-every <n>', 'validator: checkpoint every n windows', int('--checkpoint-every', 1))
    .option('--max-peers <n>', 'peers aggregated per window', int('--max-peers', 1))
    .option('--index-mode <mode>', 'payload index coding: 12bit or entropy')
    .option('--seed <n>', 'run seed', int('--seed', 0))
    .option('--stake <x>', 'validator on a devnet: faucet stake to take when the hotkey holds none (default 1000; 0 = none)', float('--stake', 0))
    .option('--stop-after-window <n>', 'exit after this window (default: run until Ctrl-C)', int('--stop-after-window', 0))
    .option('--metrics-port <n>', `serve Prometheus metrics at http://HOST:PORT/metrics (0: any free port; the URL is logged and written to status.json; or ${METRICS_PORT_ENV})`, int('--metrics-port', 0))
    .option('--metrics-host <host>', 'address the metrics server listens on', '127.0.0.1');
  if (role === 'miner') {
    cmd.option('--behavior <name>', `adversarial behaviour for tests and demos, attacking what the Gauntlet scores: ${BEHAVIORS.join(', ')} ` +
      '(default honest; see src/scenario/adversaries.ts)', behaviorArg);
  }
  return cmd
    .action(async (f: NodeFlags & { run?: string; wallet?: string; metricsPort?: number; metricsHost: string }) => {
      if (f.wallet !== undefined && f.hotkey !== undefined && f.wallet !== f.hotkey) throw new TesseraError(`--wallet ${f.wallet} and --hotkey ${f.hotkey} name different wallets`, 'pass one of them');
      const { metricsPort: _mp, metricsHost, ...rest } = f;
      const metricsPort = metricsPortOf(f.metricsPort, process.env[METRICS_PORT_ENV]);
      const flags: NodeFlags = { ...rest, runFile: f.run, hotkey: f.hotkey ?? f.wallet };
      const cfg = await resolveNodeConfig(role, flags);
      console.log(`tessera ${role} ${cfg.name}: resolved config\n${describeNodeConfig(cfg)}`);
      const ac = new AbortController();
      let signals = 0;
      const stop = (sig: string): void => {
        if (++signals > 1) { console.log(`tessera ${role}: ${sig} again, exiting now`); process.exit(130); }
        console.log(`tessera ${role}: ${sig}: finishing the current step and stopping (again to force)`);
        ac.abort(new Error(sig));
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
      const watch = watchParent(() => stop('parent exited'));
      const run: Runner = role === 'miner' ? runScenarioMiner : runValidator;
      // The node appends its log to <dataDir>/node.log itself; when stdout already is that file (the devnet), do not write lines twice.
      const log = stdoutIs(join(cfg.dataDir, 'node.log')) ? (): void => {} : (line: string): void => console.log(`${new Date().toISOString()} ${line}`);
      try {
        await run(cfg, { signal: ac.signal, log, metricsPort, metricsHost });
      } finally {
        if (watch) clearInterval(watch);
      }
      console.log(`tessera ${role} ${cfg.name}: stopped`);
    });
}

function stdoutIs(file: string): boolean {
  try {
    const a = fstatSync(1), b = statSync(file);
    return a.dev === b.dev && a.ino === b.ino;
  } catch {
    return false;
  }
}

export const minerCommand = (): Command => nodeCommand('miner', 'run a miner: train on the assigned data, upload compressed pseudo-gradients, apply the aggregate');
export const validatorCommand = (): Command => nodeCommand('validator', 'run a validator: score miners (Gauntlet), set weights, publish the peer list, checkpoints and aggregates');

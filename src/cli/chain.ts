// `tessera chain`: runs the devnet chain server in this process (HTTP JSON API, signed calls, Yuma every
// tempo blocks); prints its URL, and on SIGINT/SIGTERM closes it so the state on disk is the last block.
import { Command } from 'commander';
import { join } from 'node:path';
import { DEFAULT_FAUCET_CAP, startDevnetChainServer, type ChainParams, type DevnetServerOptions } from '../chain/index.js';
import { armFailpoints } from '../util/failpoint.js';
import { float, int } from './options.js';
import { CHAIN_READY_PREFIX, watchParent } from '../devnet/process.js';


interface ChainFlags extends Partial<ChainParams> { dir: string; port: number; host: string; blockMs: number; quiet?: boolean; faucetCap: number; faucetExempt?: string[] }

export function chainCommand(): Command {
  return new Command('chain')
    .description('run a devnet chain (blocks, signed calls, Yuma consensus) until Ctrl-C; resumes the state in --dir')
    .option('--dir <dir>', 'state folder (chain-state.json); resumed when present', join('.tessera', 'chain'))
    .option('--port <n>', 'TCP port (0 = any free port)', int('--port', 0), 9944)
    .option('--host <host>', 'listen address', '127.0.0.1')
    .option('--block-ms <ms>', 'block time in milliseconds', int('--block-ms', 10), 1000)
    .option('--tempo <n>', 'blocks between Yuma epochs (new chains only; default 10)', int('--tempo', 1))
    .option('--kappa <x>', 'consensus majority threshold (default 0.5)', float('--kappa', 0))
    .option('--bonds-moving-average <x>', 'bonds EMA factor (default 0.9)', float('--bonds-moving-average', 0))
    .option('--max-allowed-validators <n>', 'top-K stake holders get a validator permit (default 64)', int('--max-allowed-validators', 1))
    .option('--max-allowed-uids <n>', 'registration limit (default 256)', int('--max-allowed-uids', 1))
    .option('--weights-rate-limit <n>', 'blocks between two setWeights of one hotkey (default 1)', int('--weights-rate-limit', 0))
    .option('--activity-cutoff <n>', 'blocks after which a silent validator stops counting (default 5000)', int('--activity-cutoff', 1))
    .option('--emission-per-block <x>', 'emission per block (default 1)', float('--emission-per-block', 0))
    .option('--owner-cut <x>', 'fraction of emission to the subnet owner (default 0.18)', float('--owner-cut', 0))
    .option('--faucet-cap <x>', 'most stake the devnet faucet (addStake) gives one hotkey', float('--faucet-cap', 0), DEFAULT_FAUCET_CAP)
    .option('--faucet-exempt <hotkeys>', 'comma-separated SS58 hotkeys exempt from the faucet cap and never replaced by a registration (the devnet\'s own validators; kept from the last start when not given)',
      (v: string) => v.split(',').map((a) => a.trim()).filter((a) => a !== ''))
    .option('--quiet', 'do not log calls and epochs')
    .action(async (f: ChainFlags) => {
      const opts: DevnetServerOptions = {
        dir: f.dir, port: f.port, host: f.host, blockMs: f.blockMs, faucetCap: f.faucetCap, faucetExempt: f.faucetExempt,
        log: f.quiet ? undefined : (line: string) => console.log(`${new Date().toISOString()} ${line}`),
      };
      const params: Array<keyof ChainParams> = ['tempo', 'kappa', 'bondsMovingAverage', 'maxAllowedValidators', 'maxAllowedUids',
        'weightsRateLimit', 'activityCutoff', 'emissionPerBlock', 'ownerCut'];
      for (const k of params) if (f[k] !== undefined) (opts as unknown as Record<string, unknown>)[k] = f[k];
      armFailpoints(f.dir);
      const server = await startDevnetChainServer(opts);
      console.log(`${CHAIN_READY_PREFIX}${server.url} (chain ${server.chainId.slice(0, 18)}…, state in ${f.dir})`);
      await new Promise<void>((resolve) => {
        let closing = false;
        const stop = (sig: string): void => {
          if (closing) { console.log(`tessera chain: ${sig} again, exiting without waiting`); process.exit(130); }
          closing = true;
          console.log(`tessera chain: ${sig}: saving state and stopping`);
          server.close().then(resolve, (e: Error) => { console.error(`tessera chain: close failed: ${e.message}`); process.exitCode = 1; resolve(); });
        };
        process.on('SIGINT', () => stop('SIGINT'));
        process.on('SIGTERM', () => stop('SIGTERM'));
        watchParent(() => stop('devnet parent exited'));
      });
      console.log('tessera chain: stopped');
    });
}

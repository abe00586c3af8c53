// `tessera chain`: runs the devnet chain server in this process (HTTP JSON API, signed calls, Yuma every
// tempo blocks); prints its URL, and on SIGINT/SIGTERM closes it so the state on disk is the last block.
import { Command } from 'commander';
import { join } from 'node:path';
import { DEFAULT_FAUCET_CAP, startDevnetChainServer, type ChainParams, type DevnetServerOptions } from '../chain/index.js';
import { armFailpoints } from '../util/failpoint.js';
import { float, int } from './options.js';
import { CHAIN_READY_PREFIX, watchParent } from '../devnet/process.js';
import { openFixture } from '../chain/check.js';
import { runChainConformance } from '../chain/conformance.js';
import { NETWORK_ENDPOINTS } from '../chain/subtensor/chain.js';
import { TesseraError } from '../util/errors.js';


interface ChainFlags extends Partial<ChainParams> { dir: string; port: number; host: string; blockMs: number; quiet?: boolean; faucetCap: number; faucetExempt?: string[]; commitReveal?: number; ownerHotkey?: string; yuma3?: boolean; liquidAlpha?: boolean }

/** `tessera chain check`: the Chain conformance suite against any endpoint; exit 1 when a check fails. */
function checkCommand(): Command {
  return new Command('check')
    .description('run the Chain conformance suite against an endpoint (devnet http://…, subtensor ws://…) and print passed / failed / skipped')
    .option('--endpoint <url>', 'chain endpoint: http(s):// for a devnet, ws(s):// for subtensor (writes only on local runtimes with dev RPCs)')
    .option('--network <name>', `a public Bittensor network instead of --endpoint: ${Object.keys(NETWORK_ENDPOINTS).join(', ')} (read-only checks)`)
    .option('--netuid <n>', 'subnet (subtensor; on a local runtime it is created)', int('--netuid', 0), 1)
    .option('--tempo <n>', 'tempo of the subnet created on a local runtime', int('--tempo', 1), 5)
    .option('--json', 'print the report as JSON')
    .action(async (o: { endpoint?: string; network?: string; netuid: number; tempo: number; json?: boolean }) => {
      if (o.network && !NETWORK_ENDPOINTS[o.network]) throw new TesseraError(`unknown --network ${o.network}`, `use one of ${Object.keys(NETWORK_ENDPOINTS).join(', ')}, or --endpoint URL`);
      const endpoint = o.endpoint ?? (o.network ? NETWORK_ENDPOINTS[o.network] : undefined);
      if (!endpoint) throw new TesseraError('tessera chain check needs --endpoint URL or --network finney|test', 'e.g. --endpoint http://127.0.0.1:9944 (tessera chain) or --endpoint ws://127.0.0.1:9944 (subtensor)');
      const log = o.json ? undefined : (line: string): void => console.log(line);
      const opened = await openFixture(endpoint, { netuid: o.netuid, tempo: o.tempo, log });
      let report;
      try {
        log?.(`chain check: ${opened.fixture.label}`);
        report = await runChainConformance(opened.fixture, (r) => log?.(`${r.status.padEnd(7)} ${r.name} (${r.ms} ms)${r.detail ? `\n        ${r.detail}` : ''}`));
      } finally {
        await opened.close();
      }
      if (o.json) console.log(JSON.stringify({ endpoint, ...report }, null, 2));
      else console.log(`chain check: ${report.passed} passed, ${report.failed} failed, ${report.skipped} skipped; spec version ${report.specVersion ?? 'none (devnet)'}`);
      if (report.failed > 0) process.exitCode = 1;
    });
}

export function chainCommand(): Command {
  return new Command('chain')
    .addCommand(checkCommand())
    .description('run a devnet chain (blocks, signed calls, Yuma consensus) until Ctrl-C; resumes the state in --dir')
    .option('--dir <dir>', 'state folder (chain-state.json); resumed when present', join('.tessera', 'chain'))
    .option('--port <n>', 'TCP port (0 = any free port)', int('--port', 0), 9944)
    .option('--host <host>', 'listen address', '127.0.0.1')
    .option('--block-ms <ms>', 'block time in milliseconds', int('--block-ms', 10), 1000)
    .option('--tempo <n>', 'blocks between Yuma epochs (new chains only; default 10)', int('--tempo', 1))
    .option('--kappa <x>', 'consensus majority threshold, quantized to u16 / 65535 like subtensor (default 32767/65535)', float('--kappa', 0))
    .option('--bonds-moving-average <x>', 'bonds EMA factor (default 0.9)', float('--bonds-moving-average', 0))
    .option('--max-allowed-validators <n>', 'top-K stake holders get a validator permit (default 64)', int('--max-allowed-validators', 1))
    .option('--max-allowed-uids <n>', 'registration limit (default 256)', int('--max-allowed-uids', 1))
    .option('--weights-rate-limit <n>', 'blocks between two setWeights of one hotkey (default 1)', int('--weights-rate-limit', 0))
    .option('--activity-cutoff <n>', 'blocks after which a silent validator stops counting (default: subtensor\'s 13889 per mille of the tempo, 138 at tempo 10)', int('--activity-cutoff', 1))
    .option('--emission-per-block <x>', 'emission per block (default 1)', float('--emission-per-block', 0))
    .option('--owner-cut <x>', 'fraction of emission to the subnet owner (default 0.18)', float('--owner-cut', 0))
    .option('--faucet-cap <x>', 'most stake the devnet faucet (addStake) gives one hotkey', float('--faucet-cap', 0), DEFAULT_FAUCET_CAP)
    .option('--faucet-exempt <hotkeys>', 'comma-separated SS58 hotkeys exempt from the faucet cap and never replaced by a registration (the devnet\'s own validators; kept from the last start when not given)',
      (v: string) => v.split(',').map((a) => a.trim()).filter((a) => a !== ''))
    .option('--commit-reveal <epochs>', 'new chains only: hold each setWeights as a commit revealed this many epochs later, as subtensor\'s commit-reveal (default 1, on, as subtensor defaults it; 0 = off)', int('--commit-reveal', 0))
    .option('--owner-hotkey <ss58>', 'new chains only: the subnet owner hotkey; once registered it gets subtensor\'s owner exemption (always a permit, no stake threshold, its self-weight kept)')
    .option('--yuma3', 'new chains only: Yuma3 bonds (subtensor Yuma3On; off by default as there)')
    .option('--liquid-alpha', 'new chains only: liquid alpha for Yuma3 bonds (subtensor LiquidAlphaOn; off by default as there)')
    .option('--quiet', 'do not log calls and epochs')
    .action(async (f: ChainFlags) => {
      const opts: DevnetServerOptions = {
        dir: f.dir, port: f.port, host: f.host, blockMs: f.blockMs, faucetCap: f.faucetCap, faucetExempt: f.faucetExempt, commitRevealEpochs: f.commitReveal, ownerHotkey: f.ownerHotkey, yuma3: f.yuma3, liquidAlpha: f.liquidAlpha,
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

// `tessera dashboard`: the web dashboard for a network, running or stopped — a devnet folder (--dir:
// its node files, its chain live or saved, the leader's receipts) or a chain alone (--chain URL).
import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEVNET_DEFAULTS, RECORD_FILE } from '../devnet/config.js';
import { DASHBOARD_DEFAULT_PORT, startDashboard } from '../dashboard/index.js';
import { screenshotDashboard } from '../dashboard/browser.js';
import { TesseraError } from '../util/errors.js';
import { int } from './options.js';

interface DashboardFlags { dir?: string; chain?: string; runId?: string; port: number; host: string; screenshot?: string; explainUid?: number }

export function dashboardCommand(): Command {
  return new Command('dashboard')
    .description('web dashboard of a network, running or stopped: loss curves, per-window timelines, miners\' scores and explanations, alerts')
    .option('--dir <dir>', `a devnet folder (default ${DEVNET_DEFAULTS.dir} when it exists)`)
    .option('--chain <url>', 'a running chain instead of a folder (chain and receipts only: no loss curves or timelines)')
    .option('--run-id <id>', 'with --chain: the run whose receipts to show (default: the only one in the leader\'s bucket)')
    .option('--port <n>', 'port to listen on (0: any free port)', int('--port', 0), DASHBOARD_DEFAULT_PORT)
    .option('--host <host>', 'address to listen on (anything but 127.0.0.1 exposes the network\'s details to that network)', '127.0.0.1')
    .option('--screenshot <file>', 'save a full-page PNG of the dashboard with headless Chromium (/usr/bin/chromium or TESSERA_CHROMIUM) and exit')
    .option('--explain-uid <n>', 'with --screenshot: open this miner\'s score explanation first', int('--explain-uid', 0))
    .action(async (f: DashboardFlags) => {
      if (f.dir && f.chain) throw new TesseraError('--dir and --chain exclude each other', '--dir reads a devnet folder (and its chain); --chain URL reads a chain alone');
      const dir = f.dir ?? (f.chain ? undefined : existsSync(join(DEVNET_DEFAULTS.dir, RECORD_FILE)) ? DEVNET_DEFAULTS.dir : undefined);
      if (!dir && !f.chain) throw new TesseraError('no network to show', `pass --dir DEVNET_DIR (a devnet folder, running or stopped; default ${DEVNET_DEFAULTS.dir}) or --chain URL`);
      if (dir && !existsSync(join(dir, RECORD_FILE))) throw new TesseraError(`${dir} is not a devnet folder (no ${RECORD_FILE})`, 'pass the --dir of a tessera devnet, or --chain URL');
      if (f.screenshot) {
        const d = await startDashboard({ dir, chain: f.chain, runId: f.runId, host: '127.0.0.1', port: 0 });
        try {
          await screenshotDashboard(d.url, f.screenshot, { chromium: process.env.TESSERA_CHROMIUM, explainUid: f.explainUid, points: 1 });
        } finally {
          await d.close();
        }
        console.log(`[dashboard] saved ${f.screenshot}`);
        return;
      }
      const d = await startDashboard({ dir, chain: f.chain, runId: f.runId, host: f.host, port: f.port });
      console.log(`[dashboard] ${dir ? `devnet ${dir}` : `chain ${f.chain}`}: ${d.url} (Ctrl-C stops)`);
      const stop = (): void => { void d.close().then(() => process.exit(0)); };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
}

// `tessera bench network`: a short devnet, then fingerprint agreement, measured utilization and the
// payloads scaled to Covenant-72B's setting (formula in src/bench/network.ts).
import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { benchNetwork, COVENANT, HOSTS_MIN_BLOCKS, HOSTS_TRAIN_SHARE } from '../bench/network.js';
import { presetNames } from '../model/index.js';
import { float, int } from './options.js';
import { hostsOf } from './devnet.js';

const collect = (v: string, acc: string[] = []): string[] => [...acc, v];

export function benchNetworkCommand(): Command {
  return new Command('network')
    .description('run a short devnet (chain + storage + miners + validator as processes) and report fingerprint agreement, utilization and its 72B projection')
    .option('--windows <n>', 'windows to run', int('--windows', 1), 5)
    .option('--miners <n>', 'miners', int('--miners', 1), 3)
    .option('--preset <name>', `model shape: ${presetNames().join(', ')}`, 'small')
    .option('--block-ms <ms>', 'block time', int('--block-ms', 10), 1000)
    .option('--blocks-per-window <n>', 'blocks per window (default: the devnet default)', int('--blocks-per-window', 1))
    .option('--inner-steps <n>', 'inner steps per window (default: the devnet default)', int('--inner-steps', 1))
    .option('--data <dir>', 'prepared dataset (default: data/default when prepared, else the bundled corpus prepared into the run folder)')
    .option('--dir <dir>', 'keep everything in this folder (default: a temporary one, removed afterwards)')
    .option('--overlap', 'miners train W from the model of W − 1 while W − 1 is uploaded and aggregated (the devnet default)')
    .option('--no-overlap', 'miners train W only after the aggregate of W − 1 is applied')
    .option('--train-share <x>', 'window calibration: the share of a window H inner steps may take (default 0.9 with overlap; 1.1 with --hosts: miners compute for the whole window)', float('--train-share', 0))
    .option('--min-blocks <n>', 'window calibration: the fewest blocks per window (default 15; 8 with --hosts)', int('--min-blocks', 1))
    .option('--ceph', 'storage: a private Ceph RGW (default: folders; --hosts implies --ceph)')
    .option('--hosts', 'every node on its own network host (a namespace; needs root): measured on real, shaped links')
    .option('--up <rate>', 'with --hosts: every miner\'s and validator\'s upload rate (tc syntax, e.g. 110mbit)')
    .option('--down <rate>', 'with --hosts: every miner\'s and validator\'s download rate (e.g. 500mbit)')
    .option('--links <profile>', 'with --hosts: covenant = Covenant-72B\'s communication-to-compute ratio for this model')
    .option('--link <name=up/down>', 'with --hosts: one host\'s rates, repeatable', collect)
    .option('--json', 'print one JSON object')
    .action(async (o: { windows: number; miners: number; preset: string; blockMs: number; blocksPerWindow?: number; innerSteps?: number; data?: string; dir?: string; json?: boolean;
      overlap?: boolean; ceph?: boolean; trainShare?: number; minBlocks?: number; hosts?: boolean; up?: string; down?: string; links?: string; link?: string[] }) => {
      const hosts = hostsOf(o);
      const r = await benchNetwork({
        windows: o.windows, miners: o.miners, blockMs: o.blockMs, dir: o.dir, hosts, trainShare: o.trainShare ?? (hosts ? HOSTS_TRAIN_SHARE : undefined), minBlocks: o.minBlocks ?? (hosts ? HOSTS_MIN_BLOCKS : undefined), storage: hosts || o.ceph ? { kind: 'ceph' } : { kind: 'fs' },
        data: o.data ?? (existsSync(join('data', 'default', 'manifest.json')) ? join('data', 'default') : undefined),
        run: { preset: o.preset, blocksPerWindow: o.blocksPerWindow, innerSteps: o.innerSteps, overlap: o.overlap },
        log: o.json ? undefined : (l: string) => console.log(`[devnet] ${l}`),
      });
      if (o.json) return console.log(JSON.stringify(r));
      const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
      console.log(`windows ${r.windows} (fingerprints ${r.fingerprints_agree ? 'agree' : `DISAGREE at ${r.mismatched_windows.join(', ')}`}), ${r.miners} miners, ${(r.params / 1e6).toFixed(2)}M params, wall ${r.wall_s.toFixed(0)} s`);
      console.log(`learning: ${r.uploads_accepted}/${r.honest_miner_windows} honest uploads accepted (${pct(r.uploads_accepted_share)}), ${r.late_uploads} late, ` +
        `${r.empty_aggregate_windows} empty-aggregate and ${r.stalled_windows} stalled window(s), ${r.leader_changes} leader change(s); ` +
        `margin before the deadline mean ${r.margin_ms_mean?.toFixed(0) ?? '-'} ms, min ${r.margin_ms_min?.toFixed(0) ?? '-'} ms; inner steps mean ${r.steps_mean?.toFixed(1) ?? '-'}`);
      console.log(`per window: ${r.window_s.toFixed(2)} s = train ${r.train_s.toFixed(2)} + encode ${r.encode_s.toFixed(2)} + upload ${r.upload_s.toFixed(2)} + gather ${r.gather_s.toFixed(2)} + apply ${r.apply_s.toFixed(2)} + idle ${r.idle_s.toFixed(2)}`);
      console.log(`utilization ${pct(r.utilization)} (mean over miners of train+encode over wall time; ${r.overlap ? 'overlapped' : 'not overlapped'}: ${r.miner_utilization.map(pct).join(' ')}); payload ${(r.payload_bytes / 1e3).toFixed(1)} kB = ${r.bits_per_param.toFixed(3)} bits/param`);
      console.log(`val loss ${r.val_loss_first?.toFixed(3) ?? '-'} → ${r.val_loss_last?.toFixed(3) ?? '-'}; weights ${r.weights_set ? 'set' : 'not set'}; miner emission ${r.miner_emission.map((e) => e.toFixed(3)).join(' ')}`);
      for (const [name, l] of Object.entries(r.links ?? {})) {
        console.log(`link ${name}: up ${l.up ?? 'unshaped'} down ${l.down ?? 'unshaped'}; per window sent ${(l.bytes_up / 1e3).toFixed(1)} kB, received ${(l.bytes_down / 1e3).toFixed(1)} kB`);
      }
      const m = r.model_72b;
      console.log(`72B at ${r.bits_per_param.toFixed(3)} bits/param: payload ${(m.payload_bytes / 1e9).toFixed(2)} GB, upload ${m.upload_s.toFixed(0)} s @110 Mb/s, download ${COVENANT.peers} peers ${m.download_s.toFixed(0)} s @500 Mb/s, compute ${m.compute_s} s`);
      console.log(`utilization_72b ${pct(r.utilization_72b)} (not overlapped), ${pct(r.utilization_72b_overlapped)} (overlapped with the next window); Covenant-72B reported ${pct(COVENANT.reportedUtilization)}`);
    });
}

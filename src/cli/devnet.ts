// `tessera devnet`: a whole network on this machine — chain, storage, N miners and a validator as
// separate processes under one --dir (resumed on the next run) — with a live terminal view.
import { Command } from 'commander';
import { ADVERSARIAL_BEHAVIORS, Devnet, DEVNET_DEFAULTS, parseAdversaries, renderFrame, renderLine, type DevnetOptions, type DevnetStorage, type RunOverrides } from '../devnet/index.js';
import { presetNames } from '../model/index.js';
import { TesseraError } from '../util/errors.js';
import { DASHBOARD_DEFAULT_PORT, startDashboard } from '../dashboard/index.js';
import { METRICS_PORT_ENV } from './node.js';
import { checkRates, parseLinkOption, type HostsOptions } from '../devnet/hosts.js';
import { float, int } from './options.js';
import { ACTIVATION_KINDS, type ActivationKind } from '../hetero/activations.js';

interface DevnetFlags extends RunOverrides {
  dir: string; miners: number; validators?: number; adversaries?: string; blockMs?: number; tempo?: number; windows?: number; lateMiner?: number;
  s3?: string; s3AccessKey?: string; s3SecretKey?: string; s3Region: string; ceph?: boolean;
  data?: string; vocabSize: number; stake: number; plain?: boolean; chain: string;
  dashboard: boolean; dashboardPort: number; dashboardHost: string; metrics: boolean;
  hosts?: boolean; up?: string; down?: string; links?: string; link?: string[]; trainShare?: number;
  pipelineGroups?: number; stages?: number; stageCodec?: string;
}

/** --stage-codec: one of the activation codecs. */
function stageCodecOf(v: string | undefined): ActivationKind | undefined {
  if (v === undefined) return undefined;
  if (!(ACTIVATION_KINDS as string[]).includes(v)) throw new TesseraError(`--stage-codec ${v} is not an activation codec`, `use one of ${ACTIVATION_KINDS.join(', ')}`);
  return v as ActivationKind;
}

/** --hosts with --up/--down/--links/--link → the hosts harness's options (undefined: no hosts; rates without --hosts are an error). */
export function hostsOf(f: Pick<DevnetFlags, 'hosts' | 'up' | 'down' | 'links' | 'link'>): HostsOptions | undefined {
  const shaped = f.up !== undefined || f.down !== undefined || f.links !== undefined || (f.link?.length ?? 0) > 0;
  if (!f.hosts) {
    if (shaped) throw new TesseraError('--up, --down, --links and --link shape the links of network hosts', 'add --hosts (every node in its own network namespace; needs root and --ceph)');
    return undefined;
  }
  if (f.links !== undefined && f.links !== 'covenant') throw new TesseraError(`--links ${f.links} is not a profile`, 'the profile is covenant; or give plain rates with --up/--down');
  const o: HostsOptions = { up: f.up, down: f.down, links: f.links as 'covenant' | undefined, per: Object.fromEntries((f.link ?? []).map(parseLinkOption)) };
  checkRates(o);
  return o;
}

const collect = (v: string, acc: string[] = []): string[] => [...acc, v];

const d = DEVNET_DEFAULTS;

/** --s3/--ceph/none → the storage the devnet provides; admin keys from flags or TESSERA_S3_ACCESS_KEY / TESSERA_S3_SECRET_KEY. */
function storageOf(f: DevnetFlags): DevnetStorage {
  if (f.s3 && f.ceph) throw new TesseraError('--s3 and --ceph exclude each other', '--ceph starts a private Ceph RGW; --s3 URL uses an S3 server that already runs');
  if (f.ceph) return { kind: 'ceph' };
  if (!f.s3) return { kind: 'fs' };
  let url: URL;
  try { url = new URL(f.s3); } catch { throw new TesseraError(`--s3 ${f.s3} is not a URL`, 'e.g. --s3 http://127.0.0.1:7480'); }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TesseraError(`--s3 ${f.s3} must be http:// or https://`, 'e.g. --s3 http://127.0.0.1:7480');
  const accessKeyId = f.s3AccessKey ?? process.env.TESSERA_S3_ACCESS_KEY;
  const secretAccessKey = f.s3SecretKey ?? process.env.TESSERA_S3_SECRET_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new TesseraError('--s3 needs admin credentials', 'pass --s3-access-key and --s3-secret-key, or set TESSERA_S3_ACCESS_KEY and TESSERA_S3_SECRET_KEY (RGW: a user with caps users=*)');
  }
  return { kind: 's3', endpoint: url.origin, region: f.s3Region, accessKeyId, secretAccessKey };
}

export function devnetCommand(): Command {
  return new Command('devnet')
    .description('run a whole network here: chain + storage + miners + a validator as separate processes, with a live view (Ctrl-C stops; run again to resume)')
    .option('--dir <dir>', 'folder holding everything (data, chain, wallets, storage, nodes); resumed when it exists', d.dir)
    .option('--chain <kind>', 'the chain: devnet (tessera\'s own, resumable) or chopsticks (subtensor\'s real runtime, spec 103, in chopsticks: 12 s blocks, Yuma and emission by the runtime; a new --dir each time)', 'devnet')
    .option('--miners <n>', 'miners to run', int('--miners', 1), d.miners)
    .option('--validators <n>', 'validators to run (validator, validator-2, ... with 1/k of the stake each; the next by stake leads when the first stops)', int('--validators', 1))
    .option('--adversaries <list>', `one extra miner per adversarial behaviour (adv-<name>), comma-separated, or all: ${ADVERSARIAL_BEHAVIORS.join(', ')}`)
    .option('--preset <name>', `model shape (new network; default ${d.run.preset}): ${presetNames().join(', ')}`)
    .option('--block-ms <ms>', `block time in ms (default ${d.blockMs}, or the saved one when resuming)`, int('--block-ms', 10))
    .option('--blocks-per-window <n>', `blocks per window (new network; default ${d.run.blocksPerWindow})`, int('--blocks-per-window', 1))
    .option('--inner-steps <n>', `inner steps H per window (new network; default ${d.run.innerSteps})`, int('--inner-steps', 1))
    .option('--batch <n>', `sequences per inner step (new network; default ${d.run.batch})`, int('--batch', 1))
    .option('--seq <n>', `tokens per sequence (new network; default ${d.run.seq})`, int('--seq', 2))
    .option('--inner-lr <x>', `inner AdamW peak learning rate (new network; default ${d.run.innerLr})`, float('--inner-lr', 0))
    .option('--alpha <x>', `outer SGD step (new network; default ${d.run.alpha})`, float('--alpha', 0))
    .option('--deadline-s <x>', 'upload deadline after window W+1 starts, s (new network; default 40% of a window)', float('--deadline-s', 0))
    .option('--weights-every <n>', `validator sets weights every n windows (new network; default ${d.run.weightsEvery})`, int('--weights-every', 1))
    .option('--checkpoint-every <n>', `validator checkpoints every n windows (new network; default ${d.run.checkpointEvery})`, int('--checkpoint-every', 1))
    .option('--seed <n>', `run seed (new network; default ${d.run.seed})`, int('--seed', 0))
    .option('--audit-rate <x>', `share of uploads a block after the deadline picks for a replay audit (new network; default ${d.run.auditRate})`, float('--audit-rate', 0))
    .option('--train-share <x>', 'window calibration of a new network: the share of a window H inner steps may take (default 0.9 with overlap, 0.5 without)', float('--train-share', 0))
    .option('--overlap', 'train window W from the model of W − 1 while W − 1 is uploaded, gathered and applied (new network; the default)')
    .option('--no-overlap', 'train window W only once the aggregate of W − 1 is applied (new network)')
    .option('--tempo <n>', 'chain blocks per Yuma epoch (new chain; default: blocks per window)', int('--tempo', 1))
    .option('--windows <n>', 'stop after this many windows (default: run until Ctrl-C)', int('--windows', 1))
    .option('--pipeline-groups <n>', 'pipeline groups to run besides the miners: each is S stage nodes (g<k>-stage-<s>, each its own uid) that train one replica together over TCP (docs/hetero.md)', int('--pipeline-groups', 1))
    .option('--stages <n>', 'stages per pipeline group (default 2; at most the model\'s layers)', int('--stages', 2))
    .option('--stage-codec <kind>', 'activation compression between stages: subspace, int8 or dense (default subspace without overlap, int8 with it)')
    .option('--late-miner <window>', 'start one extra miner once the chain reaches this window', int('--late-miner', 0))
    .option('--s3 <url>', 'use this S3 server (admin keys create a user + read-only subuser per node on Ceph RGW)')
    .option('--s3-access-key <key>', 'S3 admin access key (or TESSERA_S3_ACCESS_KEY)')
    .option('--s3-secret-key <key>', 'S3 admin secret key (or TESSERA_S3_SECRET_KEY)')
    .option('--s3-region <region>', 'S3 region', 'us-east-1')
    .option('--ceph', 'start a private Ceph RGW under <dir>/ceph (needs ceph-mon, ceph-osd, radosgw), stopped on exit')
    .option('--data <dir>', 'a prepared dataset to use (default: <dir>/data, prepared from the bundled corpus once)')
    .option('--vocab-size <n>', 'BPE vocabulary when preparing <dir>/data', int('--vocab-size', 257), d.vocabSize)
    .option('--stake <x>', 'faucet stake of the validator', float('--stake', 1), d.validatorStake)
    .option('--plain', 'print a compact status line every few seconds instead of the full-screen view')
    .option('--dashboard-port <n>', `web dashboard port (a taken default falls back to a free one; 0: any free port)`, int('--dashboard-port', 0), DASHBOARD_DEFAULT_PORT)
    .option('--dashboard-host <host>', 'address the dashboard listens on', '127.0.0.1')
    .option('--no-dashboard', 'do not serve the web dashboard')
    .option('--no-metrics', 'do not serve Prometheus metrics from the nodes (default: each node on a free 127.0.0.1 port, its URL in status.json)')
    .option('--hosts', 'run every node (chain, storage, validators, miners) on its own network host: a Linux network namespace on a bridge (needs root and --ceph)')
    .option('--up <rate>', 'with --hosts: every miner\'s and validator\'s upload rate, as tc writes it (e.g. 110mbit)')
    .option('--down <rate>', 'with --hosts: every miner\'s and validator\'s download rate (e.g. 500mbit)')
    .option('--links <profile>', 'with --hosts: covenant = rates giving this model Covenant-72B\'s communication-to-compute ratio (72B on 110/500 Mb/s, ~20 min compute)')
    .option('--link <name=up/down>', 'with --hosts: one host\'s rates (chain, storage, validator, miner-N; - for unshaped), repeatable', collect)
    .action(async (f: DevnetFlags) => {
      const tty = Boolean(process.stdout.isTTY) && !f.plain;
      let viewing = false;
      if (f.chain !== 'devnet' && f.chain !== 'chopsticks') throw new TesseraError(`--chain ${f.chain} is not a chain kind`, 'use --chain devnet or --chain chopsticks');
      const opts: DevnetOptions = {
        chain: f.chain,
        dir: f.dir, miners: f.miners, validators: f.validators, adversaries: f.adversaries === undefined ? undefined : parseAdversaries(f.adversaries), blockMs: f.blockMs, tempo: f.tempo, windows: f.windows, lateMinerWindow: f.lateMiner,
        storage: storageOf(f), data: f.data, vocabSize: f.vocabSize, validatorStake: f.stake, hosts: hostsOf(f), trainShare: f.trainShare,
        run: { preset: f.preset, blocksPerWindow: f.blocksPerWindow, innerSteps: f.innerSteps, batch: f.batch, seq: f.seq, innerLr: f.innerLr,
          alpha: f.alpha, deadlineS: f.deadlineS, weightsEvery: f.weightsEvery, checkpointEvery: f.checkpointEvery, seed: f.seed, overlap: f.overlap, auditRate: f.auditRate },
        pipelineGroups: f.pipelineGroups, stages: f.stages, stageCodec: stageCodecOf(f.stageCodec),
        log: (line: string) => { if (!viewing) console.log(`[devnet] ${line}`); },
        ...(f.metrics ? { nodeEnv: { [METRICS_PORT_ENV]: '0' } } : {}),
      };
      const net = await Devnet.start(opts);
      const r = net.run;
      console.log(`[devnet] run ${r.runId}: ${net.record.preset} (dim ${r.model.dim}, ${r.model.nLayers} layers, vocab ${r.model.vocabSize}), ` +
        `${r.blocksPerWindow} blocks × ${net.record.blockMs} ms per window, H=${r.innerSteps}, batch ${r.batch}×${r.seq}, lr ${r.innerLr}, α ${r.alpha}, ${r.indexMode} indices`);
      const dash = f.dashboard ? await startDashboard({ devnet: net, host: f.dashboardHost, port: f.dashboardPort, fallback: true }).catch((e: Error) => {
        console.log(`[devnet] dashboard not started: ${e.message}`);
        return null;
      }) : null;
      if (dash) console.log(`[devnet] dashboard: ${dash.url}`);
      let forced = false;
      const onSignal = (sig: string): void => {
        if (forced) return;
        viewing = false;
        if (stopRequested) { forced = true; console.log(`[devnet] ${sig} again: killing everything now`); net.kill(); process.exit(130); }
        stopRequested = true;
        console.log(`[devnet] ${sig}: stopping the nodes, then the chain (Ctrl-C again to kill)`);
        void net.stop();
      };
      let stopRequested = false;
      process.on('SIGINT', () => onSignal('SIGINT'));
      process.on('SIGTERM', () => onSignal('SIGTERM'));
      process.on('SIGHUP', () => onSignal('SIGHUP')); // terminal closed: stop in order rather than die and orphan the nodes
      viewing = tty;
      if (tty) process.stdout.write('\x1b[2J');
      let lastLine = 0;
      let finished = false;
      const draw = async (): Promise<void> => {
        const s = await net.snapshot();
        if (finished) return; // the final frame is printed below
        // Home, each line then clear-to-end-of-line, then clear below: redraws in place without flicker.
        if (viewing) process.stdout.write(`\x1b[H${(renderFrame(s) + (dash ? `\ndashboard ${dash.url}` : '')).split('\n').map((l) => `${l}\x1b[K`).join('\n')}\n\x1b[J`);
        else if (Date.now() - lastLine >= 5000) { console.log(renderLine(s)); lastLine = Date.now(); }
      };
      const timer = setInterval(() => { if (!stopRequested) draw().catch(() => {}); }, 1000);
      await net.done;
      finished = true;
      clearInterval(timer);
      viewing = false;
      const s = await net.snapshot();
      console.log(tty ? renderFrame(s) : renderLine(s));
      const a = s.agreement;
      await dash?.close();
      console.log(`[devnet] ${a.windowsChecked} windows compared, fingerprints ${a.mismatches.length ? `DISAGREED at ${a.mismatches.join(', ')}` : 'agreed'}; state kept in ${net.root}`);
    });
}

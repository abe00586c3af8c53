// `tessera bench adversarial`: the Gauntlet scenario (3 honest miners + one miner per adversarial
// behaviour, one validator, in-process) and its honest-only twin; reports adversary_emission_share,
// windows_to_zero, loss_gap, fingerprint agreement and receipt verification (definitions in
// src/bench/adversarial.ts) and writes <out>/adversarial.md and adversarial.svg.
import { Command } from 'commander';
import { ADVERSARIES, adversarialSummary, benchAdversarial, COMBINED, parseAdversaryList, SCENARIO_WINDOWS } from '../bench/adversarial.js';
import { int } from './options.js';

export function benchAdversarialCommand(): Command {
  return new Command('adversarial')
    .description('3 honest miners + one miner per adversarial behaviour vs the Gauntlet, and an honest-only twin: adversaries\' emission share, windows to weight 0, loss gap')
    .option('--windows <n>', 'windows each run lasts', int('--windows', 4), SCENARIO_WINDOWS)
    .option('--out <dir>', 'where adversarial.md and adversarial.svg are written', 'bench')
    .option('--dir <dir>', 'keep the scenario folders (chain, buckets, node logs) here (default: a temporary folder, removed afterwards)')
    .option('--adversaries <list>', `comma-separated behaviours that run, each with an optional *count (a group of uids: mediangroup*4, half*2); default every behaviour once plus the groups (${COMBINED.length} miners); one name is a solo run; none: honest miners only. Behaviours: ${ADVERSARIES.join(', ')}`)
    .option('--honest <n>', 'honest miners', int('--honest', 1), 3)
    .option('--json', 'print one JSON object')
    .action(async (o: { windows: number; out: string; dir?: string; json?: boolean; adversaries?: string; honest: number }) => {
      const adversaries = o.adversaries === 'none' ? [] : o.adversaries === undefined ? undefined : parseAdversaryList(o.adversaries);
      const { report } = await benchAdversarial({ windows: o.windows, out: o.out, dir: o.dir, adversaries, honest: o.honest, log: o.json ? undefined : (l) => console.log(`[bench] ${l}`) });
      if (o.json) return console.log(JSON.stringify(report));
      console.log(adversarialSummary(report));
      console.log(`written: ${o.out}/adversarial.md, adversarial.svg`);
    });
}

// The tessera command line: the only place that reads argv and the environment. Each subcommand
// resolves its options once, prints them, and calls into the library; TesseraErrors become one
// clear message plus a hint and exit code 1.
import { Command } from 'commander';
import { runProgram } from './run.js';
import { dataCommand } from './data.js';
import { modelCommand } from './model.js';
import { trainCommand, startCommand } from './train.js';
import { generateCommand } from './generate.js';
import { benchCommand } from './bench.js';
import { walletCommand } from './wallet.js';
import { chainCommand } from './chain.js';
import { minerCommand, validatorCommand } from './node.js';
import { devnetCommand } from './devnet.js';
import { benchNetworkCommand } from './bench-network.js';
import { benchAdversarialCommand } from './bench-adversarial.js';
import { benchHeteroCommand } from './bench-hetero.js';
import { scoreCommand } from './score.js';
import { dashboardCommand } from './dashboard.js';
import { evalCommand, exportCommand, importCommand } from './eval.js';

const program = new Command('tessera')
  .description('tessera: pre-train LLaMA-style models across machines that do not trust each other')
  .showHelpAfterError('(run with --help for usage)');
program.addCommand(startCommand().description('single-node training: prepare the bundled corpus if needed, then train on it with live progress (npm start runs `tessera devnet`)'));
program.addCommand(dataCommand());
program.addCommand(modelCommand());
program.addCommand(trainCommand());
program.addCommand(generateCommand());
program.addCommand(benchCommand().addCommand(benchNetworkCommand()).addCommand(benchAdversarialCommand()).addCommand(benchHeteroCommand()));
program.addCommand(walletCommand());
program.addCommand(chainCommand());
program.addCommand(minerCommand());
program.addCommand(validatorCommand());
program.addCommand(devnetCommand());
program.addCommand(scoreCommand());
program.addCommand(dashboardCommand());
program.addCommand(evalCommand());
program.addCommand(exportCommand());
program.addCommand(importCommand());

await runProgram(program);

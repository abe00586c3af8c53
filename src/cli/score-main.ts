// `tessera score ...` on its own (bin/tessera.js routes here): a person waits at the prompt for the
// answer, so only this command's modules load — not the training, devnet and benchmark code the full
// command line (main.ts) imports. Same command, same help.
import { Command } from 'commander';
import { runProgram } from './run.js';
import { scoreCommand } from './score.js';

await runProgram(new Command('tessera').showHelpAfterError('(run with --help for usage)').addCommand(scoreCommand()));

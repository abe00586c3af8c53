// Runs a commander program: a TesseraError becomes one clear message plus a hint and exit code 1.
import type { Command } from 'commander';
import { TesseraError } from '../util/errors.js';

export async function runProgram(p: Command): Promise<void> {
  try {
    await p.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof TesseraError) {
      console.error(`error: ${e.message}`);
      if (e.hint) console.error(`  what to do: ${e.hint}`);
      process.exit(1);
    }
    throw e;
  }
}

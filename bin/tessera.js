#!/usr/bin/env node
// tessera command-line entry: runs the compiled CLI (npm install builds it into dist/).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
const root = dirname(dirname(fileURLToPath(import.meta.url)));
// `tessera score ...` loads only its own modules (src/cli/score-main.ts): it answers in seconds.
const main = join(root, 'dist', 'src', 'cli', process.argv[2] === 'score' ? 'score-main.js' : 'main.js');
if (!existsSync(main)) {
  console.error(`tessera: ${main} is missing — the TypeScript build has not run. Run "npm install" (or "npm run build") in ${root}.`);
  process.exit(1);
}
await import(pathToFileURL(main).href);

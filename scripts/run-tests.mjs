// Runs every compiled test file (dist/**/*.test.js) with node's built-in test runner.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
function find(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) find(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}
const filter = process.argv.slice(2);
const files = ['dist/src', 'dist/test'].flatMap((d) => { try { return find(d); } catch { return []; } })
  .filter((f) => filter.length === 0 || filter.some((s) => f.includes(s))).sort();
if (files.length === 0) { console.error('no test files found under dist/ — did the build run?'); process.exit(1); }
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);

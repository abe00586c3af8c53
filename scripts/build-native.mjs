// Builds the C++ kernels (native/) with node-gyp at `npm install`. A failed build is not fatal:
// tessera then runs on its TypeScript reference backend and says so once at start.
import { spawnSync } from 'node:child_process';
const r = spawnSync('node-gyp', ['rebuild'], { stdio: 'inherit', shell: process.platform === 'win32' });
if (r.status !== 0) {
  console.warn('\n[tessera] native kernels did not build (see above); tessera will run on the slower TypeScript backend.');
  console.warn('[tessera] to retry: install g++ and make, then run "npm run build:native".\n');
}

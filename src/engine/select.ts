// Chooses the backend once per process: native when the addon loaded, else reference (said once).
import type { Backend } from './backend.js';
import { referenceBackend } from './reference/index.js';
import { nativeBackend, nativeLoadError } from './native.js';

let chosen: Backend | null = null;

/** TESSERA_BACKEND=reference forces the TypeScript backend. */
export function getBackend(): Backend {
  if (chosen) return chosen;
  const want = process.env.TESSERA_BACKEND;
  if (want === 'reference') chosen = referenceBackend;
  else {
    chosen = nativeBackend();
    if (!chosen) {
      if (want === 'native') throw new Error(`TESSERA_BACKEND=native but the native addon is unavailable: ${nativeLoadError}`);
      process.stderr.write(`[tessera] native kernels unavailable (${nativeLoadError}); using the TypeScript reference backend (much slower).\n`);
      chosen = referenceBackend;
    }
  }
  return chosen;
}

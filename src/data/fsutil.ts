// Small filesystem helpers for the data layer: atomic writes (temp file + rename), so a crash
// never leaves a half-written shard or manifest under its final name.
import { renameSync, rmSync, writeFileSync } from 'node:fs';

export function atomicWrite(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

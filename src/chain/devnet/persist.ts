// Devnet state on disk: one JSON file replaced atomically (write temp, fsync, rename) so a killed
// server restarts from the last sealed block or acknowledged write, never from a torn file.
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { TesseraError } from '../../util/errors.js';
import { STATE_FORMAT, STATE_VERSION, type DevnetState } from './state.js';

export const STATE_FILE = 'chain-state.json';

export async function loadState(dir: string): Promise<DevnetState | null> {
  const file = join(dir, STATE_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new TesseraError(`cannot read devnet state ${file}: ${(e as Error).message}`, 'check the permissions of the chain directory');
  }
  let s: DevnetState;
  try {
    s = JSON.parse(text) as DevnetState;
  } catch (e) {
    throw new TesseraError(`devnet state ${file} is not valid JSON (${(e as Error).message})`, `move ${file} away to start a fresh chain`);
  }
  if (s?.format !== STATE_FORMAT || s.version !== STATE_VERSION) {
    throw new TesseraError(`${file} is not a tessera devnet state of version ${STATE_VERSION} (format ${String(s?.format)}, version ${String(s?.version)})`,
      'point --dir at a devnet chain directory, or at an empty one for a fresh chain');
  }
  return s;
}

/** Writes snapshots in order; while one write runs, newer snapshots coalesce into the next write. */
export class StateWriter {
  private latest: string | null = null;
  private running: Promise<void> | null = null;
  private seq = 0;
  constructor(private readonly dir: string) {}

  /** Resolves once `state` (or a newer snapshot) is durably on disk. */
  save(state: DevnetState): Promise<void> {
    this.latest = JSON.stringify(state);
    if (!this.running) this.running = this.drain();
    return this.running;
  }

  private async drain(): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true });
      while (this.latest !== null) {
        const text = this.latest;
        this.latest = null;
        await this.writeAtomic(text);
      }
    } finally {
      this.running = null;
    }
  }

  private async writeAtomic(text: string): Promise<void> {
    const file = join(this.dir, STATE_FILE);
    const tmp = `${file}.tmp-${process.pid}-${this.seq++}`;
    try {
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(text);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, file);
    } catch (e) {
      throw new TesseraError(`cannot write devnet state ${file}: ${(e as Error).message}`, 'check free disk space and permissions of the chain directory');
    }
  }
}

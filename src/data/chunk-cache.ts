// The bounded local cache of verified dataset chunks: one file per chunk under the cache folder, kept
// across restarts, evicted least-recently-used once the total passes maxBytes. Nothing is trusted on
// the way back in: a read is re-hashed against the expected sha256 and a mismatch deletes the file.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { atomicWrite } from './fsutil.js';

const NAME = /^[A-Za-z0-9._-]{1,200}$/;

export interface CacheStats {
  hits: number;
  misses: number;
  /** Entries dropped because their bytes no longer matched. */
  corrupt: number;
  evicted: number;
  bytes: number;
  entries: number;
}

export class ChunkCache {
  private readonly entries = new Map<string, { size: number; used: number }>();
  private total = 0;
  private clock = 0;
  readonly stats: CacheStats = { hits: 0, misses: 0, corrupt: 0, evicted: 0, bytes: 0, entries: 0 };

  constructor(readonly dir: string, readonly maxBytes: number) {
    if (!(Number.isSafeInteger(maxBytes) && maxBytes >= 0)) throw new RangeError(`cache maxBytes must be an integer ≥ 0, got ${maxBytes}`);
    mkdirSync(dir, { recursive: true });
    // What a previous run left, oldest first (mtime is the last use); leftovers of interrupted writes go.
    const found: { name: string; size: number; used: number }[] = [];
    for (const name of readdirSync(dir)) {
      if (name.includes('.tmp-')) { rmSync(join(dir, name), { force: true }); continue; }
      if (!NAME.test(name)) continue;
      const st = statSync(join(dir, name));
      if (st.isFile()) found.push({ name, size: st.size, used: st.mtimeMs });
    }
    found.sort((a, b) => a.used - b.used);
    for (const f of found) this.add(f.name, f.size);
    this.evict();
  }

  has(name: string): boolean { return this.entries.has(name); }

  /** The cached bytes of `name` when they hash to `sha256` (raw 32 bytes), else null (a mismatch removes the entry). */
  get(name: string, sha256: Uint8Array): Uint8Array | null {
    const e = this.entries.get(name);
    if (!e) { this.stats.misses++; return null; }
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(join(this.dir, name));
    } catch {
      this.drop(name);
      this.stats.misses++;
      return null;
    }
    if (!createHash('sha256').update(bytes).digest().equals(sha256)) {
      this.drop(name);
      this.stats.corrupt++;
      this.stats.misses++;
      return null;
    }
    e.used = ++this.clock;
    try { const now = new Date(); utimesSync(join(this.dir, name), now, now); } catch { /* only the eviction order of the next run */ }
    this.stats.hits++;
    return bytes;
  }

  /** Stores verified bytes; evicts the least recently used entries beyond maxBytes. */
  put(name: string, bytes: Uint8Array): void {
    if (!NAME.test(name)) throw new RangeError(`cache entry name ${JSON.stringify(name)} is not allowed`);
    if (bytes.length > this.maxBytes) return;
    if (this.entries.has(name)) this.drop(name);
    atomicWrite(join(this.dir, name), bytes);
    this.add(name, bytes.length);
    this.evict(name);
  }

  private add(name: string, size: number): void {
    this.entries.set(name, { size, used: ++this.clock });
    this.total += size;
    this.sync();
  }

  private drop(name: string): void {
    const e = this.entries.get(name);
    if (!e) return;
    this.entries.delete(name);
    this.total -= e.size;
    rmSync(join(this.dir, name), { force: true });
    this.sync();
  }

  private evict(keep?: string): void {
    if (this.total <= this.maxBytes) return;
    const order = [...this.entries.entries()].sort((a, b) => a[1].used - b[1].used);
    for (const [name] of order) {
      if (this.total <= this.maxBytes) break;
      if (name === keep) continue;
      this.drop(name);
      this.stats.evicted++;
    }
  }

  private sync(): void {
    this.stats.bytes = this.total;
    this.stats.entries = this.entries.size;
  }
}

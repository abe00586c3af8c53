// Devnet state on disk: a snapshot (chain-state.json, replaced atomically: write temp, fsync, rename)
// plus an append-only journal (chain-journal.jsonl) of what happened since: one line per applied call
// and per sealed block. A write is acknowledged once its journal line is fsynced (lines waiting
// together share one fsync), so a call costs a short append instead of a copy and fsync of the whole
// state; the snapshot is rewritten only every SNAPSHOT_EVERY_MS / SNAPSHOT_EVERY_ENTRIES /
// SNAPSHOT_EVERY_BYTES and on close, after which the journal starts empty. Loading reads the snapshot,
// checks every field (check-state.ts) and replays the journal through the same state machine.
import { mkdir, open, readFile, rename, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { TesseraError } from '../../util/errors.js';
import type { UnsignedCall } from './call.js';
import { checkState, StateFieldError } from './check-state.js';
import { applyCall, produceBlock, STATE_FORMAT, STATE_VERSION, type DevnetState } from './state.js';

export const STATE_FILE = 'chain-state.json';
export const JOURNAL_FILE = 'chain-journal.jsonl';
/** A new snapshot once the journal holds this many entries, this many bytes, or is this old. */
export const SNAPSHOT_EVERY_ENTRIES = 2000;
export const SNAPSHOT_EVERY_BYTES = 16 << 20;
export const SNAPSHOT_EVERY_MS = 60_000;

/** One journal line: a call applied at height `h` (it lands in block h + 1), or block `h` sealed at `ts`. */
export type JournalEntry =
  | { seq: number; h: number; call: UnsignedCall }
  | { seq: number; h: number; ts: number; /** the block's entropy (state.ts sealHash); absent in journals written before block hashes */ r?: string };

/** The snapshot file: the state plus the journal sequence number it includes. */
type Snapshot = DevnetState & { journalSeq?: number };

const BAD_STATE_HINT = 'a chain before the stake and number bounds (docs/security.md) or a hand edit wrote it: correct that field (e.g. a stake to 0) or move the chain directory away to start a fresh chain';

async function readText(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new TesseraError(`cannot read devnet state ${file}: ${(e as Error).message}`, 'check the permissions of the chain directory');
  }
}

/** Reads the snapshot and the journal entries after it; `seq` is the last entry's sequence number. */
async function readOnce(dir: string): Promise<{ state: DevnetState; seq: number; entries: JournalEntry[]; gap: boolean } | null> {
  const file = join(dir, STATE_FILE);
  const text = await readText(file);
  if (text === null) return null;
  let raw: Snapshot;
  try {
    raw = JSON.parse(text) as Snapshot;
  } catch (e) {
    throw new TesseraError(`devnet state ${file} is not valid JSON (${(e as Error).message})`, `move ${file} away to start a fresh chain`);
  }
  if (raw?.format !== STATE_FORMAT || raw.version !== STATE_VERSION) {
    throw new TesseraError(`${file} is not a tessera devnet state of version ${STATE_VERSION} (format ${String(raw?.format)}, version ${String(raw?.version)})`,
      'point --dir at a devnet chain directory, or at an empty one for a fresh chain');
  }
  const snapSeq = Number.isSafeInteger(raw.journalSeq) ? raw.journalSeq! : 0;
  delete raw.journalSeq;
  let state: DevnetState;
  try {
    state = checkState(raw);
  } catch (e) {
    if (!(e instanceof StateFieldError)) throw e;
    throw new TesseraError(`devnet state ${file}: ${e.message}; the chain refuses to start on it`, BAD_STATE_HINT);
  }
  const jfile = join(dir, JOURNAL_FILE);
  const lines = ((await readText(jfile)) ?? '').split('\n');
  const entries: JournalEntry[] = [];
  let seq = snapSeq, gap = false;
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] === '') continue;
    let e: JournalEntry;
    try {
      e = JSON.parse(lines[i]) as JournalEntry;
    } catch {
      if (i === lines.length - 1) break; // a torn last line: written, never acknowledged
      throw new TesseraError(`devnet journal ${jfile} line ${i + 1} is not valid JSON`, `move ${jfile} away to resume from the snapshot (writes after it are lost)`);
    }
    if (typeof e?.seq !== 'number' || e.seq <= snapSeq) continue; // already in the snapshot
    if (e.seq !== seq + 1) { gap = true; break; }
    seq = e.seq;
    entries.push(e);
  }
  return { state, seq, entries, gap };
}

/** Snapshot + journal → the newest durable state and its journal sequence number; null when dir holds no chain. */
export async function loadChain(dir: string): Promise<{ state: DevnetState; seq: number } | null> {
  // A reader racing the server's snapshot rotation can see the new journal with an old snapshot: read again.
  for (let attempt = 0; ; attempt++) {
    const read = await readOnce(dir);
    if (read === null) return null;
    if (read.gap && attempt < 5) { await new Promise((r) => setTimeout(r, 50)); continue; }
    if (read.gap) throw new TesseraError(`devnet journal ${join(dir, JOURNAL_FILE)} skips entries after ${read.seq}`, 'move the journal away to resume from the snapshot');
    let state = read.state;
    for (const e of read.entries) {
      try {
        if ('call' in e) {
          if (e.h !== state.height) throw new Error(`call at height ${e.h}, state at ${state.height}`);
          state = applyCall(state, e.call).state;
        } else {
          if (e.h !== state.height + 1 || typeof e.ts !== 'number') throw new Error(`block ${e.h} after height ${state.height}`);
          state = produceBlock(state, e.ts, undefined, typeof e.r === 'string' ? e.r : '');
        }
      } catch (err) {
        throw new TesseraError(`devnet journal ${join(dir, JOURNAL_FILE)} entry ${e.seq} does not replay: ${(err as Error).message}`,
          'move the journal away to resume from the snapshot (writes after it are lost)');
      }
    }
    return { state, seq: read.seq };
  }
}

/** The newest durable state in `dir` (snapshot + journal), checked field by field; null when there is none. */
export async function loadState(dir: string): Promise<DevnetState | null> {
  return (await loadChain(dir))?.state ?? null;
}

async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
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

interface Pending { seq: number; line: string; state: DevnetState; done: () => void; failed: (e: Error) => void }

/**
 * Appends journal entries in order with group commit (one write + fsync for all entries waiting) and
 * rotates to a new snapshot now and then. `onDurable` hears each newest durable state. After a failed
 * append the next batch is written as a whole snapshot instead (the journal may hold a torn line).
 */
export class ChainStore {
  private queue: Pending[] = [];
  private running: Promise<void> | null = null;
  private entries = 0;
  private bytes = 0;
  private snapshotAt = Date.now();
  private needSnapshot = false;
  /** Journal entries, fsyncs and snapshots so far (for tests and logs). */
  readonly stats = { appends: 0, syncs: 0, snapshots: 0 };

  private constructor(private readonly dir: string, private readonly fh: FileHandle, private seq: number,
    private durable: DevnetState, private durableSeq: number, private readonly onDurable: (s: DevnetState) => void) {}

  /** Opens the journal of `dir` and writes `state` (the loaded chain, or genesis) as the first snapshot. */
  static async open(dir: string, state: DevnetState, seq: number, onDurable: (s: DevnetState) => void = () => {}): Promise<ChainStore> {
    await mkdir(dir, { recursive: true });
    const store = new ChainStore(dir, await open(join(dir, JOURNAL_FILE), 'a', 0o600), seq, state, seq, onDurable);
    await store.snapshot(state, seq);
    return store;
  }

  appendCall(h: number, call: UnsignedCall, state: DevnetState): Promise<void> {
    return this.push((seq) => ({ seq, h, call: { method: call.method, params: call.params, hotkey: call.hotkey, nonce: call.nonce } }), state);
  }

  appendBlock(state: DevnetState, entropy: string): Promise<void> {
    return this.push((seq) => ({ seq, h: state.height, ts: state.timestamp, r: entropy }), state);
  }

  /** Waits for every entry appended so far, writes a final snapshot and closes the file. */
  async close(): Promise<void> {
    await this.flush();
    await this.snapshot(this.durable, this.durableSeq);
    await this.fh.close();
  }

  async flush(): Promise<void> {
    while (this.running) await this.running;
  }

  private push(entry: (seq: number) => JournalEntry, state: DevnetState): Promise<void> {
    const seq = ++this.seq;
    const line = JSON.stringify(entry(seq)) + '\n';
    const p = new Promise<void>((done, failed) => this.queue.push({ seq, line, state, done, failed }));
    this.running ??= this.drain();
    return p;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        const last = batch[batch.length - 1];
        try {
          if (this.needSnapshot) {
            await this.snapshot(last.state, last.seq);
            this.needSnapshot = false;
          } else {
            const text = batch.map((b) => b.line).join('');
            await this.fh.write(text);
            await this.fh.datasync();
            this.stats.appends += batch.length; this.stats.syncs++;
            this.entries += batch.length; this.bytes += Buffer.byteLength(text);
          }
        } catch (e) {
          this.needSnapshot = true;
          const err = new TesseraError(`cannot write the devnet journal in ${this.dir}: ${(e as Error).message}`, 'check free disk space and permissions of the chain directory');
          batch.forEach((b) => b.failed(err));
          continue;
        }
        this.durable = last.state; this.durableSeq = last.seq;
        this.onDurable(last.state);
        batch.forEach((b) => b.done());
        if (this.entries >= SNAPSHOT_EVERY_ENTRIES || this.bytes >= SNAPSHOT_EVERY_BYTES || Date.now() - this.snapshotAt >= SNAPSHOT_EVERY_MS) {
          await this.snapshot(this.durable, this.durableSeq).catch(() => { this.needSnapshot = true; });
        }
      }
    } finally {
      this.running = null;
    }
  }

  /** Writes `state` (which includes every journal entry up to `seq`, and no later one is in the file) as the snapshot; empties the journal. */
  private async snapshot(state: DevnetState, seq: number): Promise<void> {
    const snap: Snapshot = { ...state, journalSeq: seq };
    await writeAtomic(join(this.dir, STATE_FILE), JSON.stringify(snap));
    await this.fh.truncate(0);
    this.stats.snapshots++;
    this.entries = 0; this.bytes = 0; this.snapshotAt = Date.now();
  }
}

// Filesystem object store: a folder is a bucket and a key is a relative path inside it. Writes go to
// a temp file under <bucket>/.tessera-tmp and are renamed into place (atomic); ifNoneMatch uses
// link(2), which fails if the target exists, so "create only if absent" is atomic too.
// Reads treat the folder as untrusted (a peer's fs bucket on a devnet, docs/storage.md "Limits"): a file
// is opened with O_NOFOLLOW | O_NONBLOCK (a symlink as the object is never followed, a FIFO never
// blocks), fstat must say "regular file", and the opened file's real path (/proc/self/fd) must lie
// inside the bucket's real root (no symlinked folder leads out of it); anything else reads as missing.
import { randomBytes } from 'node:crypto';
import { constants as fsc, promises as fsp } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { checkKey, checkPrefix, checkRange, compareKeys, RESERVED_SEGMENT } from './keys.js';
import { getCap, limitsOf, listCap, tooLarge, type Limits } from './limits.js';
import type { FsDescriptor, ListOptions, ObjectInfo, ObjectStore, PutOptions, ReadOptions } from './types.js';
import { readOnlyError, StorageError } from './types.js';

const CHUNK = 8 << 20;
/** Read-only, never following a symlink as the last path component, never blocking (FIFOs), never a controlling tty. */
const READ_FLAGS = fsc.O_RDONLY | (fsc.O_NOFOLLOW ?? 0) | (fsc.O_NONBLOCK ?? 0) | (fsc.O_NOCTTY ?? 0);

export interface FsStoreOptions {
  readOnly?: boolean;
  /** fsync each file before renaming it into place (default true). */
  durable?: boolean;
  /** get() without maxBytes refuses files over this ('too-large'); default 1 GiB. */
  maxObjectBytes?: number;
  /** list() without maxKeys/maxBytes refuses more keys than this ('too-large'); default 1 000 000. */
  maxListKeys?: number;
}

/** The write descriptor a node keeps and the read-only one it publishes, for a bucket folder. */
export function fsNodeDescriptors(path: string): { write: FsDescriptor; read: FsDescriptor } {
  const abs = resolve(path);
  return { write: { kind: 'fs', path: abs }, read: { kind: 'fs', path: abs, readOnly: true } };
}

export class FsStore implements ObjectStore {
  readonly root: string;
  private readonly readOnly: boolean;
  private readonly durable: boolean;
  private readonly limits: Limits;
  private realRoot: string | undefined;

  constructor(root: string, opts: FsStoreOptions = {}) {
    this.root = resolve(root);
    this.readOnly = opts.readOnly ?? false;
    this.durable = opts.durable ?? true;
    this.limits = limitsOf({
      ...(opts.maxObjectBytes !== undefined ? { maxObjectBytes: opts.maxObjectBytes } : {}),
      ...(opts.maxListKeys !== undefined ? { maxListKeys: opts.maxListKeys } : {}),
    });
  }

  async get(key: string, opts: ReadOptions = {}): Promise<Uint8Array | null> {
    const cap = getCap(opts, this.limits);
    const o = await this.openObject(key, opts);
    if (!o) return null;
    const { fh } = o;
    try {
      const size = Number(o.st.size);
      if (size > cap) throw tooLarge(`get ${key} in ${this.root} (${size} bytes)`, cap);
      const out = new Uint8Array(size);
      const done = await this.readInto(fh, out, 0, key, opts);
      if (done < size) return out.slice(0, done); // shrank while reading (not written by this store's atomic put)
      // Grown since fstat? Read on in chunks, still never past cap + 1 bytes.
      const more: Uint8Array[] = [];
      let total = size;
      for (;;) {
        const piece = new Uint8Array(Math.min(CHUNK, cap + 1 - total) || 1);
        const n = await this.readInto(fh, piece, total, key, opts);
        if (n === 0) break;
        more.push(piece.subarray(0, n));
        total += n;
        if (total > cap) throw tooLarge(`get ${key} in ${this.root}`, cap);
      }
      return more.length ? new Uint8Array(Buffer.concat([out, ...more])) : out;
    } catch (e) {
      throw e instanceof StorageError ? e : this.wrap(e, 'get', key);
    } finally {
      await fh.close();
    }
  }

  async getRange(key: string, start: number, endExclusive: number, opts: ReadOptions = {}): Promise<Uint8Array | null> {
    checkRange(start, endExclusive);
    const o = await this.openObject(key, opts);
    if (!o) return null;
    const { fh } = o;
    try {
      const end = Math.min(endExclusive, Number(o.st.size));
      if (start >= end) return new Uint8Array(0);
      const out = new Uint8Array(end - start);
      const done = await this.readInto(fh, out, start, key, opts);
      return done === out.length ? out : out.subarray(0, done);
    } catch (e) {
      throw e instanceof StorageError ? e : this.wrap(e, 'getRange', key);
    } finally {
      await fh.close();
    }
  }

  async head(key: string, opts: ReadOptions = {}): Promise<ObjectInfo | null> {
    const o = await this.openObject(key, opts);
    if (!o) return null;
    await o.fh.close();
    const st = o.st;
    return { size: Number(st.size), etag: `${st.ino.toString(16)}-${st.size.toString(16)}-${st.mtimeNs.toString(16)}` };
  }

  async list(prefix = '', opts: ListOptions = {}): Promise<string[]> {
    checkPrefix(prefix);
    const cap = listCap(opts, this.limits);
    aborted(opts, `list ${prefix} in ${this.root}`);
    await this.requireBucket();
    const cut = prefix.lastIndexOf('/');
    const base = cut < 0 ? '' : prefix.slice(0, cut);
    if (base.split('/')[0] === RESERVED_SEGMENT) return [];
    const out: string[] = [];
    await this.walk(base, prefix, out, cap, opts);
    return out.sort(compareKeys);
  }

  async put(key: string, bytes: Uint8Array, opts: PutOptions = {}): Promise<void> {
    const target = this.writablePath(key);
    await this.requireBucket();
    const tmp = await this.writeTemp(bytes);
    try {
      await this.commit(tmp, target, key, opts.ifNoneMatch ?? false);
    } finally {
      await fsp.rm(tmp, { force: true });
    }
  }

  /** Same as put: the file is written in 8 MiB chunks either way. */
  putLarge(key: string, bytes: Uint8Array): Promise<void> {
    return this.put(key, bytes);
  }

  async delete(key: string): Promise<void> {
    const target = this.writablePath(key);
    try {
      await fsp.unlink(target);
    } catch (e) {
      if (isCode(e, 'ENOENT') || isCode(e, 'ENOTDIR')) return void (await this.requireBucket());
      if (isCode(e, 'EISDIR') || isCode(e, 'EPERM')) {
        const st = await fsp.stat(target).catch(() => null);
        if (st?.isDirectory()) return; // 'a' is only a folder of other keys ('a/b'): no object 'a'
      }
      throw this.wrap(e, 'delete', key);
    }
    await this.pruneEmptyParents(dirname(target));
  }

  async ensureBucket(): Promise<void> {
    if (this.readOnly) throw readOnlyError(`bucket folder ${this.root}`);
    await fsp.mkdir(this.root, { recursive: true });
  }

  close(): void {}

  // --- internals ---

  private path(key: string): string {
    checkKey(key);
    return join(this.root, ...key.split('/'));
  }

  private writablePath(key: string): string {
    const p = this.path(key);
    if (this.readOnly) throw readOnlyError(`bucket folder ${this.root}`);
    return p;
  }

  private async requireBucket(): Promise<void> {
    const st = await fsp.stat(this.root).catch(() => null);
    if (!st?.isDirectory()) {
      throw new StorageError('no-bucket', `bucket folder ${this.root} does not exist`,
        'the owning node creates it (ensureBucket) before publishing; check the descriptor path');
    }
  }

  /**
   * The regular file behind a key, opened without following a final symlink and without blocking, and
   * only when its real path lies inside the bucket; null for anything else (missing, a symlink, a FIFO,
   * a socket, a device, a folder, or a file outside the bucket reached through a symlinked folder).
   */
  private async openObject(key: string, opts: ReadOptions): Promise<{ fh: fsp.FileHandle; st: import('node:fs').BigIntStats } | null> {
    const p = this.path(key);
    aborted(opts, `read ${key} in ${this.root}`);
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(p, READ_FLAGS);
    } catch (e) {
      return this.missing(e, key);
    }
    try {
      const st = await fh.stat({ bigint: true });
      if (!st.isFile() || !(await this.opensInside(fh, p))) {
        await fh.close();
        return null;
      }
      return { fh, st };
    } catch (e) {
      await fh.close();
      throw this.wrap(e, 'read', key);
    }
  }

  /** Whether the opened file really lies inside the bucket (Linux: /proc/self/fd; elsewhere: realpath). */
  private async opensInside(fh: fsp.FileHandle, p: string): Promise<boolean> {
    this.realRoot ??= await fsp.realpath(this.root);
    const root = this.realRoot.endsWith(sep) ? this.realRoot : this.realRoot + sep;
    const real = await fsp.readlink(`/proc/self/fd/${fh.fd}`).catch(() => fsp.realpath(p).catch(() => ''));
    return real.startsWith(root);
  }

  private async readInto(fh: fsp.FileHandle, out: Uint8Array, position: number, key: string, opts: ReadOptions): Promise<number> {
    let done = 0;
    while (done < out.length) {
      aborted(opts, `read ${key} in ${this.root}`);
      const { bytesRead } = await fh.read(out, done, Math.min(CHUNK, out.length - done), position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done;
  }

  /** ENOENT/EISDIR/ENOTDIR on a read mean "no such key" unless the bucket itself is missing; ELOOP (a symlink) and ENXIO (a socket) too. */
  private async missing(e: unknown, key: string): Promise<null> {
    if (['ENOENT', 'ENOTDIR', 'EISDIR', 'ELOOP', 'ENXIO'].some((c) => isCode(e, c))) {
      await this.requireBucket();
      return null;
    }
    throw this.wrap(e, 'read', key);
  }

  private async writeTemp(bytes: Uint8Array): Promise<string> {
    const dir = join(this.root, RESERVED_SEGMENT);
    await fsp.mkdir(dir, { recursive: true });
    const tmp = join(dir, `${process.pid}-${randomBytes(8).toString('hex')}`);
    const fh = await fsp.open(tmp, 'wx');
    try {
      for (let off = 0; off < bytes.length; off += CHUNK) {
        const piece = bytes.subarray(off, Math.min(bytes.length, off + CHUNK));
        let done = 0;
        while (done < piece.length) done += (await fh.write(piece, done, piece.length - done)).bytesWritten;
      }
      if (this.durable) await fh.sync();
    } catch (e) {
      await fh.close();
      await fsp.rm(tmp, { force: true });
      throw this.wrap(e, 'write', tmp);
    }
    await fh.close();
    return tmp;
  }

  /** rename (replace) or link (create-only) tmp → target; retries if a concurrent delete pruned the folder. */
  private async commit(tmp: string, target: string, key: string, createOnly: boolean): Promise<void> {
    for (let tries = 0; ; tries++) {
      try {
        await fsp.mkdir(dirname(target), { recursive: true });
        if (createOnly) await fsp.link(tmp, target);
        else await fsp.rename(tmp, target);
        return;
      } catch (e) {
        if (isCode(e, 'ENOENT') && tries < 5) continue;
        if (isCode(e, 'EEXIST') && createOnly) {
          const st = await fsp.stat(target).catch(() => null);
          if (st?.isFile()) {
            throw new StorageError('exists', `object ${key} already exists in ${this.root} (ifNoneMatch)`,
              'immutable keys are written once; use a new key or drop ifNoneMatch to overwrite');
          }
        }
        if (isCode(e, 'EISDIR') || isCode(e, 'ENOTDIR') || isCode(e, 'EEXIST') || isCode(e, 'ENOTEMPTY')) {
          throw new StorageError('conflict', `key ${key} collides with another key in ${this.root}`,
            "the filesystem store cannot hold both 'a' and 'a/b'; choose keys where no key is a folder of another");
        }
        throw this.wrap(e, 'write', key);
      }
    }
  }

  private async pruneEmptyParents(dir: string): Promise<void> {
    while (dir.startsWith(this.root + sep) && dir !== this.root) {
      try {
        await fsp.rmdir(dir);
      } catch {
        return; // not empty (or already gone): stop
      }
      dir = dirname(dir);
    }
  }

  private async walk(rel: string, prefix: string, out: string[], cap: number, opts: ReadOptions): Promise<void> {
    aborted(opts, `list ${prefix} in ${this.root}`);
    let entries;
    try {
      const dir = rel ? join(this.root, ...rel.split('/')) : this.root;
      if (rel) {
        // Dirent types never descend into a symlinked folder, but the prefix's own folder is joined
        // directly: it must really be inside the bucket.
        this.realRoot ??= await fsp.realpath(this.root);
        const real = await fsp.realpath(dir);
        if (!real.startsWith(this.realRoot.endsWith(sep) ? this.realRoot : this.realRoot + sep)) return;
      }
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch (e) {
      if (isCode(e, 'ENOENT') || isCode(e, 'ENOTDIR')) return;
      throw this.wrap(e, 'list', rel);
    }
    for (const ent of entries) {
      const key = rel ? `${rel}/${ent.name}` : ent.name;
      if (!rel && ent.name === RESERVED_SEGMENT) continue;
      if (ent.isDirectory()) {
        // descend only where keys below could still match the prefix
        if (prefix.startsWith(key + '/') || (key + '/').startsWith(prefix)) await this.walk(key, prefix, out, cap, opts);
      } else if (ent.isFile() && key.startsWith(prefix)) {
        out.push(key);
        if (out.length > cap) throw tooLarge(`list ${prefix} in ${this.root}`, cap, 'keys');
      }
    }
  }

  private wrap(e: unknown, op: string, key: string): StorageError {
    const code = (e as NodeJS.ErrnoException)?.code ?? '';
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      return new StorageError('denied', `${op} ${key} in ${this.root}: permission denied (${code})`,
        'check the folder owner and permissions', e);
    }
    if (code === 'ENOSPC' || code === 'EMFILE' || code === 'ENFILE' || code === 'EBUSY' || code === 'EAGAIN') {
      return new StorageError('transient', `${op} ${key} in ${this.root} failed: ${code}`, 'free disk space or file handles and retry', e);
    }
    return new StorageError('failed', `${op} ${key} in ${this.root} failed: ${(e as Error)?.message ?? e}`, undefined, e);
  }
}

function aborted(opts: ReadOptions, what: string): void {
  if (opts.signal?.aborted) {
    throw new StorageError('aborted', `${what}: aborted by the caller`, 'the caller\'s AbortSignal fired; nothing to fix here', opts.signal.reason);
  }
}

function isCode(e: unknown, code: string): boolean {
  return (e as NodeJS.ErrnoException)?.code === code;
}

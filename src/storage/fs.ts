// Filesystem object store: a folder is a bucket and a key is a relative path inside it. Writes go to
// a temp file under <bucket>/.tessera-tmp and are renamed into place (atomic); ifNoneMatch uses
// link(2), which fails if the target exists, so "create only if absent" is atomic too.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { checkKey, checkPrefix, checkRange, compareKeys, RESERVED_SEGMENT } from './keys.js';
import type { FsDescriptor, ObjectInfo, ObjectStore, PutOptions } from './types.js';
import { readOnlyError, StorageError } from './types.js';

const CHUNK = 8 << 20;

export interface FsStoreOptions {
  readOnly?: boolean;
  /** fsync each file before renaming it into place (default true). */
  durable?: boolean;
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

  constructor(root: string, opts: FsStoreOptions = {}) {
    this.root = resolve(root);
    this.readOnly = opts.readOnly ?? false;
    this.durable = opts.durable ?? true;
  }

  async get(key: string): Promise<Uint8Array | null> {
    const p = this.path(key);
    try {
      return new Uint8Array(await fsp.readFile(p));
    } catch (e) {
      return this.missing(e, key);
    }
  }

  async getRange(key: string, start: number, endExclusive: number): Promise<Uint8Array | null> {
    checkRange(start, endExclusive);
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(this.path(key), 'r');
    } catch (e) {
      return this.missing(e, key);
    }
    try {
      const { size } = await fh.stat();
      const end = Math.min(endExclusive, size);
      if (start >= end) return new Uint8Array(0);
      const out = new Uint8Array(end - start);
      let done = 0;
      while (done < out.length) {
        const { bytesRead } = await fh.read(out, done, out.length - done, start + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done === out.length ? out : out.subarray(0, done);
    } catch (e) {
      if (isCode(e, 'EISDIR')) return null;
      throw this.wrap(e, 'getRange', key);
    } finally {
      await fh.close();
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    try {
      const st = await fsp.stat(this.path(key), { bigint: true });
      if (!st.isFile()) return null;
      return { size: Number(st.size), etag: `${st.ino.toString(16)}-${st.size.toString(16)}-${st.mtimeNs.toString(16)}` };
    } catch (e) {
      return this.missing(e, key);
    }
  }

  async list(prefix = ''): Promise<string[]> {
    checkPrefix(prefix);
    await this.requireBucket();
    const cut = prefix.lastIndexOf('/');
    const base = cut < 0 ? '' : prefix.slice(0, cut);
    if (base.split('/')[0] === RESERVED_SEGMENT) return [];
    const out: string[] = [];
    await this.walk(base, prefix, out);
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

  /** ENOENT/EISDIR/ENOTDIR on a read mean "no such key" unless the bucket itself is missing. */
  private async missing(e: unknown, key: string): Promise<null> {
    if (isCode(e, 'ENOENT') || isCode(e, 'ENOTDIR') || isCode(e, 'EISDIR')) {
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

  private async walk(rel: string, prefix: string, out: string[]): Promise<void> {
    let entries;
    try {
      entries = await fsp.readdir(rel ? join(this.root, ...rel.split('/')) : this.root, { withFileTypes: true });
    } catch (e) {
      if (isCode(e, 'ENOENT') || isCode(e, 'ENOTDIR')) return;
      throw this.wrap(e, 'list', rel);
    }
    for (const ent of entries) {
      const key = rel ? `${rel}/${ent.name}` : ent.name;
      if (!rel && ent.name === RESERVED_SEGMENT) continue;
      if (ent.isDirectory()) {
        // descend only where keys below could still match the prefix
        if (prefix.startsWith(key + '/') || (key + '/').startsWith(prefix)) await this.walk(key, prefix, out);
      } else if (ent.isFile() && key.startsWith(prefix)) {
        out.push(key);
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

function isCode(e: unknown, code: string): boolean {
  return (e as NodeJS.ErrnoException)?.code === code;
}

// `tessera data publish`: a prepared folder → object storage under keys.dataset(hash, …), on one or
// more mirrors: the tokenizer, every shard (multipart above LARGE_OBJECT), each shard's chunk table,
// and the index last (a reader that finds the index finds everything it names). Resumable: a journal
// per mirror (<dir>/.publish/<mirror id>.json) lists what was uploaded and checked; after a kill those
// objects are skipped when still present with their size, and an object present but not in the
// journal is read back and hashed once before it is trusted.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { keys } from '../protocol/keys.js';
import type { ObjectStore, StoreDescriptor } from '../storage/types.js';
import { chunkTableFile, DEFAULT_CHUNK_TOKENS, indexDataset, sha256, type IndexedDataset } from './dataset-index.js';
import { atomicWrite } from './fsutil.js';
import { INDEX_OBJECT } from './remote.js';

/** Objects above this go up as S3 multipart uploads (putLarge). */
export const LARGE_OBJECT = 32 << 20;

export interface PublishTarget { name: string; descriptor: StoreDescriptor; store: ObjectStore }

export interface PublishResult {
  hash: string;
  indexed: IndexedDataset;
  /** Per mirror: objects uploaded now, objects already there (journal or read back), bytes uploaded. */
  mirrors: { name: string; uploaded: number; skipped: number; verifiedExisting: number; bytesUp: number }[];
}

/** A stable id of a mirror for its journal file (no secrets in it). */
const mirrorWhere = (d: StoreDescriptor): string => (d.kind === 'fs' ? `fs:${d.path}` : `s3:${d.endpoint}/${d.bucket}`);
export const mirrorId = (d: StoreDescriptor): string => createHash('sha256').update(mirrorWhere(d)).digest('hex').slice(0, 16);

/** o.journalDir: where the per-mirror journals live (default <dir>/.publish). */
export async function publishDataset(dir: string, targets: PublishTarget[], o: { chunkTokens?: number; journalDir?: string; log?: (l: string) => void } = {}): Promise<PublishResult> {
  const log = o.log ?? (() => {});
  const indexed = indexDataset(dir, o.chunkTokens ?? DEFAULT_CHUNK_TOKENS);
  const { index, hash } = indexed;
  const indexBytes = new TextEncoder().encode(JSON.stringify(index));
  // What goes up, index last: [file name, bytes loader, sha256, size].
  const objects: { file: string; load: () => Uint8Array; sha: string; size: number }[] = [
    { file: index.tokenizer.file, load: () => readFileSync(join(dir, index.tokenizer.file)), sha: index.tokenizer.sha256, size: index.tokenizer.bytes },
  ];
  for (const s of [...index.train.shards, ...index.val.shards]) {
    const table = indexed.tables.get(s.file)!;
    objects.push({ file: chunkTableFile(s.file), load: () => table, sha: s.chunksSha256, size: table.length });
    objects.push({ file: s.file, load: () => readFileSync(join(dir, s.file)), sha: s.sha256, size: s.bytes });
  }
  objects.push({ file: INDEX_OBJECT, load: () => indexBytes, sha: sha256(indexBytes), size: indexBytes.length });
  log(`dataset ${hash}: ${objects.length} objects, ${(objects.reduce((n, x) => n + x.size, 0) / 1e6).toFixed(1)} MB`);

  const result: PublishResult = { hash, indexed, mirrors: [] };
  const jdir = o.journalDir ?? join(dir, '.publish');
  mkdirSync(jdir, { recursive: true });
  for (const t of targets) {
    const jpath = join(jdir, `${mirrorId(t.descriptor)}.json`);
    const journal: Record<string, string> = existsSync(jpath) ? (JSON.parse(readFileSync(jpath, 'utf8')) as { done?: Record<string, string> }).done ?? {} : {};
    const save = (): void => atomicWrite(jpath, JSON.stringify({ mirror: mirrorWhere(t.descriptor), done: journal }, null, 1));
    const r = { name: t.name, uploaded: 0, skipped: 0, verifiedExisting: 0, bytesUp: 0 };
    await t.store.ensureBucket();
    for (const x of objects) {
      const key = keys.dataset(hash, x.file);
      const head = await t.store.head(key);
      if (head && head.size === x.size) {
        if (journal[key] === x.sha) { r.skipped++; continue; }
        const there = await t.store.getRange(key, 0, x.size + 1);
        if (there && there.length === x.size && sha256(there) === x.sha) {
          journal[key] = x.sha; save();
          r.skipped++; r.verifiedExisting++;
          continue;
        }
        log(`${t.name}: ${key} holds other bytes; replacing it`);
      }
      const bytes = x.load();
      if (sha256(bytes) !== x.sha) throw new Error(`${join(dir, x.file)} changed while publishing; run tessera data publish again`);
      if (bytes.length > LARGE_OBJECT) await t.store.putLarge(key, bytes);
      else await t.store.put(key, bytes);
      journal[key] = x.sha; save();
      r.uploaded++; r.bytesUp += bytes.length;
      log(`${t.name}: ${x.file} (${(bytes.length / 1e6).toFixed(2)} MB${bytes.length > LARGE_OBJECT ? ', multipart' : ''})`);
    }
    result.mirrors.push(r);
    log(`${t.name}: ${r.uploaded} uploaded, ${r.skipped} already there (${r.verifiedExisting} of them read back and checked)`);
  }
  return result;
}

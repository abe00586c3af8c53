// Shard tests: round-trips for both dtypes, and truncated / corrupted / foreign files rejected
// with an error that names the file and says how to repair it.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { TesseraError } from '../util/errors.js';
import { crc32, readShard, SHARD_HEADER_BYTES, writeShard } from './shard.js';

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-shard-'));
  try { fn(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
}

test('crc32 matches the standard check value', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
});

test('uint16 and uint32 shards round-trip', () => withDir((dir) => {
  const small = Array.from({ length: 1001 }, (_, i) => (i * 7919) % 8192);
  const p16 = join(dir, 'a.bin');
  writeShard(p16, small, 8192);
  const s16 = readShard(p16);
  assert.ok(s16.tokens instanceof Uint16Array);
  assert.deepEqual(Array.from(s16.tokens), small);
  assert.equal(s16.vocabSize, 8192);
  assert.equal(readFileSync(p16).length, SHARD_HEADER_BYTES + 2 * small.length);

  const big = [0, 65535, 65536, 99_999, 12_345];
  const p32 = join(dir, 'b.bin');
  writeShard(p32, big, 100_000);
  const s32 = readShard(p32);
  assert.ok(s32.tokens instanceof Uint32Array);
  assert.deepEqual(Array.from(s32.tokens), big);
  writeShard(join(dir, 'e.bin'), [], 50257);
  assert.equal(readShard(join(dir, 'e.bin')).tokens.length, 0);
}));

test('writeShard refuses ids outside the vocab', () => withDir((dir) => {
  assert.throws(() => writeShard(join(dir, 'x.bin'), [1, 2, 300], 300), RangeError);
}));

const rejects = (path: string, re: RegExp) => (e: unknown): boolean =>
  e instanceof TesseraError && e.message.includes(path) && re.test(e.message) && /tessera data prepare/.test(e.hint ?? '');

test('truncated, corrupted, foreign and padded shards are rejected', () => withDir((dir) => {
  const good = join(dir, 'train_000.bin');
  writeShard(good, Array.from({ length: 500 }, (_, i) => i), 1000);
  const bytes = readFileSync(good);

  const trunc = join(dir, 'trunc.bin');
  writeFileSync(trunc, bytes.subarray(0, bytes.length - 3));
  assert.throws(() => readShard(trunc), rejects(trunc, /truncated/));
  writeFileSync(trunc, bytes.subarray(0, 10));
  assert.throws(() => readShard(trunc), rejects(trunc, /truncated/));

  const corrupt = join(dir, 'corrupt.bin');
  const flipped = Buffer.from(bytes);
  flipped[SHARD_HEADER_BYTES + 100] ^= 0x01;
  writeFileSync(corrupt, flipped);
  assert.throws(() => readShard(corrupt), rejects(corrupt, /corrupted \(CRC32 mismatch\)/));

  const foreign = join(dir, 'foreign.bin');
  const f = Buffer.from(bytes); f.write('NOPE', 0, 'latin1');
  writeFileSync(foreign, f);
  assert.throws(() => readShard(foreign), rejects(foreign, /bad magic/));

  const padded = join(dir, 'padded.bin');
  writeFileSync(padded, Buffer.concat([bytes, Buffer.alloc(2)]));
  assert.throws(() => readShard(padded), rejects(padded, /trailing bytes/));

  const ver = join(dir, 'ver.bin');
  const v = Buffer.from(bytes); v.writeUInt32LE(9, 4);
  writeFileSync(ver, v);
  assert.throws(() => readShard(ver), rejects(ver, /unsupported version 9/));

  assert.throws(() => readShard(join(dir, 'missing.bin')), rejects(join(dir, 'missing.bin'), /not found/));
}));

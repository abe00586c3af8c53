// Pure parts of storage: on-chain descriptor strings (untrusted input), key rules, retry backoff.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDescriptor, serializeDescriptor } from './descriptor.js';
import { checkKey, compareKeys } from './keys.js';
import { backoffDelay, withRetry } from './retry.js';
import type { S3Descriptor } from './types.js';
import { StorageError } from './types.js';

const s3: S3Descriptor = {
  kind: 's3', endpoint: 'http://127.0.0.1:7480', region: 'us-east-1', bucket: 'tessera-node-1',
  accessKeyId: 'AKIAEXAMPLE0123', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};

test('descriptors serialize to compact versioned JSON and parse back', () => {
  const text = serializeDescriptor(s3);
  assert.ok(text.startsWith('{"v":1,"kind":"s3"'), text);
  assert.deepEqual(parseDescriptor(text), s3);
  const fs = { kind: 'fs' as const, path: '/tmp/bucket', readOnly: true };
  assert.deepEqual(parseDescriptor(serializeDescriptor(fs)), fs);
  assert.throws(() => parseDescriptor(serializeDescriptor(fs), { allowFs: false }), /only accepted on local devnets/);
});

test('malformed or hostile descriptors are refused with a reason', () => {
  const bad: [string, RegExp][] = [
    ['not json', /not JSON/],
    ['[1]', /not a JSON object/],
    [JSON.stringify({ ...s3, v: 2 }), /unsupported version/],
    [JSON.stringify({ v: 1, ...s3, extra: 1 }), /unknown field 'extra'/],
    [JSON.stringify({ v: 1, ...s3, kind: 'ftp' }), /unknown kind/],
    [JSON.stringify({ v: 1, ...s3, endpoint: 'file:///etc' }), /http/],
    [JSON.stringify({ v: 1, ...s3, endpoint: 'http://u:p@host' }), /scheme:\/\/host/],
    [JSON.stringify({ v: 1, ...s3, endpoint: 'http://host/path' }), /scheme:\/\/host/],
    [JSON.stringify({ v: 1, ...s3, bucket: 'Bad_Bucket' }), /bucket/],
    [JSON.stringify({ v: 1, ...s3, secretAccessKey: 'has space' }), /secretAccessKey/],
    [JSON.stringify({ v: 1, kind: 'fs', path: 'relative/dir' }), /absolute/],
    ['x'.repeat(5000), /longer than/],
  ];
  for (const [text, re] of bad) assert.throws(() => parseDescriptor(text), re, text.slice(0, 60));
});

test('key rules and S3 byte order', () => {
  checkKey('gradients/12/3.bin');
  assert.throws(() => checkKey('a/../b'), StorageError);
  assert.ok(compareKeys('\uFFFD', '\u{1F600}') < 0 && '\uFFFD' > '\u{1F600}', 'UTF-8 order differs from UTF-16 order');
});

test('withRetry retries transient errors with doubling delays, and nothing else', async () => {
  assert.deepEqual([1, 2, 3, 4, 5].map((a) => backoffDelay(a, 100, 1000)), [100, 200, 400, 800, 1000]);
  const waits: number[] = [];
  const sleep = async (ms: number) => void waits.push(ms);
  let calls = 0;
  const v = await withRetry(async () => {
    if (++calls < 3) throw new StorageError('transient', 'flaky');
    return 'ok';
  }, { attempts: 5, baseMs: 10, sleep });
  assert.equal(v, 'ok');
  assert.deepEqual(waits, [10, 20]);
  calls = 0;
  await assert.rejects(withRetry(async () => { calls++; throw new StorageError('denied', 'no'); }, { sleep }), /no/);
  assert.equal(calls, 1, 'denied is not retried');
  calls = 0;
  await assert.rejects(withRetry(async () => { calls++; throw new StorageError('transient', 'down'); }, { attempts: 3, sleep }), /down/);
  assert.equal(calls, 3);
});

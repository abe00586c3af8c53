// Object-key rules shared by every store, so a key that works on the filesystem works on S3 and back:
// '/'-separated segments, no empty/'.'/'..' segments, no control characters or backslashes, <= 1024 bytes.
import { StorageError } from './types.js';

/** First segment reserved by the fs store for its temp files. */
export const RESERVED_SEGMENT = '.tessera-tmp';
const MAX_KEY_BYTES = 1024;
// eslint-disable-next-line no-control-regex
const BAD_CHARS = /[\u0000-\u001f\u007f\\]/;

function invalid(key: string, why: string): StorageError {
  return new StorageError('invalid-key', `invalid object key ${JSON.stringify(key)}: ${why}`,
    "keys are '/'-separated names like 'gradients/12/3.bin': no leading or trailing '/', no empty, '.' or '..' segments, no control characters or '\\'");
}

export function checkKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw invalid(String(key), 'empty');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw invalid(key, `longer than ${MAX_KEY_BYTES} bytes`);
  if (BAD_CHARS.test(key)) throw invalid(key, 'contains a control character or a backslash');
  if (key.startsWith('/')) throw invalid(key, 'absolute (starts with /)');
  if (key.endsWith('/')) throw invalid(key, 'ends with /');
  const segs = key.split('/');
  for (const s of segs) {
    if (s === '') throw invalid(key, 'has an empty segment (//)');
    if (s === '.' || s === '..') throw invalid(key, `has a '${s}' segment`);
  }
  if (segs[0] === RESERVED_SEGMENT) throw invalid(key, `'${RESERVED_SEGMENT}/' is reserved`);
}

/** A list prefix may be '' or end in '/' or in part of a segment, but obeys the other key rules. */
export function checkPrefix(prefix: string): void {
  if (prefix === '') return;
  if (typeof prefix !== 'string') throw invalid(String(prefix), 'not a string');
  if (BAD_CHARS.test(prefix)) throw invalid(prefix, 'contains a control character or a backslash');
  if (prefix.startsWith('/')) throw invalid(prefix, 'absolute (starts with /)');
  const segs = prefix.split('/');
  segs.forEach((s, i) => {
    if (i < segs.length - 1 && (s === '' || s === '.' || s === '..')) throw invalid(prefix, `has a '${s}' segment`);
  });
}

/** S3's listing order: by UTF-8 bytes (differs from JS string order for characters beyond U+FFFF). */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export function checkRange(start: number, endExclusive: number): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(endExclusive) || start < 0 || endExclusive < start) {
    throw new RangeError(`getRange(${start}, ${endExclusive}): need integers 0 <= start <= endExclusive`);
  }
}

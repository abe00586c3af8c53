// Per-node S3 users on an existing Ceph RGW through its Admin Ops API (/admin/user), signed with AWS
// SigV4 by hand (node:crypto), for `tessera devnet --s3 URL` with admin keys: each node gets a write
// user owning its bucket and a read-only subuser whose keys it publishes (the same shape ceph-s3.sh makes).
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { TesseraError } from '../util/errors.js';

export interface S3Admin {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface UserKeys {
  write: { accessKeyId: string; secretAccessKey: string };
  read: { accessKeyId: string; secretAccessKey: string };
}

/** RFC 3986 encoding as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
const enc = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');
const hmac = (key: Buffer | string, s: string): Buffer => createHmac('sha256', key).update(s).digest();

/** The Authorization header etc. of a SigV4-signed request with an empty body (service s3). */
export function signV4(a: S3Admin, method: string, url: URL, now = new Date()): Record<string, string> {
  const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const payload = sha256('');
  const query = [...url.searchParams.entries()].map(([k, v]) => [enc(k), enc(v)]).sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[1] < y[1] ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`).join('&');
  const canonical = [method, url.pathname.split('/').map(enc).join('/'), query, `host:${url.host}\nx-amz-content-sha256:${payload}\nx-amz-date:${amzDate}\n`,
    'host;x-amz-content-sha256;x-amz-date', payload].join('\n');
  const scope = `${day}/${a.region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${a.secretAccessKey}`, day), a.region), 's3'), 'aws4_request');
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  return {
    'x-amz-date': amzDate, 'x-amz-content-sha256': payload,
    authorization: `AWS4-HMAC-SHA256 Credential=${a.accessKeyId}/${scope}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=${signature}`,
  };
}

export class AdminOpsError extends TesseraError {
  constructor(readonly status: number, readonly code: string, message: string, hint?: string) {
    super(message, hint);
  }
}

async function adminCall(a: S3Admin, method: 'GET' | 'PUT' | 'POST', params: Array<[string, string]>): Promise<unknown> {
  const url = new URL('/admin/user', a.endpoint);
  for (const [k, v] of [...params, ['format', 'json']]) url.searchParams.append(k, v);
  let res: Response;
  try {
    res = await fetch(url, { method, headers: signV4(a, method, url), signal: AbortSignal.timeout(15_000) });
  } catch (e) {
    throw new AdminOpsError(0, 'unreachable', `S3 endpoint ${a.endpoint} unreachable: ${(e as Error).message}`, 'check the --s3 URL and that the server runs');
  }
  const text = await res.text();
  let body: unknown;
  try { body = text ? JSON.parse(text) : null; } catch { body = text; }
  if (!res.ok) {
    const code = (body as { Code?: string } | null)?.Code ?? (typeof body === 'string' ? body.slice(0, 80) : 'error');
    throw new AdminOpsError(res.status, code, `RGW admin ${method} /admin/user (${params.map(([k]) => k).join(',')}) answered ${res.status} ${code}`,
      res.status === 403 ? 'the admin keys need the caps users=* (radosgw-admin caps add --caps="users=*;buckets=*")' : 'is this a Ceph RGW with the admin API enabled?');
  }
  return body;
}

const newKey = (n: number, alphabet: string): string => Array.from(randomBytes(n), (b) => alphabet[b % alphabet.length]).join('');
const AK = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const SK = AK + 'abcdefghijklmnopqrstuvwxyz';

interface UserInfo { keys?: Array<{ user: string; access_key: string; secret_key: string }>; max_buckets?: number }

/**
 * Creates (or finds) RGW user `uid` with an S3 key and a read-only subuser `uid:read` with its own S3
 * key; returns both key pairs. Idempotent: re-running returns the existing keys.
 *
 * The user may own `maxBuckets` buckets (default 1: its own). S3Store.ensureBucket() checks with
 * HeadBucket before it creates, so a node's repeated ensureBucket() never trips RGW's quota check.
 * An existing user with another limit (devnets made before this was 1 used 2) is set back to it.
 */
export async function ensureNodeUser(a: S3Admin, uid: string, maxBuckets = 1): Promise<UserKeys> {
  let info: UserInfo;
  try {
    info = await adminCall(a, 'GET', [['uid', uid]]) as UserInfo;
  } catch (e) {
    if (!(e instanceof AdminOpsError) || e.status !== 404) throw e;
    info = await adminCall(a, 'PUT', [['uid', uid], ['display-name', `tessera node ${uid}`], ['max-buckets', String(maxBuckets)],
      ['key-type', 's3'], ['access-key', newKey(20, AK)], ['secret-key', newKey(40, SK)]]) as UserInfo;
  }
  if (info.max_buckets !== undefined && info.max_buckets !== maxBuckets) {
    info = await adminCall(a, 'POST', [['uid', uid], ['max-buckets', String(maxBuckets)]]) as UserInfo;
  }
  const key = (user: string) => info.keys?.find((k) => k.user === user);
  if (!key(`${uid}:read`)) {
    await adminCall(a, 'PUT', [['uid', uid], ['subuser', `${uid}:read`], ['access', 'read'], ['key-type', 's3'],
      ['access-key', newKey(20, AK)], ['secret-key', newKey(40, SK)]]);
    info = await adminCall(a, 'GET', [['uid', uid]]) as UserInfo;
  }
  const w = key(uid), r = key(`${uid}:read`);
  if (!w || !r) throw new TesseraError(`RGW user ${uid} has no S3 key for ${w ? `${uid}:read` : uid}`, `remove it (radosgw-admin user rm --uid=${uid} --purge-keys) and start again`);
  return { write: { accessKeyId: w.access_key, secretAccessKey: w.secret_key }, read: { accessKeyId: r.access_key, secretAccessKey: r.secret_key } };
}

// The storage conformance suite on the S3 store against a real Ceph RGW started by scripts/ceph-s3.sh
// (skipped, visibly, where the ceph packages are not installed).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { storeConformance, bytesOf } from './conformance.js';
import { openStore } from './open.js';
import { CEPH_INSTALL_HINT, createNodeCredentials, missingCephBinaries, startRgw, stopRgw, type RgwCluster } from './rgw.js';
import { S3Store } from './s3.js';
import { StorageError, type S3Descriptor } from './types.js';

const missing = missingCephBinaries();
const skip = missing.length ? `ceph not installed (missing ${missing.join(', ')}): run ${CEPH_INSTALL_HINT}` : undefined;

describe('s3 object store on Ceph RGW', { skip: skip ?? false }, () => {
  let dir = '';
  let cluster: RgwCluster;
  let startMs = 0;
  let buckets = 0;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-rgw-'));
    const t0 = performance.now();
    cluster = await startRgw(dir);
    startMs = performance.now() - t0;
  });
  after(async () => {
    if (dir) {
      await stopRgw(dir).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  storeConformance('conformance', {
    newNode: async (name) => createNodeCredentials(cluster, name),
    async missingBucket(): Promise<S3Descriptor> {
      return { kind: 's3', endpoint: cluster.endpoint, region: cluster.region, bucket: `missing-${buckets++}`, ...cluster.admin };
    },
    crossWrite: (a, b) => ({ ...(a.write as S3Descriptor), bucket: (b.write as S3Descriptor).bucket }),
    // port 9 (discard) on loopback: nothing listens, so connections are refused
    unreachable: () => ({ kind: 's3', endpoint: 'http://127.0.0.1:9', region: 'us-east-1', bucket: 'nowhere', accessKeyId: 'x', secretAccessKey: 'y' }),
    tuning: { partSize: 5 << 20, sdkAttempts: 1 },
  });

  test('ensureBucket on the one bucket a user (max-buckets 1) owns succeeds; a second bucket is denied', async () => {
    const creds = await createNodeCredentials(cluster, 'one-bucket'); // creates the user (max-buckets=1) and its bucket
    for (const d of [creds.write, creds.read]) {
      const s = new S3Store(d);
      try {
        await s.ensureBucket(); // a blind CreateBucket answers TooManyBuckets here
        await s.ensureBucket();
      } finally {
        s.close();
      }
    }
    const other = new S3Store({ ...creds.write, bucket: 'tessera-one-bucket-second' });
    try {
      await assert.rejects(other.ensureBucket(), (e: unknown) => e instanceof StorageError && e.code === 'denied' && /TooManyBuckets/.test(e.message));
    } finally {
      other.close();
    }
  });

  test('timings: RGW start, 5 MB put/get', async (t) => {
    const creds = await createNodeCredentials(cluster, 'timing');
    const s = openStore(creds.write, 'write');
    const v = bytesOf(5_000_000, 42);
    const times = { put: [] as number[], get: [] as number[] };
    for (let i = 0; i < 5; i++) {
      let t0 = performance.now();
      await s.put(`t/${i}`, v);
      times.put.push(performance.now() - t0);
      t0 = performance.now();
      assert.equal((await s.get(`t/${i}`))?.length, v.length);
      times.get.push(performance.now() - t0);
    }
    s.close();
    const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
    const mbps = (ms: number) => (5 / (ms / 1000)).toFixed(0);
    t.diagnostic(`RGW start ${(startMs / 1000).toFixed(1)} s; 5 MB put ${med(times.put).toFixed(0)} ms (${mbps(med(times.put))} MB/s), ` +
      `get ${med(times.get).toFixed(0)} ms (${mbps(med(times.get))} MB/s) (medians of 5)`);
  });
});

// Object storage for a devnet: a folder per node (default), per-node users on an existing S3 (RGW Admin
// Ops with admin keys; plain S3 falls back to shared keys), or a private Ceph RGW started under <root>/ceph.
import { existsSync, readdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  cephInstalled, CEPH_INSTALL_HINT, fsNodeDescriptors, S3Store, startGateway, startRgw, stopGateway, stopRgw,
  type RgwCluster, type RgwPlace, type S3Descriptor, type StoreDescriptor,
} from '../storage/index.js';
import { TesseraError } from '../util/errors.js';
import type { DevnetStorage } from './config.js';
import { AdminOpsError, ensureNodeUser } from './rgw-admin.js';

export interface NodeStores {
  /** Private: the node writes its bucket with this. */
  write: StoreDescriptor;
  /** Public: committed on chain; read-only. */
  read: StoreDescriptor;
}

export interface DevnetStorageProvider {
  kind: DevnetStorage['kind'];
  /** One line for the terminal view. */
  describe: string;
  /** Creates (or finds) node `name`'s bucket and credentials. Idempotent. */
  nodeStores(name: string): Promise<NodeStores>;
  /** --ceph only: stops the S3 gateway for downMs and starts it again (an outage drill; objects are kept). */
  restart?(downMs: number): Promise<void>;
  close(): Promise<void>;
}

/** S3 bucket of a node: unique per run so several devnets can share one S3 server. */
export const bucketName = (runId: string, node: string): string => `tessera-${runId}-${node}`.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 63).replace(/-+$/, '');

/** `place`: --ceph inside a network host (the hosts harness): the cluster runs in that namespace, bound to its address. */
export async function openDevnetStorage(root: string, s: DevnetStorage, runId: string, log: (l: string) => void, place?: RgwPlace): Promise<DevnetStorageProvider> {
  if (s.kind === 'fs') {
    const base = join(root, 'storage');
    return {
      kind: 'fs', describe: `filesystem ${base}/<node>`,
      async nodeStores(name) {
        const d = fsNodeDescriptors(join(base, name));
        await mkdir(d.write.path, { recursive: true });
        return d;
      },
      async close() {},
    };
  }
  if (s.kind === 'ceph') return openCeph(join(root, 'ceph'), runId, log, place);
  return openS3(s, runId, log);
}

async function openCeph(dir: string, runId: string, log: (l: string) => void, place?: RgwPlace): Promise<DevnetStorageProvider> {
  if (!cephInstalled()) throw new TesseraError('--ceph needs the Ceph binaries (ceph-mon, ceph-osd, radosgw)', `install them: ${CEPH_INSTALL_HINT}; or use filesystem storage (no option) or --s3 URL`);
  // A previous run killed without cleanup leaves daemons behind: stop them (pids in run/) before a fresh start.
  if (existsSync(join(dir, 'run')) && readdirSync(join(dir, 'run')).some((f) => f.endsWith('.pid'))) await stopRgw(dir).catch(() => {}); // by pid: works from any namespace
  log(`starting Ceph RGW in ${dir}${place ? ` on network host ${place.addr}` : ''} ...`);
  const t0 = Date.now();
  const cluster: RgwCluster = await startRgw(dir, undefined, place);
  log(`Ceph RGW up at ${cluster.endpoint} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  // Per-node users through the Admin Ops API with the cluster's admin keys (the same path as --s3).
  const s3 = await openS3({ kind: 's3', endpoint: cluster.endpoint, region: cluster.region, ...cluster.admin }, runId, log);
  return {
    kind: 'ceph', describe: `Ceph RGW ${cluster.endpoint} (private, under ${dir})`,
    nodeStores: (name) => s3.nodeStores(name),
    async restart(downMs) {
      await stopGateway(dir, place);
      await new Promise((r) => setTimeout(r, downMs));
      await startGateway(dir, place);
    },
    async close() { await stopRgw(dir, place); },
  };
}

async function openS3(s: Extract<DevnetStorage, { kind: 's3' }>, runId: string, log: (l: string) => void): Promise<DevnetStorageProvider> {
  const admin = { endpoint: s.endpoint, region: s.region, accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey };
  let shared = false;
  return {
    kind: 's3', describe: `S3 ${s.endpoint}`,
    async nodeStores(name) {
      const base = { kind: 's3' as const, endpoint: s.endpoint, region: s.region, bucket: bucketName(runId, name) };
      let write: S3Descriptor, read: S3Descriptor;
      if (!shared) {
        try {
          const k = await ensureNodeUser(admin, base.bucket);
          write = { ...base, ...k.write };
          read = { ...base, ...k.read };
        } catch (e) {
          if (!(e instanceof AdminOpsError) || e.status === 0 || e.status === 403) throw e;
          shared = true;
          log(`warning: ${s.endpoint} has no RGW admin API (${e.message}); every node uses the admin keys, so nodes are NOT isolated from each other's buckets`);
        }
      }
      if (shared) write = read = { ...base, accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey };
      const store = new S3Store(write!);
      try {
        await store.ensureBucket();
      } finally {
        store.close();
      }
      return { write: write!, read: read! };
    },
    async close() {},
  };
}

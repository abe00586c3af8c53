// Local Ceph RGW (S3) for tests and devnets, driven through scripts/ceph-s3.sh: start/stop a cluster and
// create per-node credentials (a write user that owns the node's bucket + a read-only S3 subuser).
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, promises as fsp } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TesseraError } from '../util/errors.js';
import { S3Store } from './s3.js';
import type { S3Descriptor } from './types.js';

export const CEPH_PACKAGES = ['ceph-mon', 'ceph-osd', 'radosgw', 'ceph-common'];
export const CEPH_INSTALL_HINT = `apt-get install -y --no-install-recommends ${CEPH_PACKAGES.join(' ')}`;
const BINARIES = ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'ceph', 'ceph-authtool', 'monmaptool'];

export interface RgwCluster {
  dir: string;
  endpoint: string;
  region: string;
  admin: { accessKeyId: string; secretAccessKey: string };
}

export interface NodeCredentials {
  name: string;
  /** Private to the node: owns and writes its bucket. */
  write: S3Descriptor;
  /** Published on chain: get/head/list only (RGW subuser with --access=read). */
  read: S3Descriptor;
}

/** The ceph binaries the script needs, missing from PATH (empty when all are there). */
export function missingCephBinaries(): string[] {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  return BINARIES.filter((b) => !dirs.some((d) => {
    try {
      accessSync(join(d, b), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  }));
}

export function cephInstalled(): boolean {
  return missingCephBinaries().length === 0;
}

/** scripts/ceph-s3.sh, found by walking up from this file (works from src/ and from dist/src/). */
export function cephScript(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(dir, 'scripts', 'ceph-s3.sh');
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  throw new TesseraError('scripts/ceph-s3.sh not found above ' + fileURLToPath(import.meta.url), 'run from a tessera checkout');
}

/** Where a cluster runs: inside a network namespace (`ip netns exec`), bound to that namespace's address. */
export interface RgwPlace { netns: string; addr: string }

function runScript(args: string[], timeoutMs = 180_000, place?: RgwPlace): Promise<string> {
  const [cmd, argv] = place ? ['ip', ['netns', 'exec', place.netns, 'bash', cephScript(), ...args]] : ['bash', [cephScript(), ...args]];
  const env = place ? { ...process.env, CEPH_S3_ADDR: place.addr } : process.env;
  return new Promise((res, rej) => {
    execFile(cmd, argv, { timeout: timeoutMs, maxBuffer: 1 << 20, env }, (err, stdout, stderr) => {
      if (err) {
        rej(new TesseraError(`scripts/ceph-s3.sh ${args.join(' ')}${place ? ` (in network namespace ${place.netns})` : ''} failed: ${stderr.trim() || err.message}`,
          cephInstalled() ? `see the logs under ${args[1]}/log` : `install ceph: ${CEPH_INSTALL_HINT}`));
      } else res(stdout);
    });
  });
}

/** Starts a fresh single-node cluster in `dir` (empty or made by the script); ~6 s (the script waits up to 90 s for the OSD and tries radosgw twice). */
export async function startRgw(dir: string, port?: number, place?: RgwPlace): Promise<RgwCluster> {
  const abs = resolve(dir);
  await runScript(['start', abs, ...(port ? [String(port)] : [])], 360_000, place);
  return readRgw(abs);
}

export async function stopRgw(dir: string, place?: RgwPlace): Promise<void> {
  await runScript(['stop', resolve(dir)], 60_000, place);
}

/**
 * Stops only the cluster's radosgw (an S3 outage: connections are refused; the monitor, the OSD and the
 * objects stay). startGateway() brings it back on the same endpoint with the same users and buckets.
 */
export async function stopGateway(dir: string, place?: RgwPlace): Promise<void> {
  await runScript(['rgw-stop', resolve(dir)], 30_000, place);
}

/** Starts the radosgw of a cluster stopped by stopGateway(); resolves once S3 answers again. */
export async function startGateway(dir: string, place?: RgwPlace): Promise<void> {
  await runScript(['rgw-start', resolve(dir)], 150_000, place);
}

/** Reads the endpoint and admin keys of a cluster that `start` wrote to DIR/s3.env. */
export async function readRgw(dir: string): Promise<RgwCluster> {
  const abs = resolve(dir);
  const env = new Map<string, string>();
  for (const line of (await fsp.readFile(join(abs, 's3.env'), 'utf8')).split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const get = (k: string) => {
    const v = env.get(k);
    if (!v) throw new TesseraError(`${join(abs, 's3.env')} lacks ${k}`, `restart the cluster: scripts/ceph-s3.sh start ${abs}`);
    return v;
  };
  return {
    dir: abs, endpoint: get('S3_ENDPOINT'), region: get('S3_REGION'),
    admin: { accessKeyId: get('S3_ADMIN_ACCESS_KEY'), secretAccessKey: get('S3_ADMIN_SECRET_KEY') },
  };
}

/**
 * Creates node `nodeName`'s RGW user (write) and read-only subuser, then its bucket (owned by the write
 * user; default `tessera-<nodeName>`). Idempotent for the cluster's lifetime: re-running returns the same keys.
 */
export async function createNodeCredentials(cluster: Pick<RgwCluster, 'dir'>, nodeName: string,
  opts: { bucket?: string } = {}): Promise<NodeCredentials> {
  if (!/^[a-z0-9][a-z0-9-]{0,40}$/.test(nodeName)) {
    throw new TesseraError(`node name ${JSON.stringify(nodeName)} is not usable as an RGW user`, 'use lowercase letters, digits and -');
  }
  const out = JSON.parse(await runScript(['node-user', resolve(cluster.dir), nodeName], 60_000)) as {
    endpoint: string; region: string;
    write: { accessKeyId: string; secretAccessKey: string }; read: { accessKeyId: string; secretAccessKey: string };
  };
  const bucket = opts.bucket ?? `tessera-${nodeName}`;
  const base = { kind: 's3' as const, endpoint: out.endpoint, region: out.region, bucket };
  const creds: NodeCredentials = { name: nodeName, write: { ...base, ...out.write }, read: { ...base, ...out.read } };
  const store = new S3Store(creds.write);
  try {
    await store.ensureBucket();
  } finally {
    store.close();
  }
  return creds;
}

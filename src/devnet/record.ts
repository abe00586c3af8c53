// <dir>/devnet.json: what a devnet records so the next run resumes the same network, and what the
// readers of a devnet folder (score explain, the dashboard) read first. Light on
// imports: readers start fast.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunConfig } from '../protocol/run.js';
import type { BehaviorName } from '../scenario/adversaries.js';
import type { ActivationKind } from '../hetero/activations.js';
import { TesseraError } from '../util/errors.js';
import type { DevnetStorage } from './config.js';

/** The default devnet folder (tessera devnet --dir). */
export const DEVNET_DIR = join('.tessera', 'devnet');

/** What <dir>/devnet.json records so the next run resumes the same network. */
export interface DevnetRecord {
  format: 'tessera-devnet';
  version: 1;
  createdAt: string;
  run: RunConfig;
  preset: string;
  chainPort: number;
  blockMs: number;
  storage: DevnetStorage['kind'];
  /** S3 endpoint (external S3 only; credentials are never stored here). */
  s3Endpoint?: string;
  data: string;
  /** Validators the network runs (absent: 1). */
  validators?: number;
  /** Every miner ever started, in uid order of first start (late miners included). */
  miners: string[];
  /** Adversarial miners (node name → behaviour), so a resumed network restarts them as they were. */
  behaviors?: Record<string, BehaviorName>;
  /** Pipeline groups (--pipeline-groups, --stages, --stage-codec), so a resumed network restarts its stage nodes as stages. */
  pipeline?: { groups: number; stages: number; codec: ActivationKind };
  /** --hosts: the id of the network hosts while they exist (a crashed run's are removed at the next start). */
  hostsId?: string;
  /** The chain's URL while it runs (on a network host with --hosts: not 127.0.0.1); readers fall back to chainPort on this host. */
  chainUrl?: string;
}

export const RECORD_FILE = 'devnet.json';

export function readRecord(dir: string): DevnetRecord | null {
  const file = join(dir, RECORD_FILE);
  if (!existsSync(file)) return null;
  let r: DevnetRecord;
  try {
    r = JSON.parse(readFileSync(file, 'utf8')) as DevnetRecord;
  } catch (e) {
    throw new TesseraError(`${file} is not valid JSON (${(e as Error).message})`, `move ${dir} away to start a new devnet`);
  }
  if (r?.format !== 'tessera-devnet' || r.version !== 1) {
    throw new TesseraError(`${file} is not a tessera devnet record of version 1`, `point --dir at a devnet folder, or at an empty one for a new network`);
  }
  return r;
}

export async function writeRecord(dir: string, r: DevnetRecord): Promise<void> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, RECORD_FILE);
  await writeFile(`${file}.tmp`, JSON.stringify(r, null, 2) + '\n');
  await rename(`${file}.tmp`, file);
}


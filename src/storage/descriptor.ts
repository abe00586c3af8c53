// The string a node commits on chain so others can read its bucket: compact JSON with a version tag.
// Parsing treats the text as untrusted peer data: every field is checked, unknown fields are refused.
import type { FsDescriptor, S3Descriptor, StoreDescriptor } from './types.js';
import { TesseraError } from '../util/errors.js';

export const DESCRIPTOR_VERSION = 1;
const MAX_DESCRIPTOR_CHARS = 2048;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const REGION = /^[a-z0-9-]{1,32}$/;
const ACCESS_KEY = /^[A-Za-z0-9._-]{1,128}$/;
const SECRET = /^[\x21-\x7e]{1,128}$/;

export function serializeDescriptor(d: StoreDescriptor): string {
  validate(d);
  const body = d.kind === 'fs'
    ? { v: DESCRIPTOR_VERSION, kind: d.kind, path: d.path, ...(d.readOnly ? { readOnly: true } : {}) }
    : { v: DESCRIPTOR_VERSION, kind: d.kind, endpoint: d.endpoint, region: d.region, bucket: d.bucket,
        accessKeyId: d.accessKeyId, secretAccessKey: d.secretAccessKey };
  return JSON.stringify(body);
}

export interface ParseOptions {
  /** Accept 'fs' descriptors (local devnets only; a real network should set false). Default true. */
  allowFs?: boolean;
}

export function parseDescriptor(text: string, opts: ParseOptions = {}): StoreDescriptor {
  if (typeof text !== 'string' || text.length > MAX_DESCRIPTOR_CHARS) bad(`longer than ${MAX_DESCRIPTOR_CHARS} characters`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    bad('not JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad('not a JSON object');
  const { v, ...rest } = raw as Record<string, unknown>;
  if (v !== DESCRIPTOR_VERSION) bad(`unsupported version ${JSON.stringify(v)} (this build reads ${DESCRIPTOR_VERSION})`);
  const d = rest as unknown as StoreDescriptor;
  validate(d);
  if (d.kind === 'fs' && opts.allowFs === false) bad("kind 'fs' is only accepted on local devnets");
  return d;
}

function validate(d: StoreDescriptor): void {
  if (typeof d !== 'object' || d === null) bad('not an object');
  if (d.kind === 'fs') {
    onlyFields(d, ['kind', 'path', 'readOnly']);
    if (typeof d.path !== 'string' || !d.path.startsWith('/') || d.path.includes('\0')) bad('fs path must be an absolute path');
    if (d.readOnly !== undefined && typeof d.readOnly !== 'boolean') bad('readOnly must be a boolean');
    return;
  }
  if (d.kind === 's3') {
    onlyFields(d, ['kind', 'endpoint', 'region', 'bucket', 'accessKeyId', 'secretAccessKey']);
    checkEndpoint(d.endpoint);
    field(d, 'region', REGION);
    field(d, 'bucket', BUCKET);
    field(d, 'accessKeyId', ACCESS_KEY);
    field(d, 'secretAccessKey', SECRET);
    return;
  }
  bad(`unknown kind ${JSON.stringify((d as { kind?: unknown }).kind)}`);
}

function checkEndpoint(endpoint: unknown): void {
  let url: URL;
  try {
    url = new URL(String(endpoint));
  } catch {
    bad(`endpoint ${JSON.stringify(endpoint)} is not a URL`);
  }
  if (typeof endpoint !== 'string' || endpoint.length > 256) bad('endpoint too long');
  if (url.protocol !== 'http:' && url.protocol !== 'https:') bad('endpoint must be http:// or https://');
  if (url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
    bad('endpoint must be scheme://host[:port] only');
  }
}

function field(d: S3Descriptor, name: keyof S3Descriptor, re: RegExp): void {
  const v = d[name];
  if (typeof v !== 'string' || !re.test(v)) bad(`${name} is missing or malformed`);
}

function onlyFields(d: FsDescriptor | S3Descriptor, allowed: string[]): void {
  for (const k of Object.keys(d)) if (!allowed.includes(k)) bad(`unknown field '${k}'`);
}

function bad(why: string): never {
  throw new TesseraError(`bad storage descriptor: ${why}`,
    'a descriptor is the JSON a node commits on chain: {"v":1,"kind":"s3","endpoint":...,"region":...,"bucket":...,"accessKeyId":...,"secretAccessKey":...}');
}

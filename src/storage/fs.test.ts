// The storage conformance suite on the filesystem store (a temp folder per node).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { storeConformance } from './conformance.js';
import { fsNodeDescriptors, FsStore } from './fs.js';
import type { FsDescriptor } from './types.js';

const root = mkdtempSync(join(tmpdir(), 'tessera-fs-store-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

storeConformance('fs object store', {
  async newNode(name) {
    const d = fsNodeDescriptors(join(root, name));
    await new FsStore(d.write.path).ensureBucket();
    return d;
  },
  async missingBucket(): Promise<FsDescriptor> {
    return { kind: 'fs', path: join(root, `missing-${n++}`) };
  },
  // On one machine every folder is reachable: what node a holds for b's bucket is b's read descriptor.
  crossWrite: (_a, b) => b.read,
});

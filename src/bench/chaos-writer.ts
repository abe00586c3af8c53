// The chaos suite's multipart writer, a process of its own so it can be killed -9 between the parts of
// an upload: `node dist/src/bench/chaos-writer.js DESCRIPTOR_JSON KEY BYTES SEED [FAILPOINT_DIR]` puts
// BYTES seeded bytes at KEY with S3Store.putLarge (a multipart upload), trying again every second
// (the gateway may be down) for at most 120 s; prints `done <sha256>` and exits 0 once it landed.
import { pathToFileURL } from 'node:url';
import { sha256Hex } from '../protocol/index.js';
import { S3Store, type S3Descriptor } from '../storage/index.js';
import { armFailpoints } from '../util/failpoint.js';
import { makeRng } from '../util/rng.js';

/** The bytes the writer uploads for (size, seed): the reader checks what it sees against their sha256. */
export function multipartBytes(size: number, seed: number): Uint8Array {
  const rng = makeRng(seed), out = new Uint8Array(size);
  for (let i = 0; i < size; i += 4) {
    const x = rng.nextU32();
    for (let j = 0; j < 4 && i + j < size; j++) out[i + j] = (x >>> (8 * j)) & 0xff;
  }
  return out;
}

async function main(): Promise<void> {
  const [descJson, key, size, seed, fpDir] = process.argv.slice(2);
  if (!descJson || !key || !size || !seed) throw new Error('usage: chaos-writer.js DESCRIPTOR_JSON KEY BYTES SEED [FAILPOINT_DIR]');
  if (fpDir) armFailpoints(fpDir);
  const bytes = multipartBytes(Number(size), Number(seed));
  const store = new S3Store(JSON.parse(descJson) as S3Descriptor);
  const until = Date.now() + 120_000;
  for (;;) {
    try {
      await store.putLarge(key, bytes);
      break;
    } catch (e) {
      if (Date.now() > until) throw e;
      console.log(`putLarge ${key} failed (${(e as Error).message}); again in 1 s`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  store.close();
  console.log(`done ${sha256Hex(bytes)}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: Error) => { console.error(`chaos-writer: ${e.message}`); process.exit(1); });
}

// A real devnet server on an ephemeral port: signed calls through DevnetChainClient, rejected
// forgeries (bad signature, acting for another hotkey, replayed nonce), a Yuma epoch, anchors, and a
// server killed with SIGKILL that resumes from its directory while a client keeps retrying.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { startDevnetChainServer, DevnetChainClient, ChainError, callMessage, type SignedCall, type UnsignedCall } from './index.js';
import { signer } from '../wallet/index.js';

await cryptoWaitReady();
const keyring = new Keyring({ type: 'sr25519', ss58Format: 42 });
const [alice, bob, charlie, dave] = ['//Alice', '//Bob', '//Charlie', '//Dave'].map((u) => keyring.addFromUri(u));
const tmp = (): string => mkdtempSync(join(tmpdir(), 'tessera-devnet-'));

async function post(url: string, body: unknown): Promise<{ status: number; json: { error?: { code: string; hint?: string; details?: Record<string, unknown> } } }> {
  const res = await fetch(`${url}/call`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}
const signed = (chainId: string, by: typeof alice, call: UnsignedCall): SignedCall =>
  ({ ...call, signature: '0x' + Buffer.from(by.sign(callMessage(chainId, call))).toString('hex') });

test('signed calls, forgeries rejected, and Yuma results in the metagraph', async () => {
  const dir = tmp();
  const server = await startDevnetChainServer({ dir, blockMs: 40, tempo: 4 });
  try {
    const chain = new DevnetChainClient({ url: server.url, retries: 2, backoffMs: 50 });
    const [A, B, C] = [alice, bob, charlie].map(signer);
    assert.deepEqual([await chain.register(A), await chain.register(B), await chain.register(C), await chain.register(B)], [0, 1, 2, 1]);
    await chain.addStake(A, 100);
    await chain.commit(B, '{"bucket":"b1"}');
    assert.deepEqual(await chain.commitments(), { 1: '{"bucket":"b1"}' });
    await assert.rejects(chain.setWeights(B, [2], [1]), (e: unknown) => e instanceof ChainError && e.code === 'no_permit');
    await chain.setWeights(A, [1, 2], [1, 3]);
    const head = await chain.head();
    await chain.waitForBlock(head.height + 5, 5000); // at least one epoch after the weights
    const m = await chain.metagraph();
    assert.deepEqual(m.hotkeys, [alice.address, bob.address, charlie.address]);
    assert.deepEqual(m.Incentive, [0, 0.25, 0.75]);
    assert.deepEqual(m.Dividends, [1, 0, 0]);
    assert.ok(m.lastEpoch > head.height && m.lastEpoch % 4 === 0);
    assert.ok((await chain.blockTimestamp(m.block)) >= (await chain.blockTimestamp(head.height)));
    await assert.rejects(chain.waitForBlock(m.block + 1000, 150), (e: unknown) => e instanceof ChainError && e.code === 'timeout');

    // Forgeries, straight over HTTP.
    const call: UnsignedCall = { method: 'commit', params: { hotkey: alice.address, data: 'x' }, hotkey: alice.address, nonce: Date.now() + 1e6 };
    const good = signed(server.chainId, alice, call);
    const flipped = { ...good, signature: good.signature.slice(0, -2) + (good.signature.endsWith('00') ? '01' : '00') };
    let r = await post(server.url, flipped);
    assert.equal(r.status, 401); assert.equal(r.json.error?.code, 'bad_signature');
    r = await post(server.url, { ...signed(server.chainId, alice, call), hotkey: bob.address }); // claims to be bob
    assert.equal(r.json.error?.code, 'bad_signature');
    r = await post(server.url, signed(server.chainId, alice, { ...call, params: { hotkey: bob.address, data: 'x' } })); // acts for bob
    assert.equal(r.status, 403); assert.equal(r.json.error?.code, 'wrong_hotkey');
    r = await post(server.url, signed('0xother', alice, call)); // signed for another chain
    assert.equal(r.json.error?.code, 'bad_signature');
    assert.equal((await post(server.url, good)).status, 200);
    r = await post(server.url, good); // replay
    assert.equal(r.status, 409); assert.equal(r.json.error?.code, 'nonce_used'); assert.equal(r.json.error?.details?.duplicate, true);
    r = await post(server.url, signed(server.chainId, alice, { ...call, params: { hotkey: alice.address, data: 'y' } })); // new content, old nonce
    assert.equal(r.json.error?.code, 'nonce_used'); assert.equal(r.json.error?.details?.duplicate, false);
    r = await post(server.url, { method: 'mint', params: {}, hotkey: alice.address, nonce: 1, signature: good.signature });
    assert.equal(r.status, 400); assert.match(String(r.json.error?.hint), /method, params, hotkey, nonce, signature/);
    await chain.commit(A, 'z'); // the client resyncs past the high nonce used above
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('anchors over HTTP: recorded with the including block, whose timestamp the chain serves; conflicts are refused', async () => {
  const dir = tmp();
  const server = await startDevnetChainServer({ dir, blockMs: 40 });
  try {
    const chain = new DevnetChainClient({ url: server.url, retries: 2, backoffMs: 50 });
    const [A, B, C] = [alice, bob, charlie].map(signer);
    await chain.register(A); await chain.register(B); await chain.register(C);
    const d1 = 'c'.repeat(64), d2 = 'd'.repeat(64);
    const before = await chain.head();
    await chain.anchor(B, 5, d1);
    await chain.anchor(A, 5, d2);
    const got = await chain.anchors(5);
    assert.deepEqual(got.map((a) => [a.uid, a.digest]), [[0, d2], [1, d1]]);
    const block = got[1].block;
    assert.ok(block > before.height, `anchored in block ${block}, head was ${before.height}`);
    await chain.waitForBlock(block, 5000);
    const ts = await chain.blockTimestamp(block);
    assert.ok(ts >= before.timestamp && ts <= Date.now());
    assert.deepEqual(await chain.anchors(6), []);

    await chain.anchor(B, 5, d1); // same digest again: a no-op
    assert.deepEqual(await chain.anchors(5), got);
    await assert.rejects(chain.anchor(B, 5, d2), (e: unknown) => e instanceof ChainError && e.code === 'anchored' && /window 5/.test(e.message) && e.details?.block === block);
    const call: UnsignedCall = { method: 'anchor', params: { hotkey: bob.address, window: 5, digest: d2 }, hotkey: bob.address, nonce: Date.now() + 1e6 };
    const r = await post(server.url, signed(server.chainId, bob, call));
    assert.equal(r.status, 409); assert.equal(r.json.error?.code, 'anchored');
    await assert.rejects(chain.anchor(B, 6, 'D'.repeat(64)), (e: unknown) => e instanceof ChainError && e.code === 'bad_request');
    const q = await fetch(`${server.url}/anchors?window=-1`);
    assert.equal(q.status, 400);

    // A reply lost after the write: the client signs the same call again (same nonce) and takes the first result.
    const now = Date.now() + 5e6;
    const again = (): DevnetChainClient => new DevnetChainClient({ url: server.url, now: () => now });
    await again().anchor(C, 7, d1);
    await again().anchor(C, 7, d1);
    assert.deepEqual((await chain.anchors(7)).map((a) => [a.uid, a.digest]), [[2, d1]]);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('graceful restart resumes at exactly the same height with the same chain id', async () => {
  const dir = tmp();
  let server = await startDevnetChainServer({ dir, blockMs: 30 });
  const chain1 = new DevnetChainClient({ url: server.url });
  await chain1.register(signer(alice));
  await chain1.waitForBlock(3, 3000);
  const { chainId } = server;
  await server.close();
  const h = JSON.parse(readFileSync(join(dir, 'chain-state.json'), 'utf8')).height as number;
  server = await startDevnetChainServer({ dir, blockMs: 5000 });
  try {
    const chain2 = new DevnetChainClient({ url: server.url });
    assert.equal(server.chainId, chainId);
    assert.equal((await chain2.head()).height, h);
    assert.deepEqual((await chain2.metagraph()).hotkeys, [alice.address]);
    const other = tmp();
    await assert.rejects(startDevnetChainServer({ dir: other, port: server.port }), /cannot listen/);
    rmSync(other, { recursive: true, force: true });
    await assert.rejects(startDevnetChainServer({ dir, tempo: 99 }), /created with tempo = 10, not 99/);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

// The devnet as its own process, as `tessera chain` runs it.
const INDEX = pathToFileURL(fileURLToPath(new URL('./index.js', import.meta.url))).href;
async function spawnServer(dir: string, port: number): Promise<{ child: ChildProcess; port: number }> {
  const script = `const { startDevnetChainServer } = await import(${JSON.stringify(INDEX)});
    const s = await startDevnetChainServer({ dir: process.env.DIR, port: Number(process.env.PORT), blockMs: 60 });
    process.stdout.write(JSON.stringify({ port: s.port }) + '\\n');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, DIR: dir, PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => { buf += d; if (buf.includes('\n')) resolve(buf.split('\n')[0]); });
    child.once('exit', (c) => reject(new Error(`devnet process exited with ${c}`)));
  });
  return { child, port: (JSON.parse(line) as { port: number }).port };
}
const kill = (c: ChildProcess): Promise<void> => new Promise((resolve) => {
  if (c.exitCode !== null || c.signalCode !== null) return resolve();
  c.once('exit', () => resolve()); c.kill('SIGKILL');
});

test('SIGKILL → restart from the same dir keeps height, registrations, commitments; a client retries through it', async () => {
  const dir = tmp();
  let { child, port } = await spawnServer(dir, 0);
  try {
    const chain = new DevnetChainClient({ url: `http://127.0.0.1:${port}`, retries: 40, backoffMs: 50, maxBackoffMs: 200 });
    const [A, B] = [alice, bob].map(signer);
    await chain.register(A); await chain.register(B);
    await chain.commit(B, 'bucket-b');
    const before = await chain.waitForBlock(4, 5000);
    await kill(child);
    await assert.rejects(new DevnetChainClient({ url: `http://127.0.0.1:${port}`, retries: 0 }).head(), (e: unknown) => e instanceof ChainError && e.code === 'unavailable');
    const pending = chain.register(signer(dave)); // retries while the chain is down
    await new Promise((r) => setTimeout(r, 500));
    ({ child } = await spawnServer(dir, port));
    assert.equal(await pending, 2);
    const m = await chain.metagraph();
    assert.ok(m.block >= before.height, `resumed at ${m.block}, had reached ${before.height}`);
    assert.deepEqual(m.hotkeys, [alice.address, bob.address, dave.address]);
    assert.deepEqual(await chain.commitments(), { 1: 'bucket-b' });
    await chain.waitForBlock(m.block + 2, 3000); // and it keeps producing blocks
  } finally {
    await kill(child);
    rmSync(dir, { recursive: true, force: true });
  }
});

// The devnet chain's answers to the security probe (docs/security.md), one test per finding: bounded
// stake and totals, state checked field by field on load, a block timer that survives a failing
// epoch, registration rate limit and uid replacement, journal persistence, connection and request
// limits, ETags on the large reads, and the capped faucet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import {
  anchorsOf, applyCall, ChainError, DevnetChainClient, genesis, IMMUNITY_PERIOD, JOURNAL_FILE, loadState, MAX_STAKE_PER_HOTKEY, MAX_TOTAL_STAKE, metagraphOf,
  produceBlock, REGISTRATIONS_PER_BLOCK, startDevnetChainServer, STATE_FILE, DEFAULT_PARAMS, HEADERS_TIMEOUT_MS, REQUEST_TIMEOUT_MS, MAX_CONNECTIONS,
  type DevnetState, type UnsignedCall, type WriteMethod,
} from './index.js';
import { signer } from '../wallet/index.js';

await cryptoWaitReady();
const keyring = new Keyring({ type: 'sr25519', ss58Format: 42 });
const pair = (i: number): ReturnType<Keyring['addFromUri']> => keyring.addFromUri(`//security-${i}`);
const tmp = (): string => mkdtempSync(join(tmpdir(), 'tessera-security-'));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let nonce = 0;
const call = (hotkey: string, method: WriteMethod, params: Record<string, unknown> = {}): UnsignedCall =>
  ({ method, hotkey, nonce: ++nonce, params: { hotkey, ...params } });
const apply = (s: DevnetState, c: UnsignedCall): DevnetState => applyCall(s, c).state;
const blocks = (s: DevnetState, k: number): DevnetState => { for (let i = 0; i < k; i++) s = produceBlock(s, s.timestamp + 1); return s; };
const isCode = (code: string) => (e: unknown): boolean => e instanceof ChainError && e.code === code;

test('finding 1: addStake 1.7e308 twice keeps the stake finite and capped; the next epoch runs and the state reloads', async () => {
  let s = genesis('0xchain', { ...DEFAULT_PARAMS, tempo: 2 }, 0);
  s = apply(s, call('v', 'register'));
  s = apply(s, call('v', 'addStake', { amount: 1.7e308 }));
  assert.equal(s.neurons[0].stake, MAX_STAKE_PER_HOTKEY);
  assert.throws(() => applyCall(s, call('v', 'addStake', { amount: 1.7e308 })), isCode('bad_request'), 'the cap is reached');
  for (const amount of [Infinity, NaN, -1, 0, '5', null]) assert.throws(() => applyCall(s, call('v', 'addStake', { amount })), isCode('bad_request'));
  s = blocks(s, 2);
  assert.equal(s.epoch?.block, 2, 'the epoch ran');
  assert.ok(s.epoch!.Emission.every(Number.isFinite));
  const dir = tmp();
  try {
    writeFileSync(join(dir, STATE_FILE), JSON.stringify(s));
    assert.equal((await loadState(dir))!.neurons[0].stake, MAX_STAKE_PER_HOTKEY);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('finding 1: over HTTP, two addStake(1.7e308) leave a chain that keeps producing blocks and restarts', async () => {
  const dir = tmp();
  let server = await startDevnetChainServer({ dir, blockMs: 30, tempo: 2 });
  try {
    const chain = new DevnetChainClient({ url: server.url, retries: 2, backoffMs: 50 });
    const v = signer(pair(1));
    await chain.register(v);
    await chain.addStake(v, 1.7e308);
    await assert.rejects(chain.addStake(v, 1.7e308), isCode('bad_request'));
    const h = (await chain.head()).height;
    await chain.waitForBlock(h + 5, 5000); // two epochs later
    const m = await chain.metagraph();
    assert.equal(m.stake[0], MAX_STAKE_PER_HOTKEY);
    assert.ok(m.lastEpoch > h && m.Emission[0] > 0);
    await server.close();
    server = await startDevnetChainServer({ dir, blockMs: 30 });
    const again = new DevnetChainClient({ url: server.url, retries: 2, backoffMs: 50 });
    await again.waitForBlock(m.block + 3, 5000);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('finding 1: a state file with null (or non-finite) numbers is refused with a message naming the field, on load and on start', async () => {
  let s = genesis('0xchain', DEFAULT_PARAMS, 0);
  s = apply(s, call('v', 'register'));
  s = apply(s, call('m', 'register'));
  s = apply(s, call('v', 'addStake', { amount: 10 }));
  s = blocks(s, DEFAULT_PARAMS.tempo);
  const cases: Array<[string, (x: Record<string, any>) => void]> = [
    ['neurons[0].stake', (x) => { x.neurons[0].stake = null; }],                // JSON of Infinity
    ['neurons[1].stake', (x) => { x.neurons[1].stake = 1e300; }],               // above MAX_STAKE_PER_HOTKEY
    ['neurons[1].totalEmission', (x) => { x.neurons[1].totalEmission = null; }],
    ['epoch.Emission[0]', (x) => { x.epoch.Emission[0] = null; }],
    ['params.kappa', (x) => { x.params.kappa = null; }],
    ['history.timestamps[3]', (x) => { x.history.timestamps[3] = null; }],
    ['ownerEmission', (x) => { x.ownerEmission = null; }],
    ['height', (x) => { x.height = 1.5; }],
  ];
  for (const [field, spoil] of cases) {
    const dir = tmp();
    try {
      const bad = JSON.parse(JSON.stringify(s)) as Record<string, any>;
      spoil(bad);
      writeFileSync(join(dir, STATE_FILE), JSON.stringify(bad));
      const names = (e: unknown): boolean => e instanceof Error && e.message.includes(`field ${field} `) && /refuses to start/.test(e.message) && /fresh chain/.test((e as { hint?: string }).hint ?? '');
      await assert.rejects(loadState(dir), names, field);
      await assert.rejects(startDevnetChainServer({ dir, blockMs: 20 }), names, field);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('finding 1: an epoch that throws is reported and the block is sealed without it (the block timer goes on)', () => {
  let s = genesis('0xchain', { ...DEFAULT_PARAMS, tempo: 2 }, 0);
  s = apply(s, call('v', 'register'));
  s = blocks(s, 2);
  const before = s.epoch;
  // A state no call can produce any more (a non-finite stake), given straight to the state machine.
  const broken: DevnetState = { ...s, neurons: s.neurons.map((x) => ({ ...x, stake: Infinity })) };
  const errors: Error[] = [];
  const next = blocks(produceBlock(broken, 10, (e) => errors.push(e)), 0);
  assert.equal(next.height, 3);
  const at4 = produceBlock(next, 11, (e) => errors.push(e));
  assert.equal(at4.height, 4, 'block 4 is sealed although its epoch failed');
  assert.equal(at4.epoch, before, 'the previous epoch results stay');
  assert.equal(errors.length, 1);
  assert.match(errors[0].message, /stake\[0\]/);
  assert.doesNotThrow(() => produceBlock(next, 11), 'without a listener too');
});

test('finding 12: two stakes of 1.7e308 keep the stake sum finite and the epoch emits', () => {
  let s = genesis('0xchain', { ...DEFAULT_PARAMS, tempo: 2, maxAllowedUids: 2000 }, 0);
  s = apply(s, call('a', 'register'));
  s = apply(s, call('b', 'register'));
  s = apply(s, call('a', 'addStake', { amount: 1.7e308 }));
  s = apply(s, call('b', 'addStake', { amount: 1.7e308 }));
  const total = s.neurons.reduce((t, x) => t + x.stake, 0);
  assert.ok(Number.isFinite(total) && total <= MAX_TOTAL_STAKE);
  s = blocks(s, 2);
  const emitted = s.epoch!.Emission.reduce((t, x) => t + x, 0);
  assert.ok(Math.abs(emitted - 2 * DEFAULT_PARAMS.emissionPerBlock * (1 - DEFAULT_PARAMS.ownerCut)) < 1e-9, `emitted ${emitted}`);
  assert.ok(Math.abs(s.epoch!.Emission[0] - s.epoch!.Emission[1]) < 1e-12, 'equal stakes, equal dividends');
  // The total cap binds across hotkeys: a thousand hotkeys at the per-hotkey cap reach MAX_TOTAL_STAKE, not more.
  let t = genesis('0xchain', { ...DEFAULT_PARAMS, tempo: 1e6, maxAllowedUids: 1100 }, 0);
  for (let i = 0; i * MAX_STAKE_PER_HOTKEY < MAX_TOTAL_STAKE; i++) {
    if (i % REGISTRATIONS_PER_BLOCK === 0) t = produceBlock(t, i);
    t = apply(t, call(`h${i}`, 'register'));
    t = apply(t, call(`h${i}`, 'addStake', { amount: 1.7e308 }));
  }
  assert.equal(t.neurons.reduce((sum, x) => sum + x.stake, 0), MAX_TOTAL_STAKE);
  t = produceBlock(t, 0);
  t = apply(t, call('one-more', 'register'));
  assert.throws(() => applyCall(t, call('one-more', 'addStake', { amount: 1 })), isCode('bad_request'));
});

test('finding 9: registrations are rate limited per block (the client waits for the next block)', async () => {
  let s = genesis('0xchain', DEFAULT_PARAMS, 0);
  for (let i = 0; i < REGISTRATIONS_PER_BLOCK; i++) s = apply(s, call(`r${i}`, 'register'));
  assert.throws(() => applyCall(s, call('late', 'register')), (e: unknown) => isCode('rate_limited')(e) && (e as ChainError).details?.nextBlock === 2);
  s = apply(s, call('r0', 'register')); // an already registered hotkey does not count
  s = produceBlock(s, 1);
  assert.equal(applyCall(s, call('late', 'register')).result, REGISTRATIONS_PER_BLOCK);

  const dir = tmp();
  const server = await startDevnetChainServer({ dir, blockMs: 40 });
  try {
    const chain = new DevnetChainClient({ url: server.url, retries: 2, backoffMs: 50 });
    const k = 3 * REGISTRATIONS_PER_BLOCK + 1;
    const uids = await Promise.all(Array.from({ length: k }, (_, i) => chain.register(signer(pair(100 + i)))));
    assert.deepEqual([...uids].sort((a, b) => a - b), Array.from({ length: k }, (_, i) => i));
    const m = await chain.metagraph();
    const perBlock = new Map<number, number>();
    for (const b of m.blockAtRegistration) perBlock.set(b, (perBlock.get(b) ?? 0) + 1);
    assert.ok([...perBlock.values()].every((c) => c <= REGISTRATIONS_PER_BLOCK), JSON.stringify([...perBlock]));
    assert.ok(perBlock.size >= 4);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('finding 9: a full subnet takes newcomers by replacing the lowest-emission uid (non-immune and oldest first); exempt hotkeys stay', () => {
  let s = genesis('0xchain', { ...DEFAULT_PARAMS, maxAllowedUids: 4, tempo: 2 }, 0);
  s = { ...s, faucet: { cap: 100, exempt: ['val'] } };
  s = apply(s, call('val', 'register')); s = apply(s, call('good', 'register')); s = apply(s, call('idle1', 'register'));
  s = produceBlock(s, 1);
  s = apply(s, call('idle2', 'register'));
  s = apply(s, call('val', 'addStake', { amount: 1000 }));
  s = apply(s, call('val', 'setWeights', { uids: [1, 2], weights: [1, 0.000001] }));
  s = apply(s, call('idle1', 'anchor', { window: 3, digest: 'a'.repeat(64) }));
  s = blocks(s, 1); // epoch at block 2
  assert.ok(s.epoch!.Emission[1] > s.epoch!.Emission[2] && s.epoch!.Emission[2] > 0 && s.epoch!.Emission[3] === 0);

  // All immune: the lowest emission goes (idle2, uid 3), whatever its age.
  let r = applyCall(s, call('new1', 'register'));
  assert.equal(r.result, 3);
  s = r.state;
  assert.equal(metagraphOf(s).hotkeys[3], 'new1');
  assert.equal(s.neurons[3].registeredAt, 3);

  // Another epoch: uid 2 still earns a little, uid 3 (new1) nothing; past the immunity period the
  // non-immune among equals goes first, and the lowest emission before that.
  s = blocks(s, 1);
  s = apply(s, call('val', 'setWeights', { uids: [1], weights: [1] }));
  s = blocks(s, 2);
  assert.equal(s.epoch!.Emission[2], 0);
  assert.equal(s.epoch!.Emission[3], 0);
  // new1 (block 3) is younger than idle1 (block 1): both zero, both immune → the older (idle1) goes.
  r = applyCall(s, call('new2', 'register'));
  assert.equal(r.result, 2);
  assert.deepEqual(anchorsOf(r.state, 3), [], "the old hotkey's anchors go with its uid");
  assert.equal(r.state.neurons[2].stake, 0);
  assert.equal(r.state.epoch!.Emission[2], 0);
  s = r.state;
  // Past new2's immunity but not... make new1 non-immune only: at block 3 + IMMUNITY_PERIOD, new1 is not immune, new2 (later) is.
  while (s.height + 1 < 3 + IMMUNITY_PERIOD) s = produceBlock(s, s.timestamp + 1);
  s = { ...s, epoch: { ...s.epoch!, Emission: [5, 5, 0, 0] } };
  r = applyCall(s, call('new3', 'register'));
  assert.equal(r.result, 3, 'new1 (non-immune, zero emission) before new2 (immune, zero emission)');
  // Weights on a replaced uid are dropped, and exempt hotkeys are never replaced.
  s = { ...r.state, epoch: { ...r.state.epoch!, Emission: [0, 0, 0, 0] } };
  s = produceBlock(s, s.timestamp + 1);
  s = apply(s, call('val', 'setWeights', { uids: [1, 2, 3], weights: [1, 1, 1] }));
  s = produceBlock(s, s.timestamp + 1);
  r = applyCall(s, call('new4', 'register'));
  const gone = r.result as number;
  assert.ok(gone > 0, 'the exempt validator stays');
  assert.deepEqual(s.neurons[0].weights.map(([j]) => j), [1, 2, 3]);
  assert.deepEqual(r.state.neurons[0].weights.map(([j]) => j), [1, 2, 3].filter((j) => j !== gone), "the validator's weight on the replaced uid is gone");
  const allExempt = { ...s, faucet: { cap: 100, exempt: s.neurons.map((x) => x.hotkey) } };
  assert.throws(() => applyCall(allExempt, call('new5', 'register')), isCode('full'));
});

test('finding 11: a chain write appends a journal line instead of rewriting the whole state; a crash loses nothing acknowledged', async () => {
  const dir = tmp();
  const server = await startDevnetChainServer({ dir, blockMs: 60_000 }); // no block during the test
  try {
    const chain = new DevnetChainClient({ url: server.url, retries: 2, backoffMs: 50 });
    const v = signer(pair(1));
    await chain.register(v);
    const file = join(dir, STATE_FILE);
    const before = statSync(file);
    for (let i = 0; i < 20; i++) await chain.commit(v, `bucket-${i}-${'x'.repeat(1000)}`);
    const after = statSync(file);
    assert.equal(after.ino, before.ino, 'the state file was not replaced');
    assert.equal(after.mtimeMs, before.mtimeMs, 'the state file was not rewritten');
    const journal = readFileSync(join(dir, JOURNAL_FILE), 'utf8').trim().split('\n');
    assert.equal(journal.length, 21);
    // What a crash leaves: the files as they are now, with the server still running.
    const copy = tmp();
    try {
      cpSync(dir, copy, { recursive: true });
      const s = (await loadState(copy))!;
      assert.equal(s.neurons[0].commitment, `bucket-19-${'x'.repeat(1000)}`);
      writeFileSync(join(copy, JOURNAL_FILE), readFileSync(join(dir, JOURNAL_FILE), 'utf8') + '{"seq":99,"h":0,"ca'); // a torn last line
      assert.equal((await loadState(copy))!.neurons[0].commitment, `bucket-19-${'x'.repeat(1000)}`);
      const resumed = await startDevnetChainServer({ dir: copy, blockMs: 60_000 });
      try {
        assert.deepEqual(await new DevnetChainClient({ url: resumed.url }).commitments(), { 0: `bucket-19-${'x'.repeat(1000)}` });
      } finally {
        await resumed.close();
      }
      assert.equal(readFileSync(join(copy, JOURNAL_FILE), 'utf8'), '', 'a close writes a snapshot and empties the journal');
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

function openSocket(port: number): Promise<{ socket: Socket; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.resume(); // read (and drop) whatever comes, so the end of the stream is seen
    const t0 = Date.now();
    const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - t0)));
    socket.once('error', () => {});
    socket.once('connect', () => resolve({ socket, closed }));
    socket.once('error', reject);
  });
}
const within = <T>(p: Promise<T>, ms: number): Promise<T | 'open'> => Promise.race([p, sleep(ms).then(() => 'open' as const)]);

test('finding 11: connections are capped, a slow request is cut off in seconds, long polls still work', async () => {
  assert.ok(MAX_CONNECTIONS <= 1024 && HEADERS_TIMEOUT_MS <= 10_000 && REQUEST_TIMEOUT_MS <= 30_000, 'defaults: a bounded server, not 300 s');
  const dir = tmp();
  const server = await startDevnetChainServer({ dir, blockMs: 50, maxConnections: 3, headersTimeoutMs: 400, requestTimeoutMs: 600 });
  const sockets: Socket[] = [];
  try {
    const held = await Promise.all([0, 1, 2].map(() => openSocket(server.port)));
    sockets.push(...held.map((h) => h.socket));
    held[0].socket.write('GET /head HTTP/1.1\r\nHost: x\r\n'); // headers never finished
    const extra = await openSocket(server.port);
    sockets.push(extra.socket);
    assert.notEqual(await within(extra.closed, 1000), 'open', 'a connection over the cap is dropped');
    const slow = await within(held[0].closed, 4000);
    assert.notEqual(slow, 'open', 'a client that never finishes its headers is cut off');
    await Promise.all(held.map((h) => within(h.closed, 4000)));
    // A long poll outlives the request timeout: the request was complete, only the answer waits.
    const t0 = Date.now();
    const r = await fetch(`${server.url}/wait?height=1000000&timeoutMs=1500`);
    assert.equal(r.status, 200);
    assert.ok(Date.now() - t0 >= 1400, `answered after ${Date.now() - t0} ms`);
  } finally {
    sockets.forEach((s) => s.destroy());
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('finding 11: an unchanged /metagraph or /commitments costs no body (ETag, If-None-Match → 304)', async () => {
  const dir = tmp();
  const server = await startDevnetChainServer({ dir, blockMs: 30, tempo: 1000 }); // no epoch during the test
  try {
    const chain = new DevnetChainClient({ url: server.url, retries: 2, backoffMs: 50 });
    const v = signer(pair(1));
    await chain.register(v);
    await chain.commit(v, 'c'.repeat(4000));
    const m1 = await chain.metagraph();
    const c1 = await chain.commitments();
    await chain.waitForBlock(m1.block + 2, 5000);
    const bytes = chain.bytesRead;
    const m2 = await chain.metagraph();
    const c2 = await chain.commitments();
    assert.equal(chain.bytesRead, bytes, 'both answered 304');
    assert.ok(m2.block >= m1.block + 2 && m2.timestamp >= m1.timestamp, 'block and timestamp are current');
    assert.deepEqual({ ...m2, block: 0, timestamp: 0 }, { ...m1, block: 0, timestamp: 0 });
    assert.deepEqual(c2, c1);
    const fresh = await fetch(`${server.url}/metagraph`);
    assert.deepEqual({ ...(await fresh.json()), block: 0, timestamp: 0 }, { ...m2, block: 0, timestamp: 0 });
    const r = await fetch(`${server.url}/commitments`, { headers: { 'if-none-match': fresh.headers.get('etag')! } });
    assert.equal(r.status, 200, "the metagraph's tag is not the commitments'");
    await chain.commit(v, 'changed');
    assert.deepEqual(await chain.commitments(), { 0: 'changed' });
    assert.ok(chain.bytesRead > bytes);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('finding 7: the devnet faucet gives a newcomer at most its cap; the exempt validators keep the lead', async () => {
  const dir = tmp();
  const [val, val2, newcomer] = [pair(1), pair(2), pair(3)];
  let server = await startDevnetChainServer({ dir, blockMs: 40, faucetCap: 100, faucetExempt: [val.address, val2.address] });
  try {
    let chain = new DevnetChainClient({ url: server.url, retries: 2, backoffMs: 50 });
    for (const p of [val, val2, newcomer]) await chain.register(signer(p));
    await chain.addStake(signer(val), 1000);
    await chain.addStake(signer(val2), 500);
    await chain.addStake(signer(newcomer), 1e6); // asks for a million, gets the cap
    await assert.rejects(chain.addStake(signer(newcomer), 1), (e: unknown) => isCode('bad_request')(e) && /faucet/.test((e as Error).message));
    let m = await chain.metagraph();
    assert.deepEqual(m.stake, [1000, 500, 100]);
    await server.close();
    server = await startDevnetChainServer({ dir, blockMs: 40 }); // the settings are kept with the chain
    chain = new DevnetChainClient({ url: server.url, retries: 2, backoffMs: 50 });
    await assert.rejects(chain.addStake(signer(newcomer), 1), isCode('bad_request'));
    const other = pair(4);
    await chain.register(signer(other));
    await chain.addStake(signer(other), 50);
    await chain.addStake(signer(other), 80);
    m = await chain.metagraph();
    assert.deepEqual(m.stake, [1000, 500, 100, 100]);
    const bad = tmp();
    await assert.rejects(startDevnetChainServer({ dir: bad, faucetExempt: ['not-an-address'] }), /not a valid SS58/);
    rmSync(bad, { recursive: true, force: true });
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('finding 6: anchors carry their arrival order within a block; the observation order ranks an earlier anchor first', async () => {
  const { observationOrder } = await import('../protocol/index.js');
  let s = genesis('0xchain', { ...DEFAULT_PARAMS }, 0);
  for (const h of ['victim', 'parker', 'late']) s = apply(s, call(h, 'register'));
  s = blocks(s, 1);
  const d = (c: string): string => c.repeat(64);
  // Same block: the victim's anchor arrives first, the parker's (a copy of it) second.
  s = apply(s, call('victim', 'anchor', { window: 3, digest: d('a') }));
  s = apply(s, call('parker', 'anchor', { window: 3, digest: d('b') }));
  s = blocks(s, 1);
  s = apply(s, call('late', 'anchor', { window: 3, digest: d('c') }));
  const [victim, parker, late] = anchorsOf(s, 3);
  assert.deepEqual([victim!.index, parker!.index, late!.index], [0, 1, 0]);
  assert.equal(victim!.block, parker!.block);
  assert.ok(observationOrder(victim!) < observationOrder(parker!) && observationOrder(parker!) < observationOrder(late!));
  assert.equal(observationOrder({ block: 7 }), observationOrder({ block: 7, index: 0 }), 'a chain without indices orders by block');
});

// Wallets: keyfile written 0600 and never overwritten, reload gives the same key, the substrate
// dev phrase gives sp-core's DEV_ADDRESS (so btcli hotkeys match), btwallet files load, signatures verify.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync, readFileSync, writeFileSync, rmSync, chmodSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sr25519Verify } from '@polkadot/util-crypto';
import { createWallet, loadWallet, signer } from './index.js';
import { TesseraError } from '../util/errors.js';

const DEV_PHRASE = 'bottom drive obey lake curtain smoke basket hold race lonely fit walk';
const DEV_ADDRESS = '5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV'; // sp-core DEV_ADDRESS

test('create → 0600 keyfile with SS58 address; load gives the same pair; no overwrite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-wallet-'));
  try {
    const info = await createWallet(dir, 'miner1');
    assert.equal(statSync(info.file).mode & 0o777, 0o600);
    const kf = JSON.parse(readFileSync(info.file, 'utf8'));
    assert.equal(kf.address, info.address);
    assert.match(info.address, /^5[1-9A-HJ-NP-Za-km-z]{47}$/);
    assert.match(kf.publicKey, /^0x[0-9a-f]{64}$/);
    assert.equal(kf.mnemonic.split(' ').length, 12);
    const pair = await loadWallet(dir, 'miner1');
    assert.equal(pair.address, info.address);
    await assert.rejects(createWallet(dir, 'miner1'), (e: unknown) => e instanceof TesseraError && e.message.includes(info.file) && e.message.includes('already exists'));
    await assert.rejects(loadWallet(dir, 'nope'), (e: unknown) => e instanceof TesseraError && e.message.includes(join(dir, 'nope.json')));
    await assert.rejects(createWallet(dir, '../escape'), /not allowed/);

    const s = signer(pair), msg = new TextEncoder().encode('hello');
    assert.ok(sr25519Verify(msg, await s.sign(msg), pair.publicKey));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the substrate dev phrase derives sp-core DEV_ADDRESS; btwallet hotkey files load; tampering is caught', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-wallet-'));
  try {
    const info = await createWallet(dir, 'dev', { mnemonic: DEV_PHRASE });
    assert.equal(info.address, DEV_ADDRESS);
    assert.equal(info.publicKey, '0x46ebddef8cd9bb167dc30878d7113b7e168e6f0646beffd77d69d39bad76b47a');
    writeFileSync(join(dir, 'bt.json'), JSON.stringify({ secretPhrase: DEV_PHRASE, ss58Address: DEV_ADDRESS }));
    assert.equal((await loadWallet(dir, 'bt')).address, DEV_ADDRESS);
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ mnemonic: DEV_PHRASE, address: '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY' }));
    await assert.rejects(loadWallet(dir, 'bad'), /derives 5Dfh/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Finding 15 (issue 11): keyfile errors never echo the file, and loose or linked keyfiles are caught.
// The only phrase written here is the public substrate dev phrase; every file lives in a temp dir.
const posix = process.platform !== 'win32';
const DEV_WORDS = ['bottom', 'drive', 'obey', 'lake', 'curtain', 'smoke', 'basket', 'lonely'];
const mode = (p: string): number => statSync(p).mode & 0o777;
const tempDir = (): string => mkdtempSync(join(tmpdir(), 'tessera-wallet-'));
const noKeyMaterial = (e: unknown): boolean => {
  const text = `${(e as Error).message}\n${(e as TesseraError).hint ?? ''}\n${(e as Error).stack ?? ''}`.toLowerCase();
  return DEV_WORDS.every((w) => !text.includes(w)) && (e as { cause?: unknown }).cause === undefined;
};

test('finding 15: a corrupted keyfile error names the file and what to do, but echoes no part of the file', async () => {
  const dir = tempDir();
  try {
    const { file } = await createWallet(dir, 'dev', { mnemonic: DEV_PHRASE });
    // The phrase lost its opening quote: JSON.parse alone answers `Unexpected token 'b', ..."nemonic": bottom dri"...`.
    writeFileSync(file, readFileSync(file, 'utf8').replace(`"${DEV_PHRASE}"`, `${DEV_PHRASE}"`), { mode: 0o600 });
    await assert.rejects(loadWallet(dir, 'dev', { warn: () => {} }), (e: unknown) =>
      e instanceof TesseraError && e.message.includes(file) && /not a valid/.test(e.message)
      && /mnemonic|backup/.test(e.hint ?? '') && /tessera wallet create/.test(e.hint ?? '') && noKeyMaterial(e));
    for (const body of [`${DEV_PHRASE}\n`, `{"mnemonic": "${DEV_PHRASE}"`, 'null\n', `["${DEV_PHRASE}"]\n`]) {
      writeFileSync(file, body, { mode: 0o600 });
      await assert.rejects(loadWallet(dir, 'dev', { warn: () => {} }), (e: unknown) =>
        e instanceof TesseraError && e.message.includes(file) && /not a valid/.test(e.message) && noKeyMaterial(e));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('finding 15: a symlinked keyfile is refused with a clear message', { skip: !posix }, async () => {
  const dir = tempDir(), elsewhere = tempDir();
  try {
    const { file: target } = await createWallet(elsewhere, 'dev', { mnemonic: DEV_PHRASE });
    symlinkSync(target, join(dir, 'dev.json'));
    await assert.rejects(loadWallet(dir, 'dev', { warn: () => {} }), (e: unknown) =>
      e instanceof TesseraError && e.message.includes(join(dir, 'dev.json')) && /symbolic link/.test(e.message)
      && /replace the link/.test(e.hint ?? '') && noKeyMaterial(e));
    symlinkSync(join(elsewhere, 'missing.json'), join(dir, 'dangling.json')); // a dangling link is a link, not "does not exist"
    await assert.rejects(loadWallet(dir, 'dangling', { warn: () => {} }), /symbolic link/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(elsewhere, { recursive: true, force: true });
  }
});

test('finding 15: a 0666 keyfile loads with a warning and is tightened to 0600', { skip: !posix }, async () => {
  const dir = tempDir();
  try {
    const { file, address } = await createWallet(dir, 'dev', { mnemonic: DEV_PHRASE });
    chmodSync(file, 0o666);
    const warnings: string[] = [];
    assert.equal((await loadWallet(dir, 'dev', { warn: (m) => warnings.push(m) })).address, address);
    assert.equal(mode(file), 0o600);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /0666/);
    assert.match(warnings[0]!, /0600/);
    assert.ok(warnings[0]!.includes(file));
    assert.ok(warnings.every((w) => DEV_WORDS.every((x) => !w.includes(x))));
    const again: string[] = []; // fixed once, quiet afterwards
    await loadWallet(dir, 'dev', { warn: (m) => again.push(m) });
    assert.deepEqual(again, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('finding 15: a group/other-accessible wallet folder is warned about and tightened to 0700 on load', { skip: !posix }, async () => {
  const dir = tempDir();
  try {
    await createWallet(dir, 'dev', { mnemonic: DEV_PHRASE });
    chmodSync(dir, 0o755);
    const warnings: string[] = [];
    await loadWallet(dir, 'dev', { warn: (m) => warnings.push(m) });
    assert.equal(mode(dir), 0o700);
    assert.equal(warnings.length, 1);
    assert.ok(warnings[0]!.includes(dir));
    assert.match(warnings[0]!, /0755/);
    assert.match(warnings[0]!, /0700/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('finding 15: creating into an existing 0755 wallet dir tightens it to 0700', { skip: !posix }, async () => {
  const dir = tempDir();
  try {
    chmodSync(dir, 0o755);
    const warnings: string[] = [];
    const { file } = await createWallet(dir, 'dev', { mnemonic: DEV_PHRASE, warn: (m) => warnings.push(m) });
    assert.equal(mode(dir), 0o700);
    assert.equal(mode(file), 0o600);
    assert.equal(warnings.length, 1);
    assert.ok(warnings[0]!.includes(dir));
    const fresh = join(dir, 'sub', 'wallets'); // new folders are made 0700 and say nothing
    const quiet: string[] = [];
    await createWallet(fresh, 'dev', { mnemonic: DEV_PHRASE, warn: (m) => quiet.push(m) });
    assert.equal(mode(fresh), 0o700);
    assert.deepEqual(quiet, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

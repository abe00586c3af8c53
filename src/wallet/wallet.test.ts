// Wallets: keyfile written 0600 and never overwritten, reload gives the same key, the substrate
// dev phrase gives sp-core's DEV_ADDRESS (so btcli hotkeys match), btwallet files load, signatures verify.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
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

// btcli wallet files: a fixture made by PyNaCl (libsodium's argon2i + SecretBox, test/fixtures/btcli-wallet/make.py,
// bittensor-wallet's documented format) is read by tessera's code; a wrong password is a clear error; files
// tessera writes are read back by the same code. Each coldkey decryption costs one argon2i (512 MiB, 8 passes).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { TesseraError } from '../util/errors.js';
import { createBtWallet, isNaclEncrypted, loadBtColdkey, loadBtHotkey, readColdkeypub } from './btcli.js';

const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/btcli-wallet', import.meta.url));
// The BIP39 test-vector phrases make.py's keys were derived from; their SS58 addresses (prefix 42).
const COLD = '5EHgWw2Af1pnoc7f1A8bfmM97W3DAYW8xr82RfhLL9oAabAe';
const HOT = '5EtaiguVmKZ9Vewv7HkS86hWTS8Lf4twTSADg29PH5rM5Wng';

test('a btcli wallet made by PyNaCl: hotkey, coldkeypub and the decrypted coldkey give the expected keys', async () => {
  assert.equal((await loadBtHotkey(FIXTURE, 'fixture', 'default')).address, HOT);
  assert.equal(await readColdkeypub(FIXTURE, 'fixture'), COLD);
  const cold = await loadBtColdkey(FIXTURE, 'fixture', 'tessera-fixture-pw');
  assert.equal(cold.address, COLD);
  const msg = new TextEncoder().encode('tessera');
  assert.ok(cold.verify(msg, cold.sign(msg), cold.publicKey));
});

test('a wrong coldkey password is a TesseraError that says so, not a crash', async () => {
  await assert.rejects(loadBtColdkey(FIXTURE, 'fixture', 'not-the-password'),
    (e: unknown) => e instanceof TesseraError && /wrong password for the coldkey .*fixture\/coldkey/.test(e.message) && /password/.test(e.hint ?? ''));
  await assert.rejects(loadBtHotkey(FIXTURE, 'fixture', 'missing'), (e: unknown) => e instanceof TesseraError && /cannot read the hotkey/.test(e.message));
  await assert.rejects(loadBtHotkey(FIXTURE, '../etc', 'x'), (e: unknown) => e instanceof TesseraError && /not allowed/.test(e.message));
});

test('tessera writes btcli\'s layout (modes 0600/0700, $NACL coldkey) and reads it back; imports keep the mnemonic\'s address', async () => {
  const path = mkdtempSync(join(tmpdir(), 'tessera-btcli-'));
  try {
    const phrase = 'letter advice cage absurd amount doctor acoustic avoid letter advice cage above';
    const w = await createBtWallet(path, 'w1', 'miner', { password: 'pw-123456', hotkeyMnemonic: phrase });
    assert.equal(w.hotkeyAddress, HOT);
    assert.equal(statSync(join(path, 'w1')).mode & 0o777, 0o700);
    for (const f of [w.coldkey, w.coldkeypub, w.hotkey]) assert.equal(statSync(f).mode & 0o777, 0o600, f);
    assert.ok(isNaclEncrypted(new Uint8Array(readFileSync(w.coldkey))));
    assert.ok(!readFileSync(w.coldkey).includes(Buffer.from(w.coldkeyMnemonic)), 'the coldkey file does not hold the phrase in clear');
    assert.equal((await loadBtHotkey(path, 'w1', 'miner')).address, HOT);
    assert.equal(await readColdkeypub(path, 'w1'), w.coldkeyAddress);
    assert.equal((await loadBtColdkey(path, 'w1', 'pw-123456')).address, w.coldkeyAddress);
    await assert.rejects(createBtWallet(path, 'w1', 'miner', { password: 'pw-123456' }), /already exists/);
  } finally {
    rmSync(path, { recursive: true, force: true });
  }
});

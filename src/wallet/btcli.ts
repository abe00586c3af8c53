// Wallets as btcli / bittensor-wallet keep them: <path>/<wallet>/coldkey (encrypted), coldkeypub.txt and
// hotkeys/<name> (plain JSON). Keyfile JSON: accountId, publicKey, privateKey, secretPhrase, secretSeed,
// ss58Address. Encryption ("$NACL"): key = argon2i(password, fixed 16-byte salt, libsodium's SENSITIVE
// limits: 8 passes, 512 MiB), then "$NACL" + 24-byte nonce + XSalsa20-Poly1305 secretbox (MAC first).
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { argon2i } from 'hash-wasm';
import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import { u8aToHex } from '@polkadot/util';
import { cryptoWaitReady, mnemonicGenerate, mnemonicToMiniSecret, mnemonicValidate, naclDecrypt, naclEncrypt, randomAsU8a } from '@polkadot/util-crypto';
import { TesseraError } from '../util/errors.js';
import { SS58_PREFIX } from '../chain/types.js';

/** btcli's default wallet folder. */
export const BTCLI_WALLET_PATH = join(homedir(), '.bittensor', 'wallets');
/** bittensor-wallet's fixed argon2i salt (keyfile.rs NACL_SALT). */
export const NACL_SALT = Uint8Array.from([0x13, 0x71, 0x83, 0xdf, 0xf1, 0x5a, 0x09, 0xbc, 0x9c, 0x90, 0xb5, 0x51, 0x87, 0x39, 0xe9, 0xb1]);
/** libsodium crypto_pwhash_argon2i OPSLIMIT_SENSITIVE / MEMLIMIT_SENSITIVE (what bittensor-wallet derives the key with). */
export const ARGON2I_SENSITIVE = { iterations: 8, memoryKiB: 512 * 1024, parallelism: 1 } as const;
const MAGIC = new TextEncoder().encode('$NACL');

/** The secretbox key for a password (argon2i, fixed salt, SENSITIVE limits): seconds and 512 MiB. */
export async function keyfileKey(password: string): Promise<Uint8Array> {
  return argon2i({
    password, salt: NACL_SALT, iterations: ARGON2I_SENSITIVE.iterations, memorySize: ARGON2I_SENSITIVE.memoryKiB,
    parallelism: ARGON2I_SENSITIVE.parallelism, hashLength: 32, outputType: 'binary',
  });
}

export const isNaclEncrypted = (data: Uint8Array): boolean => data.length > MAGIC.length && MAGIC.every((b, i) => data[i] === b);

export async function encryptKeyfileData(data: Uint8Array, password: string): Promise<Uint8Array> {
  const { encrypted, nonce } = naclEncrypt(data, await keyfileKey(password), randomAsU8a(24));
  return Uint8Array.from([...MAGIC, ...nonce, ...encrypted]);
}

/** Decrypts "$NACL" keyfile data; a wrong password is a TesseraError naming the file. */
export async function decryptKeyfileData(data: Uint8Array, password: string, file: string): Promise<Uint8Array> {
  if (!isNaclEncrypted(data)) throw new TesseraError(`${file} is not a $NACL-encrypted keyfile`, 'tessera reads coldkeys encrypted by bittensor-wallet 2+ (btcli w new_coldkey); re-create or re-encrypt it with btcli');
  const body = data.subarray(MAGIC.length);
  const plain = naclDecrypt(body.subarray(24), body.subarray(0, 24), await keyfileKey(password));
  if (!plain) throw new TesseraError(`wrong password for the coldkey ${file}`, 'type the password you chose when the coldkey was created (btcli asks for the same one)');
  return plain;
}

interface KeyfileJson { accountId?: string; publicKey?: string; privateKey?: string; secretPhrase?: string; secretSeed?: string; ss58Address?: string }

async function pairOf(k: KeyfileJson, file: string): Promise<KeyringPair> {
  await cryptoWaitReady();
  const keyring = new Keyring({ type: 'sr25519', ss58Format: SS58_PREFIX });
  let pair: KeyringPair;
  if (k.secretPhrase) {
    if (!mnemonicValidate(k.secretPhrase)) throw new TesseraError(`the secretPhrase in ${file} is not a valid BIP39 phrase`, 'restore the wallet from your mnemonic backup (tessera wallet import)');
    pair = keyring.addFromMnemonic(k.secretPhrase);
  } else if (k.secretSeed && /^0x[0-9a-fA-F]{64}$/.test(k.secretSeed)) {
    pair = keyring.addFromSeed(Buffer.from(k.secretSeed.slice(2), 'hex'));
  } else {
    throw new TesseraError(`${file} holds no secretPhrase or secretSeed`, 'tessera needs one of them to sign; restore the wallet from its mnemonic (tessera wallet import)');
  }
  if (k.ss58Address && k.ss58Address !== pair.address) throw new TesseraError(`${file}: its ss58Address does not match its key`, 'the file is damaged: restore it from your mnemonic backup');
  return pair;
}

/**
 * Keyfile JSON in bittensor-wallet's field names. privateKey is left out (bittensor-wallet treats it as
 * optional and reads secretPhrase first; its 64-byte layout is schnorrkel's, which tessera does not produce).
 */
export function keyfileJson(mnemonic: string): string {
  const pair = new Keyring({ type: 'sr25519', ss58Format: SS58_PREFIX }).addFromMnemonic(mnemonic);
  const pub = u8aToHex(pair.publicKey);
  return JSON.stringify({ accountId: pub, publicKey: pub, secretPhrase: mnemonic, secretSeed: u8aToHex(mnemonicToMiniSecret(mnemonic)), ss58Address: pair.address });
}

const pubJson = (pair: KeyringPair): string => JSON.stringify({ accountId: u8aToHex(pair.publicKey), publicKey: u8aToHex(pair.publicKey), ss58Address: pair.address });

export const walletNameOk = (name: string): boolean => /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/.test(name);
function checkNames(...names: string[]): void {
  for (const n of names) if (!walletNameOk(n)) throw new TesseraError(`wallet or hotkey name ${JSON.stringify(n)} is not allowed`, 'use letters, digits, _ . - (no slashes), at most 64 characters');
}

export interface BtWalletFiles { coldkey: string; coldkeypub: string; hotkey: string; coldkeyAddress: string; hotkeyAddress: string }

/**
 * Writes <path>/<wallet>/coldkey (encrypted with `password`), coldkeypub.txt and hotkeys/<hotkey>
 * (files 0600, folders 0700); refuses to overwrite. Mnemonics are generated unless given (import).
 */
export async function createBtWallet(path: string, wallet: string, hotkey: string, o: { password: string; coldkeyMnemonic?: string; hotkeyMnemonic?: string }): Promise<BtWalletFiles & { coldkeyMnemonic: string; hotkeyMnemonic: string }> {
  checkNames(wallet, hotkey);
  if (o.password.length < 6) throw new TesseraError('the coldkey password is shorter than 6 characters', 'choose a longer password (btcli asks for at least 6)');
  await cryptoWaitReady();
  const coldM = o.coldkeyMnemonic ?? mnemonicGenerate(12), hotM = o.hotkeyMnemonic ?? mnemonicGenerate(12);
  for (const m of [coldM, hotM]) if (!mnemonicValidate(m)) throw new TesseraError('the mnemonic is not a valid BIP39 phrase', 'check the words and their order');
  const dir = join(path, wallet);
  await mkdir(join(dir, 'hotkeys'), { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const files = { coldkey: join(dir, 'coldkey'), coldkeypub: join(dir, 'coldkeypub.txt'), hotkey: join(dir, 'hotkeys', hotkey) };
  const keyring = new Keyring({ type: 'sr25519', ss58Format: SS58_PREFIX });
  const cold = keyring.addFromMnemonic(coldM), hot = keyring.addFromMnemonic(hotM);
  const write = async (file: string, data: string | Uint8Array): Promise<void> => {
    try {
      await writeFile(file, data, { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new TesseraError(`${file} already exists; not overwriting it`, 'pick another --wallet-name / --hotkey, or remove the old files yourself');
      throw new TesseraError(`cannot write ${file}: ${(e as Error).message}`, 'check that the wallet path is writable');
    }
  };
  if (!o.coldkeyMnemonic || !(await exists(files.coldkey))) {
    await write(files.coldkey, await encryptKeyfileData(new TextEncoder().encode(keyfileJson(coldM)), o.password));
    await write(files.coldkeypub, pubJson(cold));
  }
  await write(files.hotkey, keyfileJson(hotM));
  return { ...files, coldkeyAddress: cold.address, hotkeyAddress: hot.address, coldkeyMnemonic: coldM, hotkeyMnemonic: hotM };
}

async function exists(file: string): Promise<boolean> {
  try { await readFile(file); return true; } catch { return false; }
}

async function readKeyfile(file: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(file));
  } catch (e) {
    throw new TesseraError(`cannot read the ${what} ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'check --wallet-path, --wallet-name and --hotkey (btcli w list shows your wallets)');
  }
}

function parseJson(bytes: Uint8Array, file: string): KeyfileJson {
  try {
    const v = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    if (typeof v !== 'object' || v === null) throw new Error('not an object');
    return v as KeyfileJson;
  } catch {
    throw new TesseraError(`${file} is not a keyfile (JSON expected; its content is not shown, it may hold a secret)`, 'restore it from your mnemonic backup (tessera wallet import)');
  }
}

/** The hotkey pair of hotkeys/<hotkey> (what a running miner or validator needs; never the coldkey). */
export async function loadBtHotkey(path: string, wallet: string, hotkey: string): Promise<KeyringPair> {
  checkNames(wallet, hotkey);
  const file = join(path, wallet, 'hotkeys', hotkey);
  const data = await readKeyfile(file, 'hotkey');
  if (isNaclEncrypted(data)) throw new TesseraError(`the hotkey ${file} is encrypted`, 'tessera reads unencrypted hotkeys, as btcli writes them by default');
  return pairOf(parseJson(data, file), file);
}

/** The coldkey's address from coldkeypub.txt (no password). */
export async function readColdkeypub(path: string, wallet: string): Promise<string> {
  checkNames(wallet);
  const file = join(path, wallet, 'coldkeypub.txt');
  const k = parseJson(await readKeyfile(file, 'coldkeypub'), file);
  if (!k.ss58Address) throw new TesseraError(`${file} has no ss58Address`, 'restore it: btcli w regen_coldkeypub');
  return k.ss58Address;
}

/** The coldkey pair, decrypted with the password (registration and staking only). */
export async function loadBtColdkey(path: string, wallet: string, password: string): Promise<KeyringPair> {
  checkNames(wallet);
  const file = join(path, wallet, 'coldkey');
  const plain = await decryptKeyfileData(await readKeyfile(file, 'coldkey'), password, file);
  return pairOf(parseJson(plain, file), file);
}

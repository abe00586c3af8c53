// Hotkey wallets: sr25519 keys from a BIP39 mnemonic (substrate derivation, the same as Bittensor's
// btcli/btwallet, so one mnemonic gives the same SS58 address), SS58 prefix 42, keyfiles mode 0600.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import { cryptoWaitReady, mnemonicGenerate, mnemonicValidate } from '@polkadot/util-crypto';
import { TesseraError } from '../util/errors.js';
import { SS58_PREFIX, type Signer } from '../chain/index.js';

export const KEYFILE_FORMAT = 'tessera-wallet';

/** Keyfile JSON. The mnemonic is stored unencrypted (like btwallet's default hotkey files): keep the file private. */
export interface Keyfile {
  format: typeof KEYFILE_FORMAT;
  version: 1;
  name: string;
  crypto: 'sr25519';
  ss58Format: number;
  address: string;
  publicKey: string; // 0x-hex
  mnemonic: string;
}

export interface WalletInfo {
  file: string;
  address: string;
  publicKey: string;
}

export const keyfilePath = (dir: string, name: string): string => join(dir, `${name}.json`);

function checkName(name: string): void {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/.test(name)) {
    throw new TesseraError(`wallet name ${JSON.stringify(name)} is not allowed`, 'use letters, digits, _ . - (no slashes), at most 64 characters');
  }
}

async function pairFromMnemonic(mnemonic: string, file: string): Promise<KeyringPair> {
  await cryptoWaitReady();
  if (!mnemonicValidate(mnemonic)) throw new TesseraError(`the mnemonic in ${file} is not a valid BIP39 phrase`, 'restore the file from your backup of the phrase');
  return new Keyring({ type: 'sr25519', ss58Format: SS58_PREFIX }).addFromMnemonic(mnemonic);
}

const hex = (b: Uint8Array): string => '0x' + Buffer.from(b).toString('hex');

/**
 * Creates `<dir>/<name>.json` with a new (or the given) mnemonic; refuses to overwrite an existing
 * file. Returns the file, SS58 address and public key — back up the mnemonic inside the file.
 */
export async function createWallet(dir: string, name: string, opts: { mnemonic?: string } = {}): Promise<WalletInfo> {
  checkName(name);
  const file = keyfilePath(dir, name);
  await cryptoWaitReady();
  const mnemonic = opts.mnemonic ?? mnemonicGenerate(12);
  const pair = await pairFromMnemonic(mnemonic, file);
  const keyfile: Keyfile = {
    format: KEYFILE_FORMAT, version: 1, name, crypto: 'sr25519', ss58Format: SS58_PREFIX,
    address: pair.address, publicKey: hex(pair.publicKey), mnemonic,
  };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    await writeFile(file, JSON.stringify(keyfile, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new TesseraError(`wallet ${file} already exists; not overwriting it`, 'pick another name, or use loadWallet to open the existing one');
    }
    throw new TesseraError(`cannot write wallet ${file}: ${(e as Error).message}`, 'check that the wallet directory is writable');
  }
  return { file, address: keyfile.address, publicKey: keyfile.publicKey };
}

/**
 * Opens `<dir>/<name>.json`: a tessera keyfile, or a Bittensor btwallet hotkey file (unencrypted
 * JSON with `secretPhrase`). Checks that the stored address matches the key derived from the phrase.
 */
export async function loadWallet(dir: string, name: string): Promise<KeyringPair> {
  checkName(name);
  const file = keyfilePath(dir, name);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new TesseraError(`wallet ${file} does not exist`, `create it first (createWallet / \`tessera wallet create --name ${name}\`)`);
    throw new TesseraError(`cannot read wallet ${file}: ${err.message}`, 'the keyfile must be JSON written by createWallet');
  }
  const mnemonic = typeof json.mnemonic === 'string' ? json.mnemonic : typeof json.secretPhrase === 'string' ? json.secretPhrase : undefined;
  if (!mnemonic) throw new TesseraError(`wallet ${file} holds no mnemonic (neither "mnemonic" nor btwallet's "secretPhrase")`, 'encrypted btwallet files are not supported: regenerate the hotkey from its phrase');
  const pair = await pairFromMnemonic(mnemonic, file);
  const stored = json.address ?? json.ss58Address;
  if (typeof stored === 'string' && stored !== pair.address) {
    throw new TesseraError(`wallet ${file} says address ${stored} but its mnemonic derives ${pair.address}`, 'the file was edited or corrupted: restore it from your backup');
  }
  return pair;
}

/** The chain-facing Signer of a hotkey pair. */
export function signer(pair: KeyringPair): Signer {
  return { address: pair.address, sign: async (message: Uint8Array): Promise<Uint8Array> => pair.sign(message) };
}

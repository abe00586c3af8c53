// Hotkey wallets: sr25519 keys from a BIP39 mnemonic (substrate derivation, the same as Bittensor's
// btcli/btwallet, so one mnemonic gives the same SS58 address), SS58 prefix 42, keyfiles mode 0600 in
// folders mode 0700. Errors never quote a keyfile (V8's JSON.parse messages excerpt the text, which
// may be the mnemonic); a symlinked keyfile is refused; a keyfile or folder that group/others can
// reach is warned about and, when it is the user's own, tightened (0600 / 0700) on load and on create.
import { constants } from 'node:fs';
import { chmod, lstat, mkdir, open, stat, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
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

export interface WalletOptions {
  /** Where warnings about loose modes go (they never hold key material); default: stderr. */
  warn?: (message: string) => void;
}

const defaultWarn = (message: string): void => console.warn(`warning: ${message}`);
const POSIX = process.platform !== 'win32';
const octal = (mode: number): string => '0' + (mode & 0o777).toString(8).padStart(3, '0');

/**
 * Group/other bits on a keyfile or its folder: warn, and when the current user owns it, drop those
 * bits (0666 → 0600, 0755 → 0700) and say so. Someone else's file is only warned about.
 */
async function tighten(
  what: 'keyfile' | 'folder', path: string, st: { mode: number; uid: number },
  chmodTo: (mode: number) => Promise<void>, warn: (message: string) => void,
): Promise<void> {
  if (!POSIX || (st.mode & 0o077) === 0) return;
  const was = st.mode & 0o777, want = was & 0o700;
  const risk = what === 'keyfile'
    ? `other users on this machine could ${(was & 0o044) !== 0 ? 'read the mnemonic in it' : 'overwrite it with a key of their choosing'}`
    : `other users on this machine could ${(was & 0o022) !== 0 ? 'replace or add keyfiles in it' : 'list the wallets in it'}`;
  const exposed = what === 'keyfile' && (was & 0o044) !== 0 ? '; if anyone else could have read it, treat the key as exposed: create a new wallet and move your stake and registration to it' : '';
  const uid = process.getuid?.();
  if (uid === undefined || st.uid !== uid) {
    warn(`wallet ${what} ${path} has mode ${octal(was)}: ${risk}. It belongs to uid ${st.uid}, not to you, so tessera leaves it alone: ask its owner to \`chmod ${octal(want)} ${path}\`${exposed}`);
    return;
  }
  try {
    await chmodTo(want);
  } catch (e) {
    warn(`wallet ${what} ${path} has mode ${octal(was)}: ${risk}, and tessera could not tighten it (${(e as NodeJS.ErrnoException).code ?? 'error'}): run \`chmod ${octal(want)} ${path}\`${exposed}`);
    return;
  }
  warn(`wallet ${what} ${path} had mode ${octal(was)}: ${risk}. tessera changed it to ${octal(want)}${exposed}`);
}

const restoreHint = (dir: string, name: string): string =>
  'its content is not shown, since it may hold the mnemonic. Move the damaged file aside and restore the wallet from your mnemonic backup: '
  + `\`read -rs TESSERA_MNEMONIC && export TESSERA_MNEMONIC\`, then \`tessera wallet create --name ${name} --dir ${dir} --mnemonic-env TESSERA_MNEMONIC\``;

const symlinkError = (file: string): TesseraError => new TesseraError(
  `wallet ${file} is a symbolic link; tessera does not load keyfiles through links (whoever controls the link chooses your key)`,
  'replace the link with the keyfile itself (mode 0600), or point --dir at the folder that really holds it');

const SS58_SHAPE = /^[1-9A-HJ-NP-Za-km-z]{46,48}$/;

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
export async function createWallet(dir: string, name: string, opts: { mnemonic?: string } & WalletOptions = {}): Promise<WalletInfo> {
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
  // mkdir leaves an existing folder's mode alone: tighten it before the mnemonic lands in it.
  await tighten('folder', dir, await stat(dir), (m) => chmod(dir, m), opts.warn ?? defaultWarn);
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
 * Refuses a symlinked keyfile; warns about (and, if they are the user's own, tightens to 0600 /
 * 0700) a keyfile or folder that group/others can reach. Errors name the file but never quote it.
 */
export async function loadWallet(dir: string, name: string, opts: WalletOptions = {}): Promise<KeyringPair> {
  checkName(name);
  const file = keyfilePath(dir, name);
  const warn = opts.warn ?? defaultWarn;
  const cannotRead = (e: unknown): TesseraError => {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return new TesseraError(`wallet ${file} does not exist`, `create it first (createWallet / \`tessera wallet create --name ${name}\`)`);
    if (code === 'ELOOP') return symlinkError(file); // O_NOFOLLOW: the file became a link after lstat
    return new TesseraError(`cannot read wallet ${file} (${code ?? 'error'})`, 'check that the keyfile and its folder are readable by you');
  };
  let text: string;
  let fh: FileHandle | undefined;
  try {
    const l = await lstat(file).catch((e: unknown) => { throw cannotRead(e); });
    if (l.isSymbolicLink()) throw symlinkError(file);
    if (!l.isFile()) throw new TesseraError(`wallet ${file} is not a regular file`, 'a keyfile is a plain JSON file written by `tessera wallet create`');
    fh = await open(file, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0)).catch((e: unknown) => { throw cannotRead(e); });
    const st = await fh.stat();
    if (!st.isFile()) throw new TesseraError(`wallet ${file} is not a regular file`, 'a keyfile is a plain JSON file written by `tessera wallet create`');
    await tighten('keyfile', file, st, (m) => fh!.chmod(m), warn);
    text = await fh.readFile('utf8').catch((e: unknown) => { throw cannotRead(e); });
  } finally {
    await fh?.close();
  }
  await tighten('folder', dir, await stat(dir), (m) => chmod(dir, m), warn);
  let json: Record<string, unknown> | undefined;
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) json = v as Record<string, unknown>;
  } catch {
    // Dropped on purpose: V8's message quotes the text around the error, which may be the mnemonic.
  }
  if (!json) throw new TesseraError(`wallet ${file} is not a valid keyfile (not a JSON object)`, restoreHint(dir, name));
  const mnemonic = typeof json.mnemonic === 'string' ? json.mnemonic : typeof json.secretPhrase === 'string' ? json.secretPhrase : undefined;
  if (!mnemonic) throw new TesseraError(`wallet ${file} holds no mnemonic (neither "mnemonic" nor btwallet's "secretPhrase")`, 'encrypted btwallet files are not supported: regenerate the hotkey from its phrase');
  const pair = await pairFromMnemonic(mnemonic, file);
  const stored = json.address ?? json.ss58Address;
  if (typeof stored === 'string' && stored !== pair.address) {
    // Echo the stored value only if it looks like an address: a mangled file may have anything there.
    const says = SS58_SHAPE.test(stored) ? `address ${stored}` : 'an address field that is not an SS58 address';
    throw new TesseraError(`wallet ${file} says ${says} but its mnemonic derives ${pair.address}`, 'the file was edited or corrupted: restore it from your backup');
  }
  return pair;
}

/** The chain-facing Signer of a hotkey pair. */
export function signer(pair: KeyringPair): Signer {
  return { address: pair.address, sign: async (message: Uint8Array): Promise<Uint8Array> => pair.sign(message) };
}

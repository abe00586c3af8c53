// `tessera wallet create|show`: sr25519 hotkey keyfiles (Bittensor-compatible addresses, SS58 prefix 42).
import { Command } from 'commander';
import { join } from 'node:path';
import { createWallet, keyfilePath, loadWallet } from '../wallet/index.js';
import { DevnetChainClient } from '../chain/index.js';
import { TesseraError } from '../util/errors.js';
import { BTCLI_WALLET_PATH, createBtWallet, loadBtColdkey, loadBtHotkey, readColdkeypub } from '../wallet/btcli.js';

export const DEFAULT_WALLET_DIR = join('.tessera', 'wallets');

export function walletCommand(): Command {
  const cmd = new Command('wallet').description('hotkey wallets (sr25519 keyfiles; the same addresses as Bittensor btwallet)');
  cmd.command('create')
    .description('create <dir>/<name>.json with a new 12-word mnemonic (refuses to overwrite)')
    .requiredOption('--name <name>', 'wallet name (letters, digits, _ . -)')
    .option('--dir <dir>', 'wallet folder', DEFAULT_WALLET_DIR)
    .option('--mnemonic-env <VAR>', 'restore from the BIP39 phrase in this environment variable instead of generating one')
    .option('--json', 'print one JSON object')
    .action(async (o: { name: string; dir: string; mnemonicEnv?: string; json?: boolean }) => {
      let mnemonic: string | undefined;
      if (o.mnemonicEnv !== undefined) {
        mnemonic = process.env[o.mnemonicEnv]?.trim();
        if (!mnemonic) throw new TesseraError(`environment variable ${o.mnemonicEnv} is empty or unset`, `export ${o.mnemonicEnv}="word1 word2 …" first`);
      }
      const w = await createWallet(o.dir, o.name, { mnemonic });
      if (o.json) return console.log(JSON.stringify({ name: o.name, ...w }));
      console.log(`created wallet ${w.file}`);
      console.log(`  address     ${w.address}`);
      console.log(`  public key  ${w.publicKey}`);
      console.log('  the file holds the mnemonic unencrypted: keep it private and back it up');
    });
  cmd.command('show')
    .description('print a wallet\'s address and public key (never the mnemonic); with --chain also its uid, stake and emission')
    .requiredOption('--name <name>', 'wallet name')
    .option('--dir <dir>', 'wallet folder', DEFAULT_WALLET_DIR)
    .option('--chain <url>', 'devnet chain URL to look the hotkey up in the metagraph')
    .option('--json', 'print one JSON object')
    .action(async (o: { name: string; dir: string; chain?: string; json?: boolean }) => {
      const pair = await loadWallet(o.dir, o.name);
      const out: Record<string, unknown> = {
        name: o.name, file: keyfilePath(o.dir, o.name), address: pair.address, publicKey: '0x' + Buffer.from(pair.publicKey).toString('hex'),
      };
      if (o.chain) {
        const m = await new DevnetChainClient({ url: o.chain, retries: 2 }).metagraph();
        const uid = m.hotkeys.indexOf(pair.address);
        Object.assign(out, uid < 0 ? { uid: null } : {
          uid, stake: m.stake[uid], validatorPermit: m.validatorPermit[uid], incentive: m.Incentive[uid], dividends: m.Dividends[uid], emission: m.Emission[uid],
        });
      }
      if (o.json) return console.log(JSON.stringify(out));
      for (const [k, v] of Object.entries(out)) console.log(`${k.padEnd(16)}${v === null ? 'not registered' : String(v)}`);
    });
  btcliCommands(cmd);
  return cmd;
}

interface BtFlags { walletPath: string; walletName: string; hotkey: string; passwordEnv?: string; coldkeyMnemonicEnv?: string; hotkeyMnemonicEnv?: string; json?: boolean; coldkey?: boolean }

/** A secret from an environment variable (never from argv, which other users can list). */
function fromEnv(name: string | undefined, what: string): string | undefined {
  if (name === undefined) return undefined;
  const v = process.env[name]?.trim();
  if (!v) throw new TesseraError(`environment variable ${name} (${what}) is empty or unset`, `read -rs ${name} && export ${name}, then run again`);
  return v;
}

const btOptions = (c: Command): Command => c
  .option('--wallet-path <dir>', "btcli's wallet folder (btcli --wallet.path)", BTCLI_WALLET_PATH)
  .option('--wallet-name <name>', 'wallet (btcli --wallet.name)', 'default')
  .option('--hotkey <name>', 'hotkey (btcli --wallet.hotkey)', 'default')
  .option('--json', 'print one JSON object');

/** `tessera wallet btcli-create|btcli-import|btcli-show`: wallets in btcli's layout and format. */
function btcliCommands(cmd: Command): void {
  btOptions(cmd.command('btcli-create')
    .description("create a wallet as btcli keeps it: <wallet-path>/<wallet-name>/coldkey (encrypted), coldkeypub.txt, hotkeys/<hotkey>; the mnemonics are printed once")
    .requiredOption('--password-env <VAR>', 'environment variable holding the coldkey password (at least 6 characters)'))
    .action(async (o: BtFlags) => {
      const w = await createBtWallet(o.walletPath, o.walletName, o.hotkey, { password: fromEnv(o.passwordEnv, 'coldkey password')! });
      if (o.json) return console.log(JSON.stringify(w));
      console.log(`created ${w.coldkey} (encrypted), ${w.coldkeypub}, ${w.hotkey}`);
      console.log(`  coldkey ${w.coldkeyAddress}\n    mnemonic: ${w.coldkeyMnemonic}`);
      console.log(`  hotkey  ${w.hotkeyAddress}\n    mnemonic: ${w.hotkeyMnemonic}`);
      console.log('  write both phrases down now: they are the only way to restore the keys');
    });
  btOptions(cmd.command('btcli-import')
    .description('restore a btcli wallet from mnemonics (coldkey and hotkey phrases from environment variables)')
    .requiredOption('--password-env <VAR>', 'environment variable holding the coldkey password')
    .requiredOption('--coldkey-mnemonic-env <VAR>', 'environment variable holding the coldkey phrase')
    .requiredOption('--hotkey-mnemonic-env <VAR>', 'environment variable holding the hotkey phrase'))
    .action(async (o: BtFlags) => {
      const w = await createBtWallet(o.walletPath, o.walletName, o.hotkey, {
        password: fromEnv(o.passwordEnv, 'coldkey password')!, coldkeyMnemonic: fromEnv(o.coldkeyMnemonicEnv, 'coldkey mnemonic'), hotkeyMnemonic: fromEnv(o.hotkeyMnemonicEnv, 'hotkey mnemonic'),
      });
      const out = { coldkey: w.coldkeyAddress, hotkey: w.hotkeyAddress, files: [w.coldkey, w.coldkeypub, w.hotkey] };
      console.log(o.json ? JSON.stringify(out) : `imported: coldkey ${out.coldkey}, hotkey ${out.hotkey}`);
    });
  btOptions(cmd.command('btcli-show')
    .description("print a btcli wallet's coldkey (coldkeypub.txt) and hotkey addresses; with --coldkey also decrypt the coldkey to check the password")
    .option('--coldkey', 'decrypt the coldkey (needs --password-env)')
    .option('--password-env <VAR>', 'environment variable holding the coldkey password'))
    .action(async (o: BtFlags) => {
      const out: Record<string, unknown> = { coldkeypub: await readColdkeypub(o.walletPath, o.walletName), hotkey: (await loadBtHotkey(o.walletPath, o.walletName, o.hotkey)).address };
      if (o.coldkey) {
        const pair = await loadBtColdkey(o.walletPath, o.walletName, fromEnv(o.passwordEnv ?? 'TESSERA_COLDKEY_PASSWORD', 'coldkey password')!);
        out.coldkey = pair.address;
        out.coldkeyMatchesPub = pair.address === out.coldkeypub;
      }
      if (o.json) return console.log(JSON.stringify(out));
      for (const [k, v] of Object.entries(out)) console.log(`${k.padEnd(18)}${String(v)}`);
    });
}

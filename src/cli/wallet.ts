// `tessera wallet create|show`: sr25519 hotkey keyfiles (Bittensor-compatible addresses, SS58 prefix 42).
import { Command } from 'commander';
import { join } from 'node:path';
import { createWallet, keyfilePath, loadWallet } from '../wallet/index.js';
import { DevnetChainClient } from '../chain/index.js';
import { TesseraError } from '../util/errors.js';

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
  return cmd;
}

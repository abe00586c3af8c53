// Public surface of wallets: create/load sr25519 hotkey keyfiles (SS58 prefix 42, Bittensor-compatible
// derivation) and turn a key pair into the chain's Signer.
export { createWallet, loadWallet, signer, keyfilePath, KEYFILE_FORMAT, type Keyfile, type WalletInfo, type WalletOptions } from './wallet.js';

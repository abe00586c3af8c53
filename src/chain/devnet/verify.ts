// Server-side check of a signed devnet call: the hotkey must be a canonical SS58 address (prefix
// 42, like Bittensor) and the signature a valid sr25519 signature over callMessage(chainId, call).
import { cryptoWaitReady, decodeAddress, encodeAddress, sr25519Verify } from '@polkadot/util-crypto';
import { ChainError, SS58_PREFIX } from '../types.js';
import { callMessage, type SignedCall } from './call.js';

/** Loads the sr25519 WASM once; call before verifying or signing. */
export const cryptoReady = (): Promise<boolean> => cryptoWaitReady();

/** Public key of a canonical prefix-42 SS58 address; one key has exactly one accepted spelling. */
export function publicKeyOf(address: string): Uint8Array {
  let pk: Uint8Array;
  try {
    pk = decodeAddress(address);
  } catch (e) {
    throw new ChainError('bad_request', `hotkey ${address} is not a valid SS58 address (${(e as Error).message})`, 'use the address printed by `tessera wallet`');
  }
  if (pk.length !== 32 || encodeAddress(pk, SS58_PREFIX) !== address) {
    throw new ChainError('bad_request', `hotkey ${address} is not a 32-byte key in SS58 format ${SS58_PREFIX}`, `re-encode the address with SS58 prefix ${SS58_PREFIX}`);
  }
  return pk;
}

export function verifyCall(chainId: string, call: SignedCall): void {
  const pk = publicKeyOf(call.hotkey);
  const sig = Uint8Array.from(Buffer.from(call.signature.slice(2), 'hex'));
  let ok = false;
  try {
    ok = sr25519Verify(callMessage(chainId, call), sig, pk);
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new ChainError('bad_signature', `signature of ${call.method} by ${call.hotkey} (nonce ${call.nonce}) does not verify`,
      'sign callMessage(chainId, call) with the sr25519 hotkey named in `hotkey`');
  }
}

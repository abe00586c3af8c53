// Payload signing (sr25519 by the uploader's hotkey) and the full acceptance check a validator or a
// catching-up node runs on a peer's payload. Every outcome is a value: {ok:true} or {ok:false, reason}.
import { cryptoWaitReady, signatureVerify } from '@polkadot/util-crypto';
import { attachSignature, decodePayload, payloadSigningBytes, type DecodedPayload, type Expectation, type RejectReason } from '../compress/index.js';
import { TesseraError } from '../util/errors.js';
import { sha256Hex } from './hash.js';

/** Anything that signs with a hotkey (the chain's Signer fits). */
export interface PayloadSigner {
  readonly address: string;
  sign(message: Uint8Array): Promise<Uint8Array>;
}

/** A copy of the encoded payload carrying the signer's signature over payloadSigningBytes. */
export async function signPayload(bytes: Uint8Array, signer: PayloadSigner): Promise<Uint8Array> {
  const msg = payloadSigningBytes(bytes);
  if (msg === null) throw new TesseraError('signPayload: not an encoded payload (header and lengths inconsistent)', 'sign the bytes encodePayload returned');
  return attachSignature(bytes, await signer.sign(msg));
}

export interface PayloadExpect extends Expectation {
  /** The run hash (hash.ts runHash): payloads of other runs fail with 'model_mismatch'. */
  modelHash: string;
  window: number;
  uid: number;
  /** The digest (sha256 hex of the bytes) anchored on chain in time for (window, uid): other bytes are refused. */
  anchored?: string;
  /** run.innerSteps: a payload must state 1 ≤ steps ≤ this. */
  maxSteps?: number;
}

/**
 * Why a payload is refused: the decoder's reasons, plus not_anchored (its sha256 is not the digest
 * anchored on chain in time), stale (made for another window), foreign (made for another uid: e.g. a
 * copy of someone else's upload), bad_steps (states no inner steps, or more than the run's H),
 * unsigned, and bad_signature (not signed by the hotkey registered for the uid).
 */
export type VerifyReason = RejectReason | 'not_anchored' | 'stale' | 'foreign' | 'bad_steps' | 'unsigned' | 'bad_signature';

export type VerifyResult = { ok: true; payload: DecodedPayload } | { ok: false; reason: VerifyReason; detail: string };

/** Full check of an untrusted payload; never throws for any bytes. */
export async function verifyPayload(bytes: Uint8Array, expect: PayloadExpect, hotkeySS58: string): Promise<VerifyResult> {
  if (expect.anchored !== undefined) {
    const sha = sha256Hex(bytes);
    if (sha !== expect.anchored) return { ok: false, reason: 'not_anchored', detail: `sha256 ${sha.slice(0, 12)}… is not the digest ${expect.anchored.slice(0, 12)}… anchored on chain` };
  }
  const d = decodePayload(bytes, expect);
  if (!d.ok) return d;
  const p = d.payload;
  if (p.window !== expect.window) return { ok: false, reason: 'stale', detail: `made for window ${p.window}, expected ${expect.window}` };
  if (p.uid !== expect.uid) return { ok: false, reason: 'foreign', detail: `made for uid ${p.uid}, found under uid ${expect.uid}` };
  if (expect.maxSteps !== undefined && !(p.steps >= 1 && p.steps <= expect.maxSteps)) return { ok: false, reason: 'bad_steps', detail: `states ${p.steps} inner steps, allowed 1..${expect.maxSteps}` };
  if (p.signature === null) return { ok: false, reason: 'unsigned', detail: 'empty signature slot' };
  const msg = payloadSigningBytes(bytes)!;
  await cryptoWaitReady();
  let valid = false;
  try {
    valid = signatureVerify(msg, p.signature, hotkeySS58).isValid;
  } catch {
    valid = false; // a malformed hotkey address: the payload cannot be attributed
  }
  if (!valid) return { ok: false, reason: 'bad_signature', detail: `not signed by ${hotkeySS58}` };
  return d;
}

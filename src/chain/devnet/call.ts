// Devnet write calls on the wire, and the canonical bytes a hotkey signs: a fixed prefix plus
// canonical JSON (sorted keys, no spaces) of {chainId, hotkey, method, nonce, params}.
import { createHash } from 'node:crypto';
import { ChainError } from '../types.js';

export const CALL_PREFIX = 'tessera-devnet-call/v1\n';
export const WRITE_METHODS = ['register', 'addStake', 'commit', 'setWeights', 'anchor'] as const;
export type WriteMethod = (typeof WRITE_METHODS)[number];

/** A call before signing. `params.hotkey` names the hotkey the call acts for; it must equal `hotkey`. */
export interface UnsignedCall {
  method: WriteMethod;
  params: Record<string, unknown>;
  hotkey: string;  // SS58 address of the signer
  nonce: number;   // strictly increasing per hotkey (the client uses max(ms clock, last + 1))
}
export interface SignedCall extends UnsignedCall {
  signature: string; // 0x-hex sr25519 signature over callMessage(chainId, call)
  chainId?: string;  // optional echo of the signed chain id: lets the server answer 'wrong_chain' instead of 'bad_signature'
}

/** JSON with object keys sorted at every level; only finite numbers, strings, booleans, null, arrays, objects. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new ChainError('bad_request', `call contains a non-finite number (${v})`, 'send finite numbers only');
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  throw new ChainError('bad_request', `call contains a value of type ${typeof v}`, 'send plain JSON values');
}

export function callMessage(chainId: string, call: UnsignedCall): Uint8Array {
  const body = canonicalJson({ chainId, hotkey: call.hotkey, method: call.method, nonce: call.nonce, params: call.params });
  return new TextEncoder().encode(CALL_PREFIX + body);
}

/** sha256 of the signed message: identifies a call (duplicate detection). */
export function callHash(chainId: string, call: UnsignedCall): string {
  return createHash('sha256').update(callMessage(chainId, call)).digest('hex');
}

/** Shape check of an untrusted request body; returns it typed or throws a 'bad_request' ChainError. */
export function parseSignedCall(body: unknown): SignedCall {
  const bad = (what: string): never => {
    throw new ChainError('bad_request', `malformed call: ${what}`, 'send {method, params, hotkey, nonce, signature} as JSON');
  };
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return bad('body is not a JSON object');
  const b = body as Record<string, unknown>;
  if (!WRITE_METHODS.includes(b.method as WriteMethod)) return bad(`unknown method ${JSON.stringify(b.method)} (known: ${WRITE_METHODS.join(', ')})`);
  if (typeof b.params !== 'object' || b.params === null || Array.isArray(b.params)) return bad('params must be an object');
  if (typeof b.hotkey !== 'string' || b.hotkey.length === 0 || b.hotkey.length > 64) return bad('hotkey must be an SS58 address');
  if (!Number.isSafeInteger(b.nonce) || (b.nonce as number) < 0) return bad('nonce must be a non-negative safe integer');
  if (typeof b.signature !== 'string' || !/^0x[0-9a-fA-F]{128}$/.test(b.signature)) return bad('signature must be 0x + 128 hex digits (64-byte sr25519)');
  if (b.chainId !== undefined && typeof b.chainId !== 'string') return bad('chainId must be a string');
  return { method: b.method as WriteMethod, params: b.params as Record<string, unknown>, hotkey: b.hotkey, nonce: b.nonce as number, signature: b.signature, chainId: b.chainId as string | undefined };
}

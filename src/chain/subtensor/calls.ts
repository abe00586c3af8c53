// Subtensor call shapes chosen from a runtime's metadata (spec 103 of 2023 vs the modern runtimes),
// built as plain Calls so the same code serves the live adapter (api.tx(call)) and offline checks
// against stored metadata. Pure helpers: weights to u16, commit/reveal hash, commitment fields.
import type { Metadata, TypeRegistry } from '@polkadot/types';
import { expandMetadata } from '@polkadot/types';
import type { Call } from '@polkadot/types/interfaces';
import type { Registry } from '@polkadot/types/types';
import { u8aToHex, u8aToString } from '@polkadot/util';
import { blake2AsHex, decodeAddress } from '@polkadot/util-crypto';
import { ChainError } from '../types.js';

/** Signed extensions of modern subtensor that carry no data; declared so @polkadot/types encodes them. */
export const SUBTENSOR_SIGNED_EXTENSIONS = {
  SubtensorSignedExtension: { extrinsic: {}, payload: {} },
  CommitmentsSignedExtension: { extrinsic: {}, payload: {} },
};

/** One rao is 1e-9 TAO. */
export const RAO_PER_TAO = 1_000_000_000;
/** Largest commitment the runtime takes: Commitments MaxFields (1 on finney 219 / testnet 233) × Data::Raw128. */
export const RAW_DATA_MAX = 128;
/** Prefix of the System.remark texts tessera writes (anchors everywhere; commitments where no Commitments pallet exists). */
export const REMARK_PREFIX = 'tessera/v1';

/** What a runtime offers, read from its metadata: which call shapes the adapter uses. */
export interface RuntimeShape {
  specName: string;
  specVersion: number;
  /** Commitments.set_commitment / CommitmentOf exist (else commitments go through System.remark). */
  commitments: boolean;
  /** Commitments MaxFields (fields of ≤ 128 bytes each). */
  commitmentFields: number;
  /** commit_weights / reveal_weights exist. */
  commitReveal: boolean;
  /** add_stake takes (hotkey, netuid, amount) (dynamic TAO) instead of (hotkey, amount). */
  stakeWithNetuid: boolean;
  /** Root registration sudo_register exists (spec 103: burned_register is disabled, sudo_register works). */
  sudoRegister: boolean;
  /** Per-hotkey stake total: TotalHotkeyStake(hotkey) or TotalHotkeyAlpha(hotkey, netuid). */
  stakeItem: 'totalHotkeyStake' | 'totalHotkeyAlpha';
  /** Trust is still stored (subtensor dropped it later). */
  trust: boolean;
}

type CallFn = ((...args: unknown[]) => Call) & { meta: { args: Array<{ name: { toString(): string }; type: { toString(): string } }> } };
type TxNamespace = Record<string, Record<string, CallFn> | undefined>;

/** The decorated call functions of a metadata (what api.tx is built from), without a node. */
export function decoratedTx(registry: Registry, metadata: Metadata): TxNamespace {
  return expandMetadata(registry, metadata).tx as unknown as TxNamespace;
}

/** Registers a metadata in a fresh TypeRegistry with subtensor's signed extensions (offline use). */
export function registryFor(registry: TypeRegistry, metadata: Metadata): void {
  registry.setMetadata(metadata, undefined, SUBTENSOR_SIGNED_EXTENSIONS);
}

export function shapeOf(registry: Registry, metadata: Metadata): RuntimeShape {
  const d = expandMetadata(registry, metadata);
  const version = d.consts.system.version as unknown as { specName: { toString(): string }; specVersion: { toNumber(): number } };
  const st = (d.tx as unknown as TxNamespace).subtensorModule;
  if (!st?.setWeights) throw new ChainError('wrong_chain', 'this runtime has no SubtensorModule.set_weights: not a subtensor chain', 'point --chain at a subtensor endpoint (finney, test, or a local node)');
  const q = d.query.subtensorModule as unknown as Record<string, unknown>;
  const fields = (d.consts.commitments as unknown as Record<string, { toNumber(): number }> | undefined)?.maxFields?.toNumber() ?? 0;
  return {
    specName: version.specName.toString(),
    specVersion: version.specVersion.toNumber(),
    commitments: Boolean((d.tx as unknown as TxNamespace).commitments?.setCommitment),
    commitmentFields: fields,
    commitReveal: Boolean(st.commitWeights && st.revealWeights),
    stakeWithNetuid: st.addStake.meta.args.length === 3,
    sudoRegister: Boolean(st.sudoRegister),
    stakeItem: q.totalHotkeyAlpha ? 'totalHotkeyAlpha' : 'totalHotkeyStake',
    trust: Boolean(q.trust),
  };
}

/**
 * Weights as set_weights takes them: u16 values with the largest at 65535 (as the bittensor SDK
 * scales them; the runtime normalizes rows again), zero weights dropped, uids ascending.
 */
export function weightsToU16(uids: number[], weights: number[]): { uids: number[]; values: number[] } {
  if (uids.length !== weights.length) throw new ChainError('bad_request', `setWeights: ${uids.length} uids but ${weights.length} weights`, 'pass one weight per uid');
  const max = Math.max(0, ...weights);
  if (!(max > 0) || weights.some((w) => !(w >= 0) || !Number.isFinite(w))) throw new ChainError('bad_request', 'setWeights: weights must be finite, non-negative and not all zero', 'give at least one uid a positive weight');
  const rows = uids.map((u, i) => [u, Math.round((weights[i] / max) * 65535)] as [number, number])
    .filter(([u, v]) => {
      if (!Number.isInteger(u) || u < 0 || u > 65535) throw new ChainError('bad_request', `setWeights: uid ${u} is not a u16`, 'read the metagraph for valid uids');
      return v > 0;
    })
    .sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < rows.length; i++) if (rows[i][0] === rows[i - 1][0]) throw new ChainError('bad_request', `setWeights: uid ${rows[i][0]} appears twice`, 'list each uid once');
  return { uids: rows.map((r) => r[0]), values: rows.map((r) => r[1]) };
}

/**
 * The hash commit_weights carries: blake2_256 of SCALE(hotkey AccountId32, netuid u16, uids Vec<u16>,
 * values Vec<u16>, salt Vec<u16>, version_key u64) — BlakeTwo256::hash_of over that tuple in
 * subtensor's do_commit_weights / do_reveal_weights.
 */
export function commitHash(registry: Registry, hotkey: string, netuid: number, uids: number[], values: number[], salt: number[], versionKey: bigint): string {
  const t = registry.createType('(AccountId32, u16, Vec<u16>, Vec<u16>, Vec<u16>, u64)', [decodeAddress(hotkey), netuid, uids, values, salt, versionKey]);
  return blake2AsHex(t.toU8a(), 256);
}

/** A commitment text as Commitments Data fields (Raw<len>, ≤ 128 bytes each, at most `maxFields`). */
export function commitmentFields(text: string, maxFields: number): Array<Record<string, string>> {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length === 0) throw new ChainError('bad_request', 'commitment is empty', 'commit the bucket descriptor');
  if (bytes.length > RAW_DATA_MAX * maxFields) {
    throw new ChainError('bad_request', `commitment of ${bytes.length} bytes exceeds what Commitments.set_commitment takes (${maxFields} field(s) of ${RAW_DATA_MAX} bytes)`,
      'use a shorter descriptor: a bucket with short read-only keys, or a shorter endpoint name');
  }
  const out: Array<Record<string, string>> = [];
  for (let i = 0; i < bytes.length; i += RAW_DATA_MAX) {
    const part = bytes.subarray(i, i + RAW_DATA_MAX);
    out.push({ [`Raw${part.length}`]: u8aToHex(part) });
  }
  return out;
}

/** The text of a CommitmentOf value's Raw fields (other Data kinds are skipped). */
export function commitmentText(fields: Array<{ isRaw?: boolean; type: string; value: { toU8a(bare?: boolean): Uint8Array } }>): string {
  const parts = fields.filter((f) => f.type.startsWith('Raw')).map((f) => f.value.toU8a(true));
  return parts.map((p) => u8aToString(p)).join('');
}

/** Builds the calls tessera sends, in the shape this runtime takes (see RuntimeShape). */
export class SubtensorCalls {
  constructor(readonly tx: TxNamespace, readonly shape: RuntimeShape, readonly netuid: number) {}

  private fn(section: string, method: string): CallFn {
    const f = this.tx[section]?.[method];
    if (!f) throw new ChainError('bad_request', `runtime ${this.shape.specName} ${this.shape.specVersion} has no ${section}.${method}`, 'this call needs a newer (or older) subtensor runtime');
    return f;
  }

  setWeights(uids: number[], values: number[], versionKey: bigint): Call { return this.fn('subtensorModule', 'setWeights')(this.netuid, uids, values, versionKey); }
  commitWeights(hash: string): Call { return this.fn('subtensorModule', 'commitWeights')(this.netuid, hash); }
  revealWeights(uids: number[], values: number[], salt: number[], versionKey: bigint): Call {
    return this.fn('subtensorModule', 'revealWeights')(this.netuid, uids, values, salt, versionKey);
  }
  burnedRegister(hotkey: string): Call { return this.fn('subtensorModule', 'burnedRegister')(this.netuid, hotkey); }
  addStake(hotkey: string, rao: bigint): Call {
    const f = this.fn('subtensorModule', 'addStake');
    return this.shape.stakeWithNetuid ? f(hotkey, this.netuid, rao) : f(hotkey, rao);
  }
  setCommitment(text: string): Call {
    return this.fn('commitments', 'setCommitment')(this.netuid, { fields: commitmentFields(text, Math.max(1, this.shape.commitmentFields)) });
  }
  /** System.remark; the text goes as hex (a Uint8Array would be read as already SCALE-encoded, length prefix first). */
  remark(text: string): Call { return this.fn('system', 'remark')(u8aToHex(new TextEncoder().encode(text))); }
  /** Root registration (local runtimes only: needs the sudo key). */
  sudoRegister(hotkey: string, coldkey: string): Call {
    return this.fn('sudo', 'sudo')(this.fn('subtensorModule', 'sudoRegister')(this.netuid, hotkey, coldkey, 0, 0));
  }
}

/** Remark text of an anchor: `tessera/v1 anchor <netuid> <window> <digest>`. */
export const anchorRemark = (netuid: number, window: number, digest: string): string => `${REMARK_PREFIX} anchor ${netuid} ${window} ${digest}`;
/** Remark text of a commitment (runtimes without the Commitments pallet): `tessera/v1 commit <netuid> <data>`. */
export const commitRemark = (netuid: number, data: string): string => `${REMARK_PREFIX} commit ${netuid} ${data}`;

export type ParsedRemark = { kind: 'anchor'; netuid: number; window: number; digest: string } | { kind: 'commit'; netuid: number; data: string };

/** Parses a tessera remark; null for any other remark. */
export function parseRemark(text: string): ParsedRemark | null {
  const a = /^tessera\/v1 anchor (\d{1,5}) (\d{1,15}) ([0-9a-f]{64})$/.exec(text);
  if (a) return { kind: 'anchor', netuid: Number(a[1]), window: Number(a[2]), digest: a[3] };
  const c = /^tessera\/v1 commit (\d{1,5}) ([\s\S]+)$/.exec(text);
  if (c) return { kind: 'commit', netuid: Number(c[1]), data: c[2] };
  return null;
}

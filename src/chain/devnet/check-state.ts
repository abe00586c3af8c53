// Validation of a devnet state read from disk: every field the chain relies on, with the bounds the
// state machine enforces when the value enters the state (finite numbers, stake caps, integer heights).
// A bad field is refused with its path (e.g. `neurons[3].stake`), never carried into the block timer.
import { TesseraError } from '../../util/errors.js';
import type { ChainParams } from '../types.js';
import {
  checkParams, DEFAULT_PARAMS, MAX_COMMITMENT_CHARS, MAX_PENDING_WEIGHTS, MAX_REVEAL_PERIOD_EPOCHS, MAX_STAKE_PER_HOTKEY, MAX_TOTAL_STAKE, STATE_FORMAT, STATE_VERSION, TIMESTAMP_HISTORY,
  type DevnetState,
} from './state.js';

/** A state field that does not hold what the chain needs; `field` is its path, e.g. `neurons[3].stake`. */
export class StateFieldError extends TesseraError {
  constructor(public readonly field: string, message: string) {
    super(message);
    this.name = 'StateFieldError';
  }
}

const show = (v: unknown): string => {
  if (v === undefined) return 'missing';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (typeof v === 'object' && v !== null) return Array.isArray(v) ? 'an array' : 'an object';
  return String(v);
};

type Obj = Record<string, unknown>;

/** Checks a parsed state file; returns it typed or throws StateFieldError naming the first bad field. */
export function checkState(raw: unknown): DevnetState {
  const fail = (field: string, v: unknown, want: string): never => {
    throw new StateFieldError(field, `field ${field} is ${show(v)}, expected ${want}`);
  };
  const obj = (field: string, v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : fail(field, v, 'an object'));
  const arr = (field: string, v: unknown): unknown[] => (Array.isArray(v) ? v : fail(field, v, 'an array'));
  const num = (field: string, v: unknown, min: number, max: number): number =>
    typeof v === 'number' && v >= min && v <= max ? v : fail(field, v, `a finite number in [${min}, ${max}]`);
  const int = (field: string, v: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): number =>
    Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max ? (v as number) : fail(field, v, `an integer in [${min}, ${max}]`);
  const str = (field: string, v: unknown): string => (typeof v === 'string' ? v : fail(field, v, 'a string'));
  const nullable = <T>(v: unknown, f: (x: unknown) => T): T | null => (v === null ? null : f(v));
  const F = Number.MAX_VALUE;

  const s = obj('(root)', raw);
  if (s.format !== STATE_FORMAT) fail('format', s.format, JSON.stringify(STATE_FORMAT));
  if (s.version !== STATE_VERSION) fail('version', s.version, String(STATE_VERSION));
  str('chainId', s.chainId);
  const p = obj('params', s.params);
  for (const k of Object.keys(DEFAULT_PARAMS) as Array<keyof ChainParams>) num(`params.${k}`, p[k], -F, F);
  try {
    checkParams(p as unknown as ChainParams);
  } catch (e) {
    const k = /chain parameter (\w+)/.exec((e as Error).message)?.[1] ?? '?';
    throw new StateFieldError(`params.${k}`, `field params.${k}: ${(e as Error).message}`);
  }
  const height = int('height', s.height);
  num('timestamp', s.timestamp, 0, F);
  const h = obj('history', s.history);
  const from = int('history.from', h.from, 0, height);
  const ts = arr('history.timestamps', h.timestamps);
  if (ts.length < 1 || ts.length > TIMESTAMP_HISTORY || from + ts.length - 1 !== height) {
    fail('history.timestamps', `${ts.length} entries`, `the timestamps of blocks ${from}..${height} (at most ${TIMESTAMP_HISTORY})`);
  }
  ts.forEach((t, i) => num(`history.timestamps[${i}]`, t, 0, F));
  if (h.hashes !== undefined) {
    const hs = arr('history.hashes', h.hashes);
    if (hs.length > ts.length) fail('history.hashes', `${hs.length} entries`, `at most one per kept timestamp (${ts.length})`);
    hs.forEach((x, i) => { if (typeof x !== 'string' || !/^0x[0-9a-f]{64}$/.test(x)) fail(`history.hashes[${i}]`, JSON.stringify(x), '0x and 64 lowercase hex digits'); });
  }

  const neurons = arr('neurons', s.neurons);
  const n = neurons.length;
  if (n > (p.maxAllowedUids as number)) fail('neurons', `${n} uids`, `at most maxAllowedUids = ${p.maxAllowedUids}`);
  const sparse = (field: string, v: unknown, max: number): void => {
    arr(field, v).forEach((e, k) => {
      const pair = arr(`${field}[${k}]`, e);
      if (pair.length !== 2) fail(`${field}[${k}]`, `${pair.length} entries`, '[uid, value]');
      int(`${field}[${k}][0]`, pair[0], 0, n - 1);
      num(`${field}[${k}][1]`, pair[1], 0, max);
    });
  };
  const hotkeys = new Set<string>();
  let total = 0;
  neurons.forEach((x, uid) => {
    const f = `neurons[${uid}]`, nr = obj(f, x);
    const hotkey = str(`${f}.hotkey`, nr.hotkey);
    if (hotkeys.has(hotkey)) fail(`${f}.hotkey`, hotkey, 'a hotkey registered once');
    hotkeys.add(hotkey);
    total += num(`${f}.stake`, nr.stake, 0, MAX_STAKE_PER_HOTKEY);
    int(`${f}.registeredAt`, nr.registeredAt, 0, height + 1);
    int(`${f}.lastUpdate`, nr.lastUpdate, 0, height + 1);
    nullable(nr.weightsSetAt, (v) => int(`${f}.weightsSetAt`, v, 0, height + 1));
    sparse(`${f}.weights`, nr.weights, F);
    nullable(nr.commitment, (v) => (str(`${f}.commitment`, v).length <= MAX_COMMITMENT_CHARS ? v : fail(`${f}.commitment`, v, `at most ${MAX_COMMITMENT_CHARS} chars`)));
    nullable(nr.commitmentBlock, (v) => int(`${f}.commitmentBlock`, v, 0, height + 1));
    num(`${f}.totalEmission`, nr.totalEmission, 0, F);
    if (nr.pendingWeights !== undefined) {
      const pw = arr(`${f}.pendingWeights`, nr.pendingWeights);
      if (pw.length > MAX_PENDING_WEIGHTS) fail(`${f}.pendingWeights`, `${pw.length} commits`, `at most ${MAX_PENDING_WEIGHTS}`);
      pw.forEach((c, k) => {
        const g = `${f}.pendingWeights[${k}]`, cw = obj(g, c);
        sparse(`${g}.weights`, cw.weights, F);
        int(`${g}.block`, cw.block, 0, height + 1);
        int(`${g}.epoch`, cw.epoch, 0, height + 1);
      });
    }
  });
  if (!(total <= MAX_TOTAL_STAKE)) fail('neurons[*].stake', `a total of ${total}`, `a total stake of at most ${MAX_TOTAL_STAKE}`);

  for (const [hotkey, a] of Object.entries(obj('accounts', s.accounts))) {
    const f = `accounts[${JSON.stringify(hotkey)}]`, acc = obj(f, a);
    int(`${f}.nonce`, acc.nonce);
    if (acc.lastCall !== undefined) str(`${f}.lastCall.hash`, obj(`${f}.lastCall`, acc.lastCall).hash);
  }

  if (s.epoch !== null) {
    const e = obj('epoch', s.epoch);
    int('epoch.block', e.block, 0, height);
    for (const k of ['Rank', 'Trust', 'Consensus', 'Incentive', 'Dividends', 'ValidatorTrust', 'Emission']) {
      if (k === 'Trust' && e[k] === undefined) continue; // legacy, written by older devnets only
      const v = arr(`epoch.${k}`, e[k]);
      if (v.length > n) fail(`epoch.${k}`, `${v.length} entries`, `at most one per uid (${n})`);
      v.forEach((x, i) => num(`epoch.${k}[${i}]`, x, 0, F));
    }
    const permit = arr('epoch.ValidatorPermit', e.ValidatorPermit);
    permit.forEach((x, i) => (typeof x === 'boolean' ? x : fail(`epoch.ValidatorPermit[${i}]`, x, 'true or false')));
    const bonds = arr('epoch.Bonds', e.Bonds);
    if (bonds.length > n) fail('epoch.Bonds', `${bonds.length} rows`, `at most one per uid (${n})`);
    bonds.forEach((row, i) => sparse(`epoch.Bonds[${i}]`, row, 1));
    num('epoch.OwnerEmission', e.OwnerEmission, 0, F);
  }
  num('ownerEmission', s.ownerEmission, 0, F);

  if (s.anchors !== undefined) {
    for (const [w, row] of Object.entries(obj('anchors', s.anchors))) {
      if (!/^\d{1,15}$/.test(w)) fail(`anchors[${JSON.stringify(w)}]`, w, 'a window number');
      for (const [uid, a] of Object.entries(obj(`anchors[${w}]`, row))) {
        const f = `anchors[${w}][${uid}]`;
        if (!/^\d+$/.test(uid) || Number(uid) >= n) fail(f, uid, `a uid below ${n}`);
        const an = obj(f, a);
        if (typeof an.digest !== 'string' || !/^[0-9a-f]{64}$/.test(an.digest)) fail(`${f}.digest`, an.digest, '64 lowercase hex digits');
        int(`${f}.block`, an.block, 0, height + 1);
        if (an.index !== undefined) int(`${f}.index`, an.index);
      }
    }
  }
  if (s.anchorCursor !== undefined) {
    const c = obj('anchorCursor', s.anchorCursor);
    int('anchorCursor.block', c.block, 0, height + 1);
    int('anchorCursor.count', c.count);
  }
  if (s.registrations !== undefined) {
    const r = obj('registrations', s.registrations);
    int('registrations.block', r.block, 0, height + 1);
    int('registrations.count', r.count);
  }
  if (s.commitReveal !== undefined) int('commitReveal.revealPeriodEpochs', obj('commitReveal', s.commitReveal).revealPeriodEpochs, 1, MAX_REVEAL_PERIOD_EPOCHS);
  if (s.yuma !== undefined) {
    const y = obj('yuma', s.yuma);
    if (y.ownerHotkey !== undefined) str('yuma.ownerHotkey', y.ownerHotkey);
    for (const k of ['yuma3', 'liquidAlpha']) if (y[k] !== undefined && typeof y[k] !== 'boolean') fail(`yuma.${k}`, y[k], 'true or false');
  }
  if (s.faucet !== undefined) {
    const fc = obj('faucet', s.faucet);
    num('faucet.cap', fc.cap, 0, MAX_STAKE_PER_HOTKEY);
    arr('faucet.exempt', fc.exempt).forEach((x, i) => str(`faucet.exempt[${i}]`, x));
  }
  return s as unknown as DevnetState;
}

// The command line as a user meets it: help on every subcommand, and bad input (missing or empty
// corpus, corrupt or truncated shard, unknown preset, missing data or checkpoint) ending in one
// clear message that names the file and what to do, with a non-zero exit.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, truncateSync, statSync, copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../src/util/paths.js';

const bin = join(projectRoot(), 'bin', 'tessera.js');
const root = mkdtempSync(join(tmpdir(), 'tessera-cli-'));

function run(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: root, env: { ...process.env, TESSERA_BACKEND: 'reference' } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

function fails(r: { code: number; err: string }, ...needles: (string | RegExp)[]): void {
  assert.notEqual(r.code, 0, 'exit code must be non-zero');
  for (const n of needles) assert.ok(typeof n === 'string' ? r.err.includes(n) : n.test(r.err), `stderr lacks ${String(n)}:\n${r.err}`);
  assert.ok(!/\n\s+at .+\(.+:\d+:\d+\)/.test(r.err), `no stack trace expected:\n${r.err}`);
}

before(() => {
  mkdirSync(join(root, 'small'));
  writeFileSync(join(root, 'small', 'a.txt'), 'It was the best of times, it was the worst of times. '.repeat(400));
  writeFileSync(join(root, 'small', 'b.txt'), 'Call me Ishmael. Some years ago, never mind how long precisely. '.repeat(400));
});

test('every subcommand has --help', () => {
  for (const args of [[], ['start'], ['data', 'prepare'], ['model', 'info'], ['train'], ['generate'], ['bench', 'engine'], ['bench', 'adversarial'], ['score', 'explain'], ['miner'], ['devnet']]) {
    const r = run(...args, '--help');
    assert.equal(r.code, 0, `${args.join(' ')} --help: ${r.err}`);
    assert.match(r.out, /Usage: tessera/);
  }
});

test('model info prints sizes; an unknown preset lists the valid ones', () => {
  const r = run('model', 'info', '--preset', '70b');
  assert.equal(r.code, 0);
  assert.match(r.out, /parameters\s+70\.\d+B/);
  assert.match(r.out, /AdamW/);
  fails(run('model', 'info', '--preset', 'gpt5'), 'unknown model preset "gpt5"', 'reference');
  fails(run('train', '--preset', 'gpt5', '--data', join(root, 'nope')), 'unknown model preset');
});

test('data prepare: missing and empty corpora are refused naming the path', () => {
  fails(run('data', 'prepare', join(root, 'missing.txt'), '--out', join(root, 'd1')), join(root, 'missing.txt'));
  writeFileSync(join(root, 'empty.txt'), '   \n');
  fails(run('data', 'prepare', join(root, 'empty.txt'), '--out', join(root, 'd2')), /empty/i);
  fails(run('data', 'prepare', join(root, 'small'), '--vocab-size', 'abc'), '--vocab-size');
});

test('train: missing data, then a truncated or corrupted shard, are refused naming the file', () => {
  fails(run('train', '--data', join(root, 'nodata'), '--steps', '1'), join(root, 'nodata'), 'tessera data prepare');
  const d = join(root, 'd3');
  const p = run('data', 'prepare', join(root, 'small'), '--out', d, '--vocab-size', '300', '--val-fraction', '0.5');
  assert.equal(p.code, 0, p.err);
  const shard = readdirSync(d).find((f) => f.startsWith('train_'))!;
  const good = join(root, 'good.bin');
  copyFileSync(join(d, shard), good);
  truncateSync(join(d, shard), statSync(join(d, shard)).size - 3);
  fails(run('train', '--data', d, '--preset', 'tiny', '--steps', '1', '--out', join(root, 'r1')), shard, 'tessera data prepare');
  const bytes = readFileSync(good);
  bytes[bytes.length - 1] ^= 0xff;
  writeFileSync(join(d, shard), bytes);
  fails(run('train', '--data', d, '--preset', 'tiny', '--steps', '1', '--out', join(root, 'r1')), shard);
});

test('generate: a missing checkpoint is refused with what to do', () => {
  mkdirSync(join(root, 'emptyrun'), { recursive: true });
  fails(run('generate', '--checkpoint', join(root, 'emptyrun'), '--prompt', 'x'), 'no checkpoint found', 'tessera train');
});

test('adversarial miners: --behavior and --adversaries list the behaviours and refuse unknown ones; score explain needs a chain', () => {
  assert.match(run('miner', '--help').out, /--behavior <name>[\s\S]*copy, noise,\s+scaled, signflip, lazy, late, malformed, stale/);
  assert.doesNotMatch(run('validator', '--help').out, /--behavior/);
  assert.match(run('devnet', '--help').out, /--adversaries <list>/);
  fails(run('miner', '--behavior', 'sneaky', '--run-id', 'x'), "unknown miner behavior 'sneaky'", 'copy, noise');
  fails(run('devnet', '--adversaries', 'copy,sneaky', '--dir', join(root, 'dn')), "unknown miner behavior 'sneaky'", 'use all, or');
  fails(run('devnet', '--adversaries', 'honest', '--dir', join(root, 'dn')), 'honest is not an adversarial behaviour', '--miners');
  fails(run('score', 'explain', '--uid', '1'), 'no chain to read', '--chain URL');
  fails(run('score', 'explain', '--uid', '1', '--chain', 'http://127.0.0.1:1'), 'cannot read the chain at http://127.0.0.1:1');
  writeFileSync(join(root, 'devnet.json'), '{"format":"other"}');
  fails(run('score', 'explain', '--uid', '1', '--dir', root), 'is not a tessera devnet record');
});

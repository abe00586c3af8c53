// The hosts harness's pure parts: which host gets which link, the --link syntax, and the CLI's refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TesseraError } from '../util/errors.js';
import { covenantLinks } from '../hosts/links.js';
import { hostsOf } from '../cli/devnet.js';
import { checkRates, hostSpecs, parseLinkOption } from './hosts.js';

const nodes = [{ name: 'validator', role: 'validator' as const }, { name: 'miner-1', role: 'miner' as const }, { name: 'miner-2', role: 'miner' as const }];

test('hostSpecs: chain and storage first and unshaped; --up/--down for miners and validators; --link wins', () => {
  const s = hostSpecs(nodes, { up: '110mbit', down: '500mbit', per: { 'miner-2': { up: '20mbit', down: null }, storage: { up: '1gbit', down: '1gbit' } } }, null);
  assert.deepEqual(s.map((h) => h.name), ['chain', 'storage', 'validator', 'miner-1', 'miner-2']);
  assert.deepEqual(s[0], { name: 'chain' });
  assert.deepEqual(s[1], { name: 'storage', up: '1gbit', down: '1gbit' });
  assert.deepEqual(s[2], { name: 'validator', up: '110mbit', down: '500mbit' });
  assert.deepEqual(s[3], { name: 'miner-1', up: '110mbit', down: '500mbit' });
  assert.deepEqual(s[4], { name: 'miner-2', up: '20mbit' }, 'a - side is unshaped');
});

test('hostSpecs: the covenant profile shapes the miners; validators stay unshaped unless given plain rates', () => {
  const c = covenantLinks(2.49e6, 11.4);
  const s = hostSpecs(nodes, { links: 'covenant' }, c);
  assert.deepEqual(s.find((h) => h.name === 'miner-1'), { name: 'miner-1', up: c.up, down: c.down });
  assert.deepEqual(s.find((h) => h.name === 'validator'), { name: 'validator' });
  assert.throws(() => hostSpecs(nodes, { per: { 'miner-9': { up: '1mbit' } } }, null), (e: unknown) => e instanceof TesseraError && /names no host: miner-9/.test(e.message));
});

test('--link NAME=UP/DOWN parses; anything else is refused with an example', () => {
  assert.deepEqual(parseLinkOption('miner-2=20mbit/100mbit'), ['miner-2', { up: '20mbit', down: '100mbit' }]);
  assert.deepEqual(parseLinkOption('storage=-/1gbit'), ['storage', { up: null, down: '1gbit' }]);
  for (const bad of ['miner-2=20mbit', 'miner-2=fast/slow', '=1mbit/1mbit']) {
    assert.throws(() => parseLinkOption(bad), (e: unknown) => e instanceof TesseraError && /NAME=UP\/DOWN/.test(e.message), bad);
  }
  assert.throws(() => checkRates({ up: '10 megabits' }), (e: unknown) => e instanceof TesseraError && /--up 10 megabits is not a rate/.test(e.message));
  assert.throws(() => checkRates({ links: 'covenant', up: '1mbit' }), (e: unknown) => e instanceof TesseraError && /exclude each other/.test(e.message));
});

test('the CLI: rates need --hosts; --hosts alone means unshaped links; unknown profiles are refused', () => {
  assert.equal(hostsOf({}), undefined);
  assert.throws(() => hostsOf({ up: '1mbit' }), (e: unknown) => e instanceof TesseraError && /add --hosts/.test(e.hint ?? ''));
  assert.deepEqual(hostsOf({ hosts: true }), { up: undefined, down: undefined, links: undefined, per: {} });
  assert.throws(() => hostsOf({ hosts: true, links: 'dsl' }), (e: unknown) => e instanceof TesseraError && /not a profile/.test(e.message));
});

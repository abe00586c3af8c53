// The chaos suite's link relay (relay.ts) over real loopback TCP: bytes pass, a cut drops open
// connections and leaves new ones hanging without an answer, a restore relays again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection, createServer, type Socket } from 'node:net';
import { Relay } from './relay.js';

/** Sends `msg` through port and resolves with the echo, or null when nothing came back within ms. */
function echoVia(port: number, msg: string, ms: number): Promise<string | null> {
  return new Promise((resolve) => {
    const c: Socket = createConnection({ host: '127.0.0.1', port });
    let got = '';
    const t = setTimeout(() => { c.destroy(); resolve(null); }, ms);
    c.on('data', (b) => { got += b.toString(); if (got.length >= msg.length) { clearTimeout(t); c.destroy(); resolve(got); } });
    c.on('error', () => { clearTimeout(t); resolve(null); });
    c.on('close', () => { clearTimeout(t); resolve(got.length >= msg.length ? got : null); });
    c.write(msg);
  });
}

test('relay: passes bytes, a cut hangs new connections and drops open ones, restore relays again', { timeout: 20_000 }, async () => {
  const echo = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  const relay = await Relay.start('127.0.0.1', (echo.address() as { port: number }).port);
  try {
    assert.equal(await echoVia(relay.port, 'hello', 2000), 'hello');
    assert.equal(Relay.rewrite('http://127.0.0.1:9944', relay.port), `http://127.0.0.1:${relay.port}`);
    assert.equal(Relay.rewrite('http://localhost:7480/', 1234), 'http://127.0.0.1:1234/');
    // An open connection is dropped by the cut.
    const open = createConnection({ host: '127.0.0.1', port: relay.port });
    await new Promise((r) => open.once('connect', r));
    const closed = new Promise((r) => open.once('close', r));
    open.on('error', () => {});
    relay.sever();
    await closed;
    assert.equal(await echoVia(relay.port, 'lost', 500), null, 'no answer while cut');
    relay.restore();
    assert.equal(await echoVia(relay.port, 'again', 2000), 'again');
  } finally {
    await relay.close();
    echo.close();
  }
});

test('relay: HTTP keep-alive through it (a chain client\'s requests) all get their answers', { timeout: 30_000 }, async () => {
  const { createServer: createHttp } = await import('node:http');
  const srv = createHttp((req, res) => { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ path: req.url })); });
  srv.keepAliveTimeout = 200; // the server closes idle connections often: the relay must pass its FIN after the last answer
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const relay = await Relay.start('127.0.0.1', (srv.address() as { port: number }).port);
  try {
    for (let i = 0; i < 40; i++) {
      const r = await fetch(`http://127.0.0.1:${relay.port}/head?i=${i}`);
      assert.deepEqual(await r.json(), { path: `/head?i=${i}` });
      await new Promise((res) => setTimeout(res, i % 5 === 0 ? 250 : 10));
    }
  } finally {
    await relay.close();
    srv.close();
  }
});

// The dashboard's web server (hono on node:http): one page (page.ts), uPlot from node_modules, the
// state as JSON (GET /api/state) and as server-sent events every 2 s (GET /api/stream), and a miner's
// score explanation (GET /api/explain?uid=N[&window=W]). Listens on 127.0.0.1 unless told otherwise.
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { TesseraError } from '../util/errors.js';
import { DashboardSource, type SourceOptions } from './collect.js';
import { dashboardPage } from './page.js';

export const DASHBOARD_DEFAULT_PORT = 8700;
const PUSH_MS = 2000;

export interface Dashboard {
  url: string;
  source: DashboardSource;
  close(): Promise<void>;
}

function uplotAssets(): { js: string; css: string } {
  const require = createRequire(import.meta.url);
  const dir = dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
  return { js: readFileSync(join(dir, 'uPlot.iife.min.js'), 'utf8'), css: readFileSync(join(dir, 'uPlot.min.css'), 'utf8') };
}

export function dashboardApp(source: DashboardSource): Hono {
  const assets = uplotAssets();
  const app = new Hono();
  app.get('/', (c) => c.html(dashboardPage()));
  app.get('/assets/uPlot.iife.min.js', (c) => c.body(assets.js, 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'max-age=3600' }));
  app.get('/assets/uPlot.min.css', (c) => c.body(assets.css, 200, { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'max-age=3600' }));
  app.get('/api/state', async (c) => c.json(await source.state()));
  app.get('/api/explain', async (c) => {
    const uid = Number(c.req.query('uid'));
    const w = c.req.query('window');
    const window = w === undefined || w === '' ? undefined : Number(w);
    if (!Number.isSafeInteger(uid) || uid < 0 || (window !== undefined && !Number.isSafeInteger(window))) return c.text('uid (and window) must be integers', 400);
    return c.text(await source.explain(uid, window));
  });
  app.get('/api/stream', (c) => streamSSE(c, async (stream) => {
    let open = true;
    stream.onAbort(() => { open = false; });
    while (open) {
      try {
        await stream.writeSSE({ event: 'state', data: JSON.stringify(await source.state()) });
      } catch (e) {
        await stream.writeSSE({ event: 'failure', data: (e as Error).message }).catch(() => { open = false; });
      }
      await stream.sleep(PUSH_MS);
    }
  }));
  return app;
}

/** Starts the dashboard on host:port (port 0: any free one; a taken default port falls back to a free one when `fallback`). */
export async function startDashboard(o: SourceOptions & { host?: string; port?: number; fallback?: boolean }): Promise<Dashboard> {
  const source = new DashboardSource(o);
  const app = dashboardApp(source);
  const host = o.host ?? '127.0.0.1';
  const listen = (port: number): Promise<{ server: ServerType; port: number }> => new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port, hostname: host }, (info) => resolve({ server, port: info.port }));
    server.once('error', reject);
  });
  const want = o.port ?? DASHBOARD_DEFAULT_PORT;
  let got: { server: ServerType; port: number };
  try {
    got = await listen(want);
  } catch (e) {
    if (!(o.fallback && (e as NodeJS.ErrnoException).code === 'EADDRINUSE')) {
      throw new TesseraError(`cannot serve the dashboard on ${host}:${want}: ${(e as Error).message}`, 'pass another --dashboard-port (0: any free port)');
    }
    got = await listen(0);
  }
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${got.port}/`;
  return {
    url, source,
    close: () => new Promise<void>((resolve) => {
      source.close();
      const s = got.server as unknown as { closeAllConnections?: () => void; close: (cb: () => void) => void };
      s.closeAllConnections?.(); // open event streams would hold close() forever
      s.close(() => resolve());
    }),
  };
}

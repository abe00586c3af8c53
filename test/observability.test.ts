// Observability (issue 18). Pure rules first: the dashboard's alerts and loss series, the metrics
// port setting. Then one short devnet (tiny model, 2 miners + a validator as processes, metrics on
// every node as `tessera devnet` runs them) with the dashboard served from this process:
//  - each node's /metrics is valid Prometheus text and holds every metric the README lists;
//  - a real headless Chromium (Debian's /usr/bin/chromium through playwright-core; skipped with a
//    clear message only when no Chromium is installed) shows every node, sees the loss chart gain
//    points as windows pass, opens a miner's score explanation, and saves a screenshot.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareData } from '../src/data/index.js';
import { Devnet, readStatus, readTimeline, type RunOverrides } from '../src/devnet/index.js';
import { alertsOf, lossesFromLog, lossSeries, startDashboard, whyNoAggregate, type Dashboard } from '../src/dashboard/index.js';
import { findChromium, launchChromium, openDashboard } from '../src/dashboard/browser.js';
import { METRICS_PORT_ENV, metricsPortOf } from '../src/cli/node.js';
import type { ScoreReceipt } from '../src/gauntlet/index.js';
import type { TimelineEntry } from '../src/neurons/index.js';

// ---------------------------------------------------------------- Prometheus text (exposition format 0.0.4)

interface Family { type: string; help: string | null; samples: Array<{ name: string; labels: Record<string, string>; value: number }> }

/** Parses Prometheus text strictly: every line a comment, HELP/TYPE, or a sample of a declared family. Throws on the first bad line. */
function parsePrometheus(text: string): Map<string, Family> {
  const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/, fams = new Map<string, Family>();
  const familyOf = (name: string): Family | undefined => {
    if (fams.has(name)) return fams.get(name);
    const base = name.replace(/_(bucket|sum|count)$/, '');
    const f = fams.get(base);
    return f && (f.type === 'histogram' || f.type === 'summary') ? f : undefined;
  };
  text.split('\n').forEach((line, i) => {
    const at = `line ${i + 1} "${line}"`;
    if (line === '') return;
    let m: RegExpExecArray | null;
    if ((m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line))) {
      assert.match(m[2]!, NAME, `${at}: bad metric name`);
      const f = fams.get(m[2]!) ?? { type: 'untyped', help: null, samples: [] };
      if (m[1] === 'TYPE') {
        assert.ok(['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3]!), `${at}: bad type`);
        assert.equal(f.samples.length, 0, `${at}: TYPE after samples`);
        f.type = m[3]!;
      } else f.help = m[3]!;
      fams.set(m[2]!, f);
      return;
    }
    if (line.startsWith('#')) return;
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
    assert.ok(m, `${at}: not a sample`);
    const labels: Record<string, string> = {};
    if (m[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\[\\"n])*)"(,|$)/y;
      let pos = 0;
      while (pos < m[3].length) {
        re.lastIndex = pos;
        const l = re.exec(m[3]);
        assert.ok(l, `${at}: bad labels at ${pos}`);
        assert.ok(!(l[1]! in labels), `${at}: label ${l[1]} twice`);
        labels[l[1]!] = l[2]!;
        pos = re.lastIndex;
      }
    }
    const v = m[4]!;
    const value = v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : v === 'NaN' ? NaN : Number(v);
    assert.ok(v === 'NaN' || !Number.isNaN(value), `${at}: bad value`);
    const f = familyOf(m[1]!);
    assert.ok(f, `${at}: sample of an undeclared family`);
    f.samples.push({ name: m[1]!, labels, value });
  });
  return fams;
}

/** The metric names the README's metrics table lists (`tessera_...` in its first column). */
function readmeMetrics(): string[] {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf('### Metrics');
  assert.ok(start >= 0, 'README has a "### Metrics" section');
  const section = readme.slice(start, readme.indexOf('\n## ', start));
  const names = [...section.matchAll(/^\| ([^|]+)\|/gm)].flatMap((m) => [...m[1]!.matchAll(/`(tessera_[a-z_]+)`/g)].map((x) => x[1]!));
  assert.ok(names.length >= 10, `README lists ${names.length} metrics`);
  return names;
}

// ---------------------------------------------------------------- pure rules

const tl = (window: number, extra: Partial<TimelineEntry> = {}): TimelineEntry => ({
  window, train_s: 1, encode_s: 0.1, upload_s: 0.1, gather_s: 0.2, apply_s: 0.1, idle_s: 1, window_s: 2.5, payloadBytes: 100, bytesDown: 0, fingerprint: 'f', ...extra,
});

/** A receipt with only what the dashboard reads (the rules under test read result.miners, peers, window). */
function receipt(window: number, miners: Array<{ uid: number; status?: string; gate?: string | null; penalties?: string[] }>, peers: number[] = []): ScoreReceipt {
  return {
    window,
    result: {
      window, medianNorm: 1, peers, reserves: [], dropped: [], weights: { uids: [], weights: [] },
      miners: miners.map((m) => ({ uid: m.uid, status: m.status ?? 'ok', evaluated: (m.status ?? 'ok') === 'ok', gate: m.gate ?? null, penalties: (m.penalties ?? []).map((kind) => ({ kind, reason: kind })), final: 0 })),
    },
  } as unknown as ScoreReceipt;
}

const agreed = { window: 5, fingerprint: 'f', agreeing: 3, reporting: 3, windowsChecked: 5, mismatches: [] };

test('alerts: a late miner with its mean lateness, and windows without an aggregate with the reason from the receipts', () => {
  const miners = new Map<string, TimelineEntry[]>([
    ['miner-1', [0, 1, 2, 3, 4, 5].map((w) => tl(w, { outcome: 'uploaded', margin_ms: 4000, steps: 8 }))],
    // late in 3 of the last 5 windows (windows 1, 3, 5: by 1.0, 1.2 and 1.4 s); window 0 (late too) is outside the last 5.
    ['miner-2', [0, 1, 2, 3, 4, 5].map((w) => tl(w, { outcome: 'uploaded', margin_ms: w === 0 || w % 2 === 1 ? -(900 + 100 * w) : 3000, steps: 8 }))],
  ]);
  const validator = [0, 1, 2, 3, 4, 5].map((w) => tl(w, { aggregated: w < 2 ? [1, 2] : [] }));
  const gated = (w: number): ScoreReceipt => receipt(w, [{ uid: 1, gate: 'own data no better than random' }, { uid: 2, gate: 'own data no better than random' }]);
  const alerts = alertsOf({ miners, validator, receipts: [1, 2, 3, 4, 5].map(gated), agreement: agreed, nodes: [], innerSteps: 8 });
  const texts = alerts.map((a) => a.text);
  assert.ok(texts.includes('miner-2 late 3 of the last 5 windows by 1.2 s'), texts.join('\n'));
  assert.ok(texts.includes('no aggregate for 4 windows (2–5): all miners gated by own-data'), texts.join('\n'));
  assert.ok(!texts.some((t) => t.startsWith('miner-1')), texts.join('\n'));
  assert.ok(!texts.some((t) => /behind the chain/.test(t)), texts.join('\n'));
  // The chain is in window 9, so the validator should work on 8; its newest finished window is 5: it works on 6, 2 behind.
  assert.ok(alertsOf({ miners, validator, receipts: [], agreement: agreed, nodes: [], innerSteps: 8, chainWindow: 9, validatorName: 'validator' })
    .some((x) => x.text === 'validator is 2 windows behind the chain (its work on a window takes longer than a window)'));
  assert.equal(alerts[0]!.level, 'error', 'errors first');
  // Fewer steps than H, a node that died, fingerprints that disagree.
  const more = alertsOf({
    miners: new Map([['miner-3', [tl(0, { outcome: 'uploaded', steps: 5 }), tl(1, { outcome: 'uploaded', steps: 8 })]]]), validator: [], receipts: [],
    agreement: { ...agreed, mismatches: [4] }, nodes: [{ name: 'miner-4', state: 'FAILING', lastError: 'boom' }], innerSteps: 8,
  }).map((a) => a.text);
  assert.deepEqual(more, [
    'fingerprints disagree at window 4: nodes hold different models',
    'miner-4: FAILING (boom)',
    'miner-3 trained fewer than H=8 steps in 1 of the last 2 windows (5 on average): not enough time before the deadline',
  ]);
});

test('whyNoAggregate names the cause: no uploads, none valid, own-data gate, penalties, no peers', () => {
  assert.equal(whyNoAggregate([]), 'no receipts for these windows (is a validator scoring?)');
  assert.equal(whyNoAggregate([receipt(3, [])]), 'no miner uploaded');
  assert.equal(whyNoAggregate([receipt(3, [{ uid: 1, status: 'late' }, { uid: 2, status: 'missing' }])]), 'no upload was valid (late, missing)');
  assert.equal(whyNoAggregate([receipt(3, [{ uid: 1, gate: 'x' }])]), 'all miners gated by own-data');
  assert.equal(whyNoAggregate([receipt(3, [{ uid: 1, penalties: ['copied'] }, { uid: 2, gate: 'x' }])]), 'every evaluated miner penalized or gated by own-data');
  assert.match(whyNoAggregate([receipt(3, [{ uid: 1 }])]), /^the validator named no peers/);
  assert.equal(whyNoAggregate([receipt(3, [{ uid: 1 }], [1])]), 'the peers named did not upload in time');
});

test('loss series: windows aligned across nodes; a miner\'s loss read back from its node.log', () => {
  const s = lossSeries(new Map([[1, 7.5], [2, 7.0]]), new Map([['m1', new Map([[0, 8], [2, 6.5]])]]));
  assert.deepEqual(s, { windows: [0, 1, 2], val: [null, 7.5, 7.0], train: { m1: [8, null, 6.5] } });
  const log = '2026-12-01T00:00:00.000Z [miner-1] window 3: loss 6.2034, 30/30 steps, payload 43465 bytes uploaded\n... window 4: loss 5.9, 12/30 steps\n';
  assert.deepEqual([...lossesFromLog(log)], [[3, 6.2034], [4, 5.9]]);
});

test('metrics port: --metrics-port wins over TESSERA_METRICS_PORT; a bad value is refused', () => {
  assert.equal(metricsPortOf(9100, '0'), 9100);
  assert.equal(metricsPortOf(undefined, '0'), 0);
  assert.equal(metricsPortOf(undefined, undefined), undefined);
  assert.throws(() => metricsPortOf(undefined, 'abc'), /TESSERA_METRICS_PORT=abc is not a port/);
});

// ---------------------------------------------------------------- a running devnet

const TINY: RunOverrides = { preset: 'tiny', blocksPerWindow: 12, innerSteps: 8, batch: 4, seq: 32, innerLr: 3e-3, alpha: 1, checkpointEvery: 2 };
let net: Devnet | null = null;
let dash: Dashboard | null = null;
let root: string | null = null;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'tessera-obs-'));
  const data = join(root, 'data');
  await prepareData({ outDir: data, vocabSize: 512 });
  net = await Devnet.start({
    dir: join(root, 'devnet'), miners: 2, run: TINY, blockMs: 250, storage: { kind: 'fs' }, data, windows: 40, log: () => {}, // stopped by after()
    nodeEnv: { [METRICS_PORT_ENV]: '0' }, // as tessera devnet runs its nodes: metrics on a free port each
  });
  dash = await startDashboard({ devnet: net, port: 0 });
});

after(async () => {
  await dash?.close();
  await net?.stop();
  if (root && !process.env.TESSERA_KEEP) rmSync(root, { recursive: true, force: true });
});

async function until<T>(what: string, timeoutMs: number, f: () => Promise<T | null | undefined> | T | null | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== null && v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function metricsOf(name: string): Promise<Map<string, Family>> {
  const node = net!.nodes.get(name)!;
  const url = await until(`${name}'s metrics URL in status.json`, 60_000, () => readStatus(node.dataDir)?.metricsUrl);
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await res.text());
}
const sample = (f: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined =>
  [...f.values()].flatMap((x) => x.samples).find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

test('metrics: every node serves valid Prometheus text with the README\'s metrics, low-cardinality labels and real values', { timeout: 150_000 }, async (t) => {
  // Work done, not chain time: on a loaded machine the nodes may still be starting when the chain is at window 3.
  await until('2 windows in miner-1\'s timeline and a validation loss', 120_000, () =>
    readTimeline(net!.nodes.get('miner-1')!.dataDir).length >= 2 && readTimeline(net!.nodes.get('validator')!.dataDir).some((e) => typeof e.val_loss === 'number'));
  const listed = readmeMetrics();
  const miner = await metricsOf('miner-1'), validator = await metricsOf('validator');
  for (const [who, fams] of [['miner-1', miner], ['validator', validator]] as const) {
    for (const name of listed) assert.ok(fams.has(name), `${who}: README metric ${name} missing from /metrics`);
    const ours = [...fams.keys()].filter((n) => n.startsWith('tessera_') && !n.startsWith('tessera_process_'));
    assert.deepEqual(ours.filter((n) => !listed.includes(n)), [], `${who}: metrics not documented in the README`);
    for (const [name, f] of fams) {
      const labels = new Set(f.samples.flatMap((s) => Object.keys(s.labels)));
      assert.ok(!labels.has('window'), `${who}: ${name} has a per-window label`);
      const sets = new Set(f.samples.map(({ labels: { le: _le, ...rest } }) => JSON.stringify(rest))); // a histogram's buckets are one series
      assert.ok(sets.size <= 60, `${who}: ${name} has ${sets.size} label sets`);
    }
    assert.equal(sample(fams, 'tessera_window', { node: who }) !== undefined, true, `${who}: tessera_window carries the node label`);
  }
  const show = (f: Map<string, Family>, ...names: string[]): string => names.map((n) => `${n}: ${JSON.stringify(f.get(n)?.samples ?? null)}`).join('\n');
  assert.ok(sample(miner, 'tessera_window')! >= 1, `miner window\n${show(miner, 'tessera_window', 'tessera_phase')}`);
  assert.ok(sample(miner, 'tessera_loss')! > 0, 'miner loss');
  assert.ok(sample(miner, 'tessera_payload_bytes')! > 0, 'miner payload bytes');
  assert.ok(sample(miner, 'tessera_phase_seconds_count', { part: 'train' })! >= 1, 'train phase observed');
  assert.ok(sample(miner, 'tessera_uploads_total', { outcome: 'uploaded' })! >= 1, 'uploads counted');
  assert.ok(sample(miner, 'tessera_bytes_up_total')! > 0, 'bytes up');
  assert.ok(sample(validator, 'tessera_val_loss')! > 0, 'validator val loss');
  assert.ok(sample(validator, 'tessera_uploads_checked_total', { result: 'accepted' })! >= 1, 'validator accepted uploads');
  assert.ok(sample(validator, 'tessera_miner_score', { kind: 'final' }) !== undefined, 'validator scores per miner');
  t.diagnostic(`${listed.length} README metrics present on miner-1 and validator; miner loss ${sample(miner, 'tessera_loss')}, validator val loss ${sample(validator, 'tessera_val_loss')}`);
});

test('dashboard in a real headless Chromium: every node shown, the loss chart gains points, a miner\'s score explanation opens; screenshot saved', { timeout: 150_000 }, async (t) => {
  const exe = findChromium(process.env.TESSERA_CHROMIUM);
  if (!exe) { t.skip('no Chromium installed (apt-get install -y --no-install-recommends chromium, or set TESSERA_CHROMIUM): the browser test cannot run'); return; }
  const browser = await launchChromium(exe);
  try {
    const page = await openDashboard(browser, dash!.url, { points: 1, timeoutMs: 90_000 });
    for (const n of net!.nodes.keys()) assert.equal(await page.locator(`#nodes tr[data-node="${n}"]`).count(), 1, `node ${n} shown`);
    assert.equal(await page.locator('#timeline tr[data-node]').count(), net!.nodes.size, 'a timeline row per node');
    const points = async (): Promise<number> => Number(await page.getAttribute('#loss-chart', 'data-points'));
    const first = await points();
    const later = await until('the loss chart to gain a point', 60_000, async () => { const p = await points(); return p > first ? p : null; }).catch(async (e: Error) => {
      const s = await dash!.source.state();
      throw new Error(`${e.message}; chain window ${s.chain.window}, val losses ${JSON.stringify(s.losses.val)}, page updates ${await page.getAttribute('body', 'data-updates')}`);
    });
    t.diagnostic(`loss chart: ${first} → ${later} validation-loss points`);
    // A miner's score explanation: once the validator has scored it, the row opens the explain text.
    const uid = readStatus(net!.nodes.get('miner-1')!.dataDir)!.uid!;
    await until('a scored miner row', 60_000, async () => (await page.locator(`#miners tr[data-uid="${uid}"] td`).nth(3).textContent())?.trim() === 'ok' || null);
    await page.click(`#miners tr[data-uid="${uid}"]`);
    await page.waitForFunction((u) => (document.querySelector('#explain-text')?.textContent ?? '').startsWith(`uid ${u}: scored in`), uid, { timeout: 20_000 });
    const text = (await page.textContent('#explain-text'))!;
    assert.match(text, /final \d/, text);
    assert.equal(await page.isVisible('#explain'), true);
    const shot = join(tmpdir(), 'tessera-dashboard-test.png');
    await page.screenshot({ path: shot, fullPage: true });
    t.diagnostic(`screenshot: ${shot}`);
  } finally {
    await browser.close();
  }
});

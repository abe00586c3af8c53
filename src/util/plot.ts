// Minimal SVG line charts for benchmark reports (no dependencies): panels side by side, linear or
// log10 x axis, one polyline per series with a legend.

export interface Series {
  name: string;
  x: number[];
  y: number[];
}

export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  logX?: boolean;
  series: Series[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-2 && v !== 0) ? v.toExponential(1) : String(+v.toPrecision(3)));

function ticks(lo: number, hi: number, n: number): number[] {
  const step = (hi - lo) / n;
  return Array.from({ length: n + 1 }, (_, i) => lo + i * step);
}

function panelSvg(p: Panel, ox: number, w: number, h: number): string {
  const m = { l: 60, r: 150, t: 30, b: 45 };
  const pw = w - m.l - m.r, ph = h - m.t - m.b;
  const tx = (x: number) => (p.logX ? Math.log10(Math.max(x, 1e-300)) : x);
  const pts = p.series.flatMap((s) => s.x.map((x, i) => [tx(x), s.y[i]!] as const)).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (pts.length === 0) return '';
  let [x0, x1] = [Math.min(...pts.map((q) => q[0])), Math.max(...pts.map((q) => q[0]))];
  let [y0, y1] = [Math.min(...pts.map((q) => q[1])), Math.max(...pts.map((q) => q[1]))];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) y1 = y0 + 1;
  const pad = (y1 - y0) * 0.05;
  y0 -= pad; y1 += pad;
  const sx = (x: number) => ox + m.l + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y: number) => m.t + ph - ((y - y0) / (y1 - y0)) * ph;
  const out: string[] = [];
  out.push(`<text x="${ox + m.l + pw / 2}" y="18" text-anchor="middle" font-size="14">${esc(p.title)}</text>`);
  out.push(`<rect x="${ox + m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  for (const v of ticks(x0, x1, 5)) {
    out.push(`<line x1="${sx(v)}" y1="${m.t + ph}" x2="${sx(v)}" y2="${m.t + ph + 4}" stroke="#333"/>`);
    out.push(`<text x="${sx(v)}" y="${m.t + ph + 16}" text-anchor="middle" font-size="10">${fmt(p.logX ? 10 ** v : v)}</text>`);
  }
  for (const v of ticks(y0, y1, 5)) {
    out.push(`<line x1="${ox + m.l - 4}" y1="${sy(v)}" x2="${ox + m.l}" y2="${sy(v)}" stroke="#333"/>`);
    out.push(`<text x="${ox + m.l - 6}" y="${sy(v) + 3}" text-anchor="end" font-size="10">${fmt(v)}</text>`);
  }
  out.push(`<text x="${ox + m.l + pw / 2}" y="${h - 8}" text-anchor="middle" font-size="12">${esc(p.xLabel)}${p.logX ? ' (log scale)' : ''}</text>`);
  out.push(`<text transform="translate(${ox + 14},${m.t + ph / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(p.yLabel)}</text>`);
  p.series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length]!;
    const line = s.x.map((x, j) => [tx(x), s.y[j]!] as const).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
      .map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
    out.push(`<polyline points="${line}" fill="none" stroke="${c}" stroke-width="1.8"/>`);
    out.push(`<line x1="${ox + m.l + pw + 10}" y1="${m.t + 10 + i * 16}" x2="${ox + m.l + pw + 28}" y2="${m.t + 10 + i * 16}" stroke="${c}" stroke-width="3"/>`);
    out.push(`<text x="${ox + m.l + pw + 32}" y="${m.t + 14 + i * 16}" font-size="11">${esc(s.name)}</text>`);
  });
  return out.join('\n');
}

/** Panels laid out left to right in one SVG document. */
export function plotSvg(panels: Panel[], caption = '', panelWidth = 560, height = 360): string {
  const w = panelWidth * panels.length, h = height + (caption ? 20 : 0);
  const body = panels.map((p, i) => panelSvg(p, i * panelWidth, panelWidth, height)).join('\n');
  const cap = caption ? `<text x="8" y="${h - 6}" font-size="10" fill="#555">${esc(caption)}</text>` : '';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${body}\n${cap}\n</svg>\n`;
}

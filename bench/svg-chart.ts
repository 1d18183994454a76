/**
 * A small hand-written SVG line chart: axes with "nice" ticks, optional log2 x axis, one polyline
 * per series, a legend. Enough for throughput-vs-concurrency and latency CDFs, no dependencies.
 */

export interface Series {
  name: string;
  points: [number, number][];
  /** Drawn dashed (e.g. a roofline or other bound). */
  dashed?: boolean;
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  logX?: boolean;
  /** Draws markers on each point (sparse data such as a concurrency sweep). */
  markers?: boolean;
  /** Corner for the legend (default top-left; CDFs rise there, so they use bottom-right). */
  legendAt?: 'top-left' | 'bottom-right';
  /** Start the (linear) x axis at 0 rather than at the smallest value. */
  xFromZero?: boolean;
  /** Fixed top of the y axis (1 for a CDF); default: from the data. */
  yMax?: number;
  width?: number;
  height?: number;
}

const COLORS = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
];
const MARGIN = { left: 70, right: 20, top: 40, bottom: 50 };

const escapeXml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Tick values at 1, 2 or 5 × 10^k from at or below lo to at or above hi. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  return Array.from({ length: last - first + 1 }, (_, i) =>
    Number(((first + i) * step).toPrecision(12)),
  );
}

const fmtTick = (v: number) =>
  Math.abs(v) >= 1e4 ? `${Number((v / 1e3).toPrecision(4))}k` : String(Number(v.toPrecision(4)));

function extent(values: number[]): [number, number] {
  const finite = values.filter(Number.isFinite);
  return finite.length ? [Math.min(...finite), Math.max(...finite)] : [0, 1];
}

export function renderLineChart(chart: LineChart): string {
  const width = chart.width ?? 720;
  const height = chart.height ?? 420;
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const all = chart.series.flatMap((s) => s.points);
  const fx = chart.logX ? Math.log2 : (x: number) => x;
  const [, yMax] = extent(all.map(([, y]) => y));
  const yTicks = niceTicks(0, chart.yMax ?? (yMax * 1.05 || 1));
  const yTop = yTicks[yTicks.length - 1]!;
  const [xLo, xHi] = extent(all.map(([x]) => fx(x)));
  const xStart = chart.xFromZero && !chart.logX ? Math.min(0, xLo) : xLo;
  // Linear axes span whole ticks; the log2 axis spans the data, ticked at powers of two.
  const xTicks = chart.logX
    ? Array.from(
        { length: Math.floor(xHi) - Math.ceil(xStart) + 1 },
        (_, i) => Math.ceil(xStart) + i,
      )
    : niceTicks(xStart, xHi);
  const [x0, x1] = chart.logX ? [xStart, xHi] : [xTicks[0]!, xTicks[xTicks.length - 1]!];
  const sx = (x: number) =>
    MARGIN.left + (x1 > x0 ? ((fx(x) - x0) / (x1 - x0)) * plotW : plotW / 2);
  const sxRaw = (t: number) => MARGIN.left + (x1 > x0 ? ((t - x0) / (x1 - x0)) * plotW : plotW / 2);
  const sy = (y: number) => MARGIN.top + plotH - (y / yTop) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(chart.title)}</text>`,
  ];
  for (const t of yTicks) {
    const y = sy(t).toFixed(1);
    out.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`,
    );
    out.push(
      `<text x="${MARGIN.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${fmtTick(t)}</text>`,
    );
  }
  for (const t of xTicks) {
    const x = sxRaw(t).toFixed(1);
    const label = chart.logX ? fmtTick(2 ** t) : fmtTick(t);
    out.push(
      `<line x1="${x}" x2="${x}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#f0f0f0"/>`,
    );
    out.push(`<text x="${x}" y="${MARGIN.top + plotH + 16}" text-anchor="middle">${label}</text>`);
  }
  out.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${height - 12}" text-anchor="middle">${escapeXml(chart.xLabel)}</text>`,
    `<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(chart.yLabel)}</text>`,
  );
  chart.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts = s.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(`<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`);
    if (chart.markers)
      for (const [x, y] of s.points)
        out.push(
          `<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${color}"/>`,
        );
    const n = chart.series.length;
    const bottomRight = chart.legendAt === 'bottom-right';
    const ly = bottomRight ? MARGIN.top + plotH - 14 - (n - 1 - i) * 16 : MARGIN.top + 14 + i * 16;
    const lx = bottomRight ? MARGIN.left + plotW - 260 : MARGIN.left + 10;
    out.push(
      `<line x1="${lx}" x2="${lx + 20}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`,
    );
    out.push(
      `<text x="${lx + 26}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** Empirical CDF of a sample as a step line: (value, fraction ≤ value), rising at each value. */
export function cdfPoints(values: readonly number[]): [number, number][] {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.flatMap((v, i): [number, number][] => [
    [v, i / sorted.length],
    [v, (i + 1) / sorted.length],
  ]);
}

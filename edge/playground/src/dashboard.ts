/** The live dashboard: polls `/v1/dashboard` every second while visible and renders a summary. */
import type { DashboardSnapshot } from '../dashboard-route.ts';
import { describeError, getJson } from './api.ts';
import { clearError, showError } from './banner.ts';
import {
  type BackendSummary,
  type DashboardSummary,
  type Percentiles,
  summarize,
} from './dashboard-model.ts';
import { byId, el } from './dom.ts';

export const POLL_INTERVAL_MS = 1000;
const HISTORY_LENGTH = 61;

const history: DashboardSnapshot[] = [];
let timer: ReturnType<typeof setTimeout> | undefined;
let running = false;
let lastHealthy: boolean | null = null;

export function startDashboard(): void {
  if (running) return;
  running = true;
  void poll();
}

export function stopDashboard(): void {
  running = false;
  clearTimeout(timer);
}

async function poll(): Promise<void> {
  try {
    history.push(await getJson<DashboardSnapshot>('/v1/dashboard'));
    if (history.length > HISTORY_LENGTH) history.shift();
    render(summarize(history));
    clearError('dashboard');
  } catch (err) {
    showError('dashboard', `Dashboard: ${describeError(err)}`);
    byId('dash-status').textContent = `Not updating: ${describeError(err)}`;
  }
  if (running) timer = setTimeout(() => void poll(), POLL_INTERVAL_MS);
}

const fixed = (v: number | null, digits = 1) => (v === null ? '—' : v.toFixed(digits));
const percent = (v: number | null) => (v === null ? '—' : `${(v * 100).toFixed(1)}%`);
const count = (v: number | null) => (v === null ? '—' : String(Math.round(v)));

function ms(seconds: number | null): string {
  if (seconds === null) return '—';
  const millis = seconds * 1000;
  return millis >= 100 ? `${Math.round(millis)} ms` : `${millis.toFixed(1)} ms`;
}

function render(s: DashboardSummary): void {
  const time = new Date(s.time).toLocaleTimeString();
  byId('dash-status').replaceChildren(
    el(
      'span',
      { class: `badge ${s.healthy ? 'ok' : 'bad'}` },
      s.healthy ? 'serving' : 'unavailable',
    ),
    ` updated ${time}, every ${POLL_INTERVAL_MS / 1000} s`,
  );
  if (lastHealthy !== s.healthy)
    byId('dash-announce').textContent = s.healthy ? 'Backends healthy.' : 'No healthy backend.';
  lastHealthy = s.healthy;
  byId('tiles').replaceChildren(
    tile(
      'Requests / s',
      fixed(s.requestsPerSecond, 2),
      'API requests at the edge',
      sparkline(s.requestsSeries),
    ),
    tile(
      'Tokens / s',
      fixed(s.tokensPerSecond),
      'generated, all backends',
      sparkline(s.tokensSeries),
    ),
    latencyTile('Time to first token', s.ttft),
    latencyTile('Inter-token latency', s.itl),
    tile(
      'Running / waiting',
      `${count(s.running)} / ${count(s.waiting)}`,
      'requests in the engines',
    ),
    tile(
      'KV-cache usage',
      percent(s.kvCacheUsage),
      'blocks in use, mean of backends',
      bar(s.kvCacheUsage),
    ),
    tile('Prefix-cache hit rate', percent(s.prefixHitRate), 'prompt tokens found cached'),
    tile('Edge cache hit rate', percent(s.edgeCacheHitRate), 'responses replayed by the edge'),
  );
  byId('backends').replaceChildren(...s.backends.map(backendCard));
}

function tile(title: string, value: string, sub: string, extra?: Node): HTMLElement {
  const node = el(
    'div',
    { class: 'tile' },
    el('h3', {}, title),
    el('div', { class: 'value' }, value),
  );
  node.append(el('div', { class: 'sub' }, sub));
  if (extra) node.append(extra);
  return node;
}

function latencyTile(title: string, p: Percentiles): HTMLElement {
  const sub = `p90 ${ms(p.p90)} · p99 ${ms(p.p99)} · ${p.count} obs, ${p.window}`;
  return tile(`${title} (p50)`, ms(p.p50), sub);
}

function bar(fraction: number | null): HTMLElement {
  const width = `${Math.min(100, Math.max(0, (fraction ?? 0) * 100)).toFixed(1)}%`;
  const fill = el('span');
  fill.style.width = width;
  return el('div', { class: 'bar', 'aria-hidden': 'true' }, fill);
}

const SVG = 'http://www.w3.org/2000/svg';

function sparkline(values: number[]): SVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 100 30');
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('aria-hidden', 'true');
  if (values.length < 2) return svg;
  const max = Math.max(...values, 1e-9);
  const points = values.map(
    (v, i) => `${((i / (values.length - 1)) * 100).toFixed(2)},${(28 - (v / max) * 26).toFixed(2)}`,
  );
  const area = document.createElementNS(SVG, 'polygon');
  area.setAttribute('class', 'spark-fill');
  area.setAttribute('points', `0,30 ${points.join(' ')} 100,30`);
  const line = document.createElementNS(SVG, 'polyline');
  line.setAttribute('class', 'spark');
  line.setAttribute('points', points.join(' '));
  line.setAttribute('vector-effect', 'non-scaling-stroke');
  svg.append(area, line);
  return svg;
}

function backendCard(b: BackendSummary): HTMLElement {
  const health = b.healthy
    ? el('span', { class: 'badge ok' }, 'healthy')
    : el('span', { class: 'badge bad' }, 'unhealthy');
  const rows: [string, string][] = [
    ['Circuit', b.circuit],
    ['In flight (edge)', String(b.outstanding)],
    ['Running / waiting', `${count(b.running)} / ${count(b.waiting)}`],
    ['KV cache', percent(b.kvCacheUsage)],
    ['Prefix hits', percent(b.prefixHitRate)],
  ];
  if (b.scrapeError) rows.push(['Metrics', b.scrapeError]);
  if (b.lastError) rows.push(['Last error', b.lastError]);
  const list = el('dl', {}, ...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  return el(
    'li',
    { 'data-healthy': String(b.healthy) },
    el('p', { class: 'url' }, b.url),
    health,
    list,
  );
}

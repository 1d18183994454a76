/**
 * Reads Prometheus text exposition (format 0.0.4) into plain JSON: each sample name (a
 * histogram's `_bucket`, `_sum` and `_count` are separate names) maps to its labelled values.
 * Comments and malformed lines are skipped: a scrape is for display, never worth failing over.
 */
export interface Sample {
  labels: Record<string, string>;
  value: number;
}

export type MetricFamilies = Record<string, Sample[]>;

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([\s\S]*)\})?\s+(\S+)(?:\s+-?\d+)?\s*$/;
const LABEL_PAIR = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/y;

export function parsePrometheusText(text: string): MetricFamilies {
  const families: MetricFamilies = {};
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sample = parseLine(line);
    if (!sample) continue;
    const series = families[sample.name] ?? [];
    series.push({ labels: sample.labels, value: sample.value });
    families[sample.name] = series;
  }
  return families;
}

function parseLine(
  line: string,
): { name: string; labels: Record<string, string>; value: number } | null {
  const match = SAMPLE_LINE.exec(line.trim());
  if (!match) return null;
  const labels = parseLabels(match[2] ?? '');
  const value = parseValue(match[3]!);
  if (!labels || value === null) return null;
  return { name: match[1]!, labels, value };
}

function parseLabels(text: string): Record<string, string> | null {
  const labels: Record<string, string> = {};
  LABEL_PAIR.lastIndex = 0;
  while (LABEL_PAIR.lastIndex < text.length) {
    const start = LABEL_PAIR.lastIndex;
    const pair = LABEL_PAIR.exec(text);
    if (!pair) return text.slice(start).trim() === '' ? labels : null;
    labels[pair[1]!] = unescapeLabel(pair[2]!);
  }
  return labels;
}

const unescapeLabel = (value: string) =>
  value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));

function parseValue(text: string): number | null {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  const value = Number(text);
  return Number.isNaN(value) ? null : value;
}

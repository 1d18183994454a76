/** Splits model output so spans the edge masked (`[REDACTED:kind]`) can be marked visibly. */
import { el } from './dom.ts';

export type Segment =
  | { type: 'text'; text: string }
  | { type: 'redacted'; kind: string; text: string };

const MASKED = /\[REDACTED:([A-Za-z0-9_.-]+)\]/g;

export function segments(text: string): Segment[] {
  const out: Segment[] = [];
  let last = 0;
  for (const match of text.matchAll(MASKED)) {
    if (match.index > last) out.push({ type: 'text', text: text.slice(last, match.index) });
    out.push({ type: 'redacted', kind: match[1]!, text: match[0] });
    last = match.index + match[0].length;
  }
  if (last < text.length) out.push({ type: 'text', text: text.slice(last) });
  return out;
}

export function renderSegments(target: HTMLElement, text: string): void {
  target.replaceChildren(
    ...segments(text).map((s) =>
      s.type === 'text'
        ? s.text
        : el('mark', { class: 'redacted', title: `Masked by the edge (${s.kind})` }, s.text),
    ),
  );
}

/**
 * WCAG 2 contrast of visible text on the page as rendered: each element that directly holds text,
 * its computed colour against the first opaque background behind it. Returns what falls below
 * 4.5:1 (as "selector-ish: ratio").
 */
import type { Page } from 'playwright-core';

export function contrastFailures(page: Page, minimum = 4.5): Promise<string[]> {
  return page.evaluate((min) => {
    const parse = (css: string) => {
      const m = css.match(/rgba?\(([^)]+)\)/);
      const [r, g, b, a] = (m ? m[1]! : '0,0,0,0').split(/[ ,/]+/).map(Number);
      return { r: r!, g: g!, b: b!, a: a ?? 1 };
    };
    const luminance = ({ r, g, b }: { r: number; g: number; b: number }) => {
      const lin = (c: number) => {
        const s = c / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
    };
    const background = (node: Element | null) => {
      for (let n = node; n; n = n.parentElement) {
        const bg = parse(getComputedStyle(n).backgroundColor);
        if (bg.a >= 1) return bg;
      }
      return { r: 255, g: 255, b: 255, a: 1 };
    };
    const failures: string[] = [];
    for (const node of document.querySelectorAll('body *')) {
      const hasText = [...node.childNodes].some((c) => c.nodeType === 3 && c.textContent!.trim());
      const box = (node as HTMLElement).getBoundingClientRect();
      if (!hasText || box.width === 0 || node.closest('[hidden], .visually-hidden')) continue;
      const fg = parse(getComputedStyle(node).color);
      const [l1, l2] = [luminance(fg), luminance(background(node))].sort((a, b) => b - a);
      const ratio = (l1! + 0.05) / (l2! + 0.05);
      if (ratio < min)
        failures.push(`${node.tagName.toLowerCase()}.${node.className}: ${ratio.toFixed(2)}`);
    }
    return failures;
  }, minimum);
}

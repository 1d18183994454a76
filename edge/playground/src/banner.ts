/** The one error banner (role=alert): shows the latest failure until dismissed or cleared. */
import { byId } from './dom.ts';

const sources = new Map<string, string>();

/** Each part of the page reports under its own name, so one recovering clears only its own. */
export function showError(source: string, message: string): void {
  sources.set(source, message);
  render();
}

export function clearError(source: string): void {
  if (sources.delete(source)) render();
}

export function initBanner(): void {
  byId('banner-close').addEventListener('click', () => {
    sources.clear();
    render();
  });
}

function render(): void {
  const banner = byId('banner');
  const messages = [...sources.values()];
  byId('banner-text').textContent = messages.join(' · ');
  banner.hidden = messages.length === 0;
}

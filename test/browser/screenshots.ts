/**
 * Writes docs/img/playground.png, docs/img/dashboard.png and their phone-width versions from the
 * real stack: the demo model on the CPU runner behind the edge, with some load running while the
 * dashboard is captured. Run: `npx tsx test/browser/screenshots.ts`.
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { launchChromium, type Stack, startStack } from './stack.ts';

const root = join(import.meta.dirname, '..', '..');
const out = (name: string) => join(root, 'docs', 'img', name);

async function chat(page: Page, text: string): Promise<void> {
  await page.fill('#prompt', text);
  await page.press('#prompt', 'Enter');
  await page.waitForFunction(() => !document.querySelector('.streaming'));
}

/** Keeps `concurrency` requests in flight until `stop` resolves. */
async function load(stack: Stack, concurrency: number, stop: Promise<void>): Promise<void> {
  let done = false;
  void stop.then(() => {
    done = true;
  });
  const prompts = ['And God said', 'In the beginning', 'The LORD is my shepherd', 'Blessed are'];
  const worker = async (i: number) => {
    for (let n = 0; !done; n++) {
      const content = `${prompts[(i + n) % prompts.length]} (${i}.${n})`;
      await fetch(`${stack.edge.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: stack.model,
          messages: [{ role: 'user', content }],
          max_tokens: 48,
          stream: true,
        }),
      }).then((r) => r.text());
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)));
}

const stack = await startStack({ modelDir: join(root, 'models', 'demo'), device: 'cpu' });
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
  await page.goto(`${stack.edge.url}/`);
  await page.fill('#token', stack.token);
  await page.press('#token', 'Enter');
  await page.waitForSelector('#model option[value]:not([value=""])', { state: 'attached' });
  await page.fill('#system', 'Speak as the King James Bible does.');
  await page.fill('#temperature', '0.8');
  await page.fill('#seed', '42');
  await page.fill('#max-tokens', '80');
  // Once to fill the edge's cache, then again from a fresh conversation: a cache HIT.
  await chat(page, 'And the LORD spake unto Moses, saying,');
  await page.click('#clear');
  await chat(page, 'And the LORD spake unto Moses, saying,');
  await chat(page, 'And Moses said unto the people,');
  await page.fill('#prompt', 'Blessed are the');
  await page.screenshot({ path: out('playground.png') });

  let stopLoad!: () => void;
  const running = load(stack, 6, new Promise((resolve) => (stopLoad = resolve)));
  await page.click('nav a[data-view="dashboard"]');
  await page.waitForTimeout(9000);
  await page.screenshot({ path: out('dashboard.png'), fullPage: true });
  await page.setViewportSize({ width: 375, height: 812 });
  await page.waitForTimeout(1500);
  await page.screenshot({ path: out('dashboard-phone.png') });
  stopLoad();
  await running;
  // A fresh tab at phone width, as a phone would open it (settings start folded away).
  const phone = await browser.newPage({ viewport: { width: 375, height: 812 } });
  await phone.goto(`${stack.edge.url}/`);
  await phone.fill('#token', stack.token);
  await phone.press('#token', 'Enter');
  await phone.waitForSelector('#model option[value]:not([value=""])', { state: 'attached' });
  await chat(phone, 'Blessed are the meek:');
  await phone.evaluate(() => window.scrollTo(0, 0));
  await phone.screenshot({ path: out('playground-phone.png'), fullPage: true });
} finally {
  await browser.close();
  await stack.close();
}

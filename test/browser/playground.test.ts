/**
 * The playground and dashboard in a real browser (Debian's chromium via playwright-core) against
 * a real backend (reference runner, tiny fixture model) behind a real Node edge.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeEdge } from '../../edge/node.ts';
import { startEdge, testConfig } from '../edge-helpers.ts';
import { fixtureModelCache } from '../fixtures/models.ts';
import { type StubUpstream, startStubUpstream } from '../stub-upstream.ts';
import { contrastFailures } from './contrast.ts';
import { hasChromium, launchChromium, type Stack, startStack } from './stack.ts';

if (!hasChromium)
  console.warn('skipping browser tests: /usr/bin/chromium is absent (apt-get install chromium)');

describe.skipIf(!hasChromium)('playground and dashboard in chromium', () => {
  let stack: Stack;
  let browser: Browser;
  let page: Page;
  let stub: StubUpstream;
  let maskingEdge: NodeEdge;

  beforeAll(async () => {
    [stack, browser, stub] = await Promise.all([
      startStack({ modelDir: fixtureModelCache('llama', 1), device: 'reference' }),
      launchChromium(),
      startStubUpstream({ reply: 'Write to ann@example.com or call me.', chunkChars: 3 }),
    ]);
    maskingEdge = await startEdge(testConfig([stub.url]));
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  });
  afterAll(async () => {
    await browser?.close();
    await maskingEdge?.close();
    await stub?.close();
    await stack?.close();
  });

  async function openWithToken(target: Page, url: string): Promise<void> {
    await target.goto(url);
    await target.fill('#token', `Bearer ${stack.token}`);
    await target.press('#token', 'Enter');
    await target.waitForSelector('#model option[value]:not([value=""])', { state: 'attached' });
  }

  async function sendPrompt(target: Page, text: string): Promise<void> {
    await target.focus('#prompt');
    await target.keyboard.type(text);
    await target.keyboard.press('Enter');
    await target.waitForFunction(() => {
      const log = document.querySelector('#messages');
      return log?.getAttribute('aria-busy') === 'false' && !document.querySelector('.streaming');
    });
  }

  const lastReply = (target: Page) => target.locator('.msg.assistant').last();

  it('streams a reply with TTFT, tokens/s and the cache badge; a seeded repeat is a HIT', async () => {
    await openWithToken(page, `${stack.edge.url}/`);
    expect(await page.inputValue('#model')).toBe(stack.model);
    await page.fill('#seed', '7');
    await page.fill('#max-tokens', '12');
    await sendPrompt(page, 'Hello there');
    const reply = lastReply(page);
    const text = await reply.locator('.text').textContent();
    const meta = await reply.locator('.meta').textContent();
    expect(meta).toMatch(/cache MISS/);
    expect(meta).toMatch(/TTFT \d+ ms/);
    expect(meta).toMatch(/[\d.]+ tok\/s/);
    expect(meta).toMatch(/12 tokens/);
    // The same request straight to the backend writes the same text.
    const direct = await fetch(`${stack.backend.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: stack.model,
        messages: [{ role: 'user', content: 'Hello there' }],
        temperature: 0.7,
        top_p: 1,
        max_tokens: 12,
        seed: 7,
      }),
    });
    expect(text).toBe((await direct.json()).choices[0].message.content);
    await page.click('#clear');
    await sendPrompt(page, 'Hello there');
    expect(await lastReply(page).locator('.meta').textContent()).toMatch(/cache HIT/);
    expect(await lastReply(page).locator('.text').textContent()).toBe(text);
  });

  it('marks the spans the edge masked', async () => {
    const other = await browser.newPage();
    await openWithToken(other, `${maskingEdge.url}/`);
    await sendPrompt(other, 'How do I reach you?');
    const mark = lastReply(other).locator('mark.redacted');
    expect(await mark.textContent()).toBe('[REDACTED:email]');
    expect(await lastReply(other).locator('.text').textContent()).toBe(
      'Write to [REDACTED:email] or call me.',
    );
    await other.close();
  });

  it('updates the dashboard live as requests are served', async () => {
    await page.click('nav a[data-view="dashboard"]');
    expect(await page.getAttribute('nav a[data-view="dashboard"]', 'aria-current')).toBe('page');
    await page.waitForSelector('.backends li[data-healthy="true"]');
    const tokensTile = page.locator('.tile', { hasText: 'Tokens / s' }).locator('.value');
    const requestsTile = page.locator('.tile', { hasText: 'Requests / s' }).locator('.value');
    const body = {
      model: stack.model,
      messages: [{ role: 'user', content: 'Go on' }],
      max_tokens: 16,
    };
    const headers = { authorization: `Bearer ${stack.token}`, 'content-type': 'application/json' };
    const post = () =>
      fetch(`${stack.edge.url}/v1/chat/completions`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
      }).then((r) => r.text());
    await Promise.all([post(), post(), post()]);
    await expect
      .poll(async () => Number(await tokensTile.textContent()), { timeout: 8000 })
      .toBeGreaterThan(0);
    await expect
      .poll(async () => Number(await requestsTile.textContent()), { timeout: 8000 })
      .toBeGreaterThan(0);
    const ttft = await page.locator('.tile', { hasText: 'Time to first token' }).textContent();
    expect(ttft).toMatch(/\d+(\.\d)? ms/);
    expect(await page.textContent('#dash-status')).toMatch(/serving/);
  });

  it('has labelled controls, 4.5:1 text contrast, and fits a 375 px screen', async () => {
    const unlabelled = await page.$$eval('input, select, textarea', (nodes) =>
      nodes.filter((n) => (n as HTMLInputElement).labels?.length === 0).map((n) => n.id),
    );
    expect(unlabelled).toEqual([]);
    expect(await contrastFailures(page)).toEqual([]);
    await page.click('nav a[data-view="playground"]');
    expect(await page.getAttribute('#messages', 'aria-live')).toBe('polite');
    // Keyboard: from the message box, Tab reaches Send, and focus is drawn.
    await page.focus('#prompt');
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const active = document.activeElement as HTMLElement;
      return { id: active.id, outline: getComputedStyle(active).outlineStyle };
    });
    expect(focused).toEqual({ id: 'send', outline: 'solid' });
    await page.setViewportSize({ width: 375, height: 740 });
    for (const view of ['dashboard', 'playground']) {
      await page.click(`nav a[data-view="${view}"]`);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
        375,
      );
    }
    expect(await contrastFailures(page)).toEqual([]);
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('shows the OpenAI error in a banner and the backend as unhealthy when it is down', async () => {
    await stack.backend.close();
    await page.click('nav a[data-view="dashboard"]');
    await page.waitForSelector('.backends li[data-healthy="false"]', { timeout: 8000 });
    expect(await page.textContent('#dash-status')).toMatch(/unavailable/);
    await page.click('nav a[data-view="playground"]');
    await sendPrompt(page, 'Anyone there?');
    const banner = page.locator('#banner');
    await banner.waitFor({ state: 'visible' });
    expect(await banner.getAttribute('role')).toBe('alert');
    const res = await fetch(`${stack.edge.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: stack.model, messages: [{ role: 'user', content: 'x' }] }),
    });
    const { error } = await res.json();
    expect(await banner.textContent()).toContain(`${res.status}: ${error.message}`);
    // The failed turn is taken back for a retry.
    expect(await page.inputValue('#prompt')).toBe('Anyone there?');
  });
});

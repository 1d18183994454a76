/**
 * The edge process's response cache and output masking under attack. Cache: one caller's cached
 * answer is never served to another, transport headers do not vary (or poison) the key, and
 * failed, truncated or aborted answers are never stored. Masking: PII disguised with full-width
 * digits, zero-width characters, combining marks, full-width symbols, other scripts' digits,
 * Unicode dashes, ideographic full stops or Cyrillic look-alikes, streamed in 3-character chunks
 * from a stub upstream, still comes out redacted.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../../edge/dev-token.ts';
import { readStream, waitFor } from '../edge-helpers.ts';
import { killAll, type Proc, spawnEdge } from '../reliability/processes.ts';
import { type StubUpstream, startStubUpstream } from '../stub-upstream.ts';

const SECRET = 'cache-masking-secret-0123456789abcdef';
let stub: StubUpstream;
let edge: Proc;
let answers = 0;
const tokens: Record<string, string> = {};

/** PII in disguise, by what the stub is asked for. */
const DISGUISED: Record<string, { text: string; kind: string; leaks: RegExp }> = {
  'card-fullwidth': {
    text: 'Card: ４１１１ １１１１ １１１１ １１１１ ok',
    kind: 'card',
    leaks: /4111.?1111/,
  },
  'card-zwj': {
    text: 'Card: 4111\u200d1111\u200d1111\u200d1111 ok',
    kind: 'card',
    leaks: /4111.?1111/,
  },
  'card-combining': {
    text: 'Card: 4\u0301111 1111 1111 1111 ok',
    kind: 'card',
    leaks: /1111.?1111/,
  },
  'email-zwsp': {
    text: 'Mail bob\u200b.smith@exa\u200dmple.org now',
    kind: 'email',
    leaks: /smith|example/,
  },
  'email-fullwidth-at': {
    text: 'Mail ｂｏｂ＠ｅｘａｍｐｌｅ．ｏｒｇ now',
    kind: 'email',
    leaks: /bob|example/,
  },
  'email-soft-hyphen': {
    text: 'Mail alice\u00ad@example\u00ad.org now',
    kind: 'email',
    leaks: /alice|example/,
  },
  'phone-fullwidth': {
    text: 'Call +４４ ２０ ７９４６ ０９５８ today',
    kind: 'phone',
    leaks: /7946|0958/,
  },
  'ip-fullwidth': {
    text: 'Host １９２．１６８．１．２３ up',
    kind: 'ip',
    leaks: /192.?168/,
  },
  'card-arabic-indic': {
    text: 'Card: ٤١١١ ١١١١ ١١١١ ١١١١ ok',
    kind: 'card',
    leaks: /[4٤]111.?1111|١١١١/,
  },
  'card-devanagari': {
    text: 'Card: ४१११ ११११ ११११ ११११ ok',
    kind: 'card',
    leaks: /[4४]111.?1111|११११/,
  },
  'card-unicode-dashes': {
    text: 'Card: 4111\u20111111\u20131111\u22121111 ok',
    kind: 'card',
    leaks: /4111.?1111/,
  },
  'phone-arabic-indic': {
    text: 'Call +٤٤ ٢٠ ٧٩٤٦ ٠٩٥٨ today',
    kind: 'phone',
    leaks: /٧٩٤٦|٠٩٥٨/,
  },
  'ip-ideographic-stops': {
    text: 'Host 192\u3002168\u30021\u300223 up',
    kind: 'ip',
    leaks: /192.?168/,
  },
  'ip-devanagari': {
    text: 'Host १९२.१६८.१.२३ up',
    kind: 'ip',
    leaks: /१९२|१६८/,
  },
  'email-ideographic-stop': {
    text: 'Mail bob@example\u3002org now',
    kind: 'email',
    leaks: /bob|example/,
  },
  'email-cyrillic-domain': {
    text: 'Mail bob@ex\u0430mple.org now',
    kind: 'email',
    leaks: /bob|ex.mple/,
  },
  'secret-cyrillic-prefix': {
    text: 'Key \u0455k-proj-abcdefghijklmnopqrstuvwxyz0123 ok',
    kind: 'secret',
    leaks: /abcdefghij/,
  },
};

/** What a reader sees: compatibility forms folded, invisible characters and marks dropped. */
const fold = (s: string) =>
  s
    .normalize('NFKD')
    .replace(/\p{Cf}|\p{M}|\u00ad/gu, '')
    .normalize('NFKC');

beforeAll(async () => {
  stub = await startStubUpstream({
    chunkChars: 3,
    reply: (body) => {
      const content = String((body.messages as { content: string }[])[0]!.content);
      return DISGUISED[content]?.text ?? `answer #${++answers} to ${content}`;
    },
  });
  for (const sub of ['alice', 'bob'])
    tokens[sub] = await mintDevToken(SECRET, { sub, ttlSeconds: 600 });
  // Quick health checks, so the backend is back soon after the failure tests mark it down.
  const config = join(mkdtempSync(join(tmpdir(), 'edge-cache-')), 'edge.json');
  writeFileSync(config, JSON.stringify({ routing: { healthCheckIntervalMs: 100 } }));
  edge = await spawnEdge(['--config', config], { JWT_SECRET: SECRET, BACKEND_URLS: stub.url });
});

afterAll(async () => {
  await edge?.stop();
  killAll();
  await stub?.close();
});

async function chat(
  sub: string,
  content: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${edge.url}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${tokens[sub]}`,
      'content-type': 'application/json',
      ...headers,
    },
    body: JSON.stringify({
      model: 'stub-model',
      messages: [{ role: 'user', content }],
      temperature: 0,
      ...extra,
    }),
  });
  const cache = res.headers.get('x-cache');
  if (extra.stream) return { status: res.status, cache, text: (await readStream(res)).text };
  const json = (await res.json()) as { choices?: { message: { content: string } }[] };
  return { status: res.status, cache, text: json.choices?.[0]?.message.content ?? '' };
}

describe('cache poisoning and leakage (edge process)', () => {
  it("never serves one sub's cached answer to another", async () => {
    for (const stream of [false, true]) {
      const q = `private question ${stream}`;
      const a1 = await chat('alice', q, { stream });
      const b1 = await chat('bob', q, { stream });
      const a2 = await chat('alice', q, { stream });
      expect([a1.cache, b1.cache, a2.cache]).toEqual(['MISS', 'MISS', 'HIT']);
      expect(b1.text).not.toBe(a1.text);
      expect(a2.text).toBe(a1.text);
    }
  });

  it('keys on the request, not on transport headers or JSON key order', async () => {
    const first = await chat('alice', 'header test');
    const poisoners = {
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-host': 'evil.test',
      'x-original-url': '/admin',
      'user-agent': 'attacker/1.0',
      'accept-language': 'xx',
      cookie: 'session=1',
      'x-request-id': 'poison-1',
    };
    const again = await chat('alice', 'header test', {}, poisoners);
    expect(again.cache).toBe('HIT');
    expect(again.text).toBe(first.text);
    const reordered = await fetch(`${edge.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.alice}`, 'content-type': 'application/json' },
      body: `{"temperature":0,"messages":[{"content":"header test","role":"user"}],"model":"stub-model"}`,
    });
    expect(reordered.headers.get('x-cache')).toBe('HIT');
    expect((await reordered.json()).choices[0].message.content).toBe(first.text);
  });

  it('varies the key on every field that changes the answer', async () => {
    const base = await chat('alice', 'vary test');
    for (const extra of [{ max_tokens: 5 }, { seed: 1 }, { stop: ['x'] }, { top_p: 0.5 }]) {
      const r = await chat('alice', 'vary test', extra);
      expect(r.cache).toBe('MISS');
      expect(r.text).not.toBe(base.text);
    }
  });

  it('stores neither failed nor truncated answers', async () => {
    stub.options.failure = '500';
    expect((await chat('alice', 'fails first')).status).toBeGreaterThanOrEqual(500);
    stub.options.failure = 'mid-stream';
    const cut = await chat('alice', 'cut midway', { stream: true });
    stub.options.failure = 'none';
    await waitFor(async () => (await fetch(`${edge.url}/health`)).status === 200);
    const after500 = await chat('alice', 'fails first');
    expect([after500.status, after500.cache]).toEqual([200, 'MISS']);
    const afterCut = await chat('alice', 'cut midway', { stream: true });
    expect(afterCut.cache).toBe('MISS');
    expect(afterCut.text.length).toBeGreaterThan(cut.text.length);
  });

  it('stores no answer the client abandoned mid-stream', async () => {
    stub.options.chunkDelayMs = 20;
    try {
      const abort = new AbortController();
      const res = await fetch(`${edge.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens.alice}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'stub-model',
          messages: [{ role: 'user', content: 'abandoned' }],
          temperature: 0,
          stream: true,
        }),
        signal: abort.signal,
      });
      const reader = res.body!.getReader();
      await reader.read();
      abort.abort();
      await reader.read().catch(() => {});
      await new Promise((r) => setTimeout(r, 300));
      const again = await chat('alice', 'abandoned', { stream: true });
      expect(again.cache).toBe('MISS');
      expect(again.text).toMatch(/^answer #\d+ to abandoned$/);
    } finally {
      stub.options.chunkDelayMs = 0;
    }
  });

  it('bypasses on cache-control: no-cache and for sampled (non-deterministic) requests', async () => {
    await chat('alice', 'bypass test');
    expect((await chat('alice', 'bypass test', {}, { 'cache-control': 'no-cache' })).cache).toBe(
      'BYPASS',
    );
    expect((await chat('alice', 'bypass test', { temperature: 1 })).cache).toBe('BYPASS');
  });
});

describe('masking cannot be bypassed with Unicode tricks (edge process, streamed and plain)', () => {
  for (const [name, { kind, leaks }] of Object.entries(DISGUISED))
    it(`${name} → [REDACTED:${kind}]`, async () => {
      for (const stream of [true, false]) {
        const { status, text } = await chat('bob', name, { stream, temperature: 1 });
        expect(status).toBe(200);
        expect(text).toContain(`[REDACTED:${kind}]`);
        expect(fold(text)).not.toMatch(leaks);
      }
    });
});

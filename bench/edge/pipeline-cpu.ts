/**
 * The edge pipeline's own CPU per streamed request, in process: no sockets, no other processes,
 * so the number holds still on a busy machine where the end-to-end bench (run.ts) cannot. The
 * upstream is a prebuilt SSE answer (32 content chunks, usage, [DONE]) in the Node entry's
 * upstream body (ResponseBody), arriving in one read or one read per event, a loop turn apart;
 * the stream is piped to a sink as the Node entry does (SseBody.pipe), or with `--consume next`
 * read as an iterator (how the Node entry read it before stop 22, and how Workers still do).
 *
 * With --gap-ms N it measures latency instead: each request waits N ms after the one before (as
 * a request at 64 paced streams comes ~10 ms after the last), and what is reported is the time
 * from the request to its first text, p50 and p90. On this VM a path left alone for a few
 * milliseconds runs several times slower than back to back, whatever ran meanwhile
 * (docs/benchmarks.md, "Edge": "The request's path runs cold").
 *
 *   npx tsx bench/edge/pipeline-cpu.ts [--reads one|per-event] [--text prose|abcd] [--gap-ms 20]
 *                                      [--consume pipe|next]
 */
import { createHash } from 'node:crypto';
import type { Dispatcher } from 'undici';
import { createEdgeApp } from '../../edge/app.ts';
import { defaultConfig } from '../../edge/config.ts';
import type { EdgeRequest } from '../../edge/context.ts';
import { mintDevToken } from '../../edge/dev-token.ts';
import { fakeController } from '../../edge/fake-controller.ts';
import { RenderedReply, type SseBody } from '../../edge/reply.ts';
import { ResponseBody } from '../../edge/response-body.ts';
import { parseOptions } from '../../shared/config.ts';

const opts = parseOptions(
  {
    reads: { type: 'string', default: 'one', help: 'upstream reads: one, or per-event' },
    text: { type: 'string', default: 'prose', help: 'content chunks: prose or abcd' },
    consume: { type: 'string', default: 'pipe', help: 'how the stream is taken: pipe or next' },
    requests: { type: 'int', default: 300, min: 1, help: 'requests per trial' },
    trials: { type: 'int', default: 10, min: 1, help: 'trials; the fastest is reported' },
    'gap-ms': {
      type: 'number',
      default: 0,
      min: 0,
      help: 'idle ms before each request: report latency to the first text, not CPU',
    },
  },
  process.argv.slice(2),
);

const PROSE = ['The ', 'quic', 'k br', 'own ', 'fox ', 'jump', 's ov', 'er t'];
const base = { id: 'cmpl-x', object: 'chat.completion.chunk', created: 1, model: 'stub-model' };
const event = (choices: unknown[], extra = {}) =>
  `data: ${JSON.stringify({ ...base, choices, ...extra })}\n\n`;
const piece = (content: string, finish: string | null = null) => ({
  index: 0,
  delta: content === '' && !finish ? { role: 'assistant', content } : { content },
  logprobs: null,
  finish_reason: finish,
});
const events = [event([piece('')])];
for (let i = 0; i < 32; i++)
  events.push(event([piece(opts.text === 'abcd' ? 'abcd' : PROSE[i % 8]!)]));
events.push(event([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]));
events.push(event([], { usage: { prompt_tokens: 8, completion_tokens: 32, total_tokens: 40 } }));
events.push('data: [DONE]\n\n');
const reads = (opts.reads === 'one' ? [events.join('')] : events).map((e) => Buffer.from(e));

const config = defaultConfig();
config.auth.jwtSecret = crypto.randomUUID();
config.routing.urls = ['http://upstream.invalid'];
config.limits = { requestsPerMinute: 1e12, tokensPerMinute: 1e15 };
const app = createEdgeApp(config, {
  log: () => {},
  sha256Hex: (text) => createHash('sha256').update(text).digest('hex'),
  fetchUpstream: async () => {
    const body = new ResponseBody(fakeController() as unknown as Dispatcher.DispatchController);
    void feed(body);
    return {
      status: 200,
      headers: { get: (name) => (name === 'content-type' ? 'text/event-stream' : null) },
      body,
      text: () => body.text(),
      cancel: () => body.cancel(),
    };
  },
});

/** The upstream's reads, each in a loop turn of its own as from a socket. */
async function feed(body: ResponseBody): Promise<void> {
  for (const read of reads) {
    await new Promise((resolve) => setImmediate(resolve));
    body.push(read);
  }
  body.end();
}

/** Takes a stream to its end, as `--consume` says; resolves with the first text's time. */
function consume(sse: SseBody): Promise<number> {
  if (opts.consume === 'next')
    return (async () => {
      let text = await sse.next();
      const first = performance.now();
      while (text !== null) text = await sse.next();
      return first;
    })();
  return new Promise((resolve) => {
    let first = 0;
    sse.pipe({
      write: () => {
        first ||= performance.now();
        return true;
      },
      end: () => resolve(first),
    });
  });
}
const token = await mintDevToken(config.auth.jwtSecret, { sub: 'bench', ttlSeconds: 3600 });
const body = Buffer.from(
  JSON.stringify({
    model: 'stub-model',
    messages: [{ role: 'user', content: 'request 1: say something' }],
    stream: true,
    temperature: 1,
  }),
);

/** Serves one streamed request to its end; returns ms from the request to its first text. */
async function one(): Promise<number> {
  const request: EdgeRequest = {
    method: 'POST',
    url: 'http://edge.local/v1/chat/completions',
    headers: new Headers({ authorization: `Bearer ${token}`, 'content-type': 'application/json' }),
    signal: new AbortController().signal,
    body: null,
    bodyBytes: body,
  };
  const start = performance.now();
  const reply = await app.handle(request);
  const sse = reply instanceof RenderedReply && typeof reply.body !== 'string' ? reply.body : null;
  if (!sse) throw new Error('expected a stream');
  return (await consume(sse)) - start;
}

for (let i = 0; i < opts.requests; i++) await one(); // warm-up
const gapMs = opts['gap-ms'];
if (gapMs > 0) {
  // V8 goes on optimizing the pipeline's functions over its first few thousand requests; the
  // CPU mode's trials run that many before the fastest one, this mode measures from here.
  for (let i = 0; i < 3000; i++) await one();
  const latencies: number[] = [];
  for (let i = 0; i < opts.requests; i++) {
    await new Promise((resolve) => setTimeout(resolve, gapMs));
    latencies.push(await one());
  }
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Math.round(latencies[Math.floor(q * (latencies.length - 1))]! * 1000);
  console.log(
    `pipeline latency to the first text after ${gapMs} ms idle (${opts.reads} read(s), ${opts.text}, ${opts.consume}, ${opts.requests} requests): p50 ${at(0.5)} µs, p90 ${at(0.9)} µs`,
  );
} else {
  let bestMs = Number.POSITIVE_INFINITY;
  for (let trial = 0; trial < opts.trials; trial++) {
    const t0 = performance.now();
    for (let i = 0; i < opts.requests; i++) await one();
    bestMs = Math.min(bestMs, (performance.now() - t0) / opts.requests);
  }
  console.log(
    `pipeline CPU per streamed request (${opts.reads} read(s), ${opts.text}, ${opts.consume}, ${events.length} events): ${Math.round(bestMs * 1000)} µs (fastest of ${opts.trials} trials)`,
  );
}
app.close();

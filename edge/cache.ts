/**
 * Response cache. Exact match on a sha256 of the normalised request (route, model, messages or
 * prompt, sampling fields; never transport headers), scoped to the caller's `sub` unless
 * configured shared. By default only deterministic requests (temperature 0 or a seed) are
 * cached. Entries hold the masked reply (JSON, or the list of SSE items to replay), bounded by
 * bytes and TTL in memory, with an optional second level (the Cache API on Workers).
 */
import { LRUCache } from 'lru-cache';
import type { CacheConfig } from './config.ts';
import { type Sha256Hex, webCryptoSha256Hex } from './hash.ts';
import type { SseItem } from './reply.ts';

/** Stored as text (the JSON body, or each SSE item's data): replay needs no re-encoding. */
export type CachedBody = { type: 'json'; text: string } | { type: 'sse'; items: SseItem[] };

export interface CachedReply {
  headers: Record<string, string>;
  body: CachedBody;
  sizeBytes: number;
}

/** A slower, larger store behind the in-memory one. */
export interface SecondLevelCache {
  get(key: string): Promise<CachedReply | undefined>;
  put(key: string, entry: CachedReply, ttlSeconds: number): Promise<void>;
}

export type CacheDecision = { key: string } | { bypass: string };

/** Fields that change what the model returns; anything else does not belong in the key. */
const KEY_FIELDS = [
  'model',
  'messages',
  'prompt',
  'suffix',
  'echo',
  'stream',
  'stream_options',
  'max_tokens',
  'max_completion_tokens',
  'temperature',
  'top_p',
  'top_k',
  'min_p',
  'n',
  'best_of',
  'stop',
  'stop_token_ids',
  'seed',
  'presence_penalty',
  'frequency_penalty',
  'repetition_penalty',
  'logit_bias',
  'logprobs',
  'top_logprobs',
  'ignore_eos',
  'min_tokens',
  'response_format',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'skip_special_tokens',
  'include_stop_str_in_output',
];

/** JSON with object keys sorted, so equal requests serialise equally. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function isDeterministic(body: Record<string, unknown>): boolean {
  return body.temperature === 0 || Number.isInteger(body.seed);
}

export async function cacheKey(
  route: string,
  body: Record<string, unknown>,
  scope: string,
  sha256Hex: Sha256Hex = webCryptoSha256Hex,
): Promise<string> {
  const picked: Record<string, unknown> = {};
  for (const field of KEY_FIELDS) if (body[field] !== undefined) picked[field] = body[field];
  return sha256Hex(canonicalJson({ route, scope, request: picked }));
}

export class ResponseCache {
  private readonly memory: LRUCache<string, CachedReply>;

  constructor(
    readonly config: CacheConfig,
    private readonly secondLevel?: SecondLevelCache,
    private readonly sha256Hex: Sha256Hex = webCryptoSha256Hex,
  ) {
    this.memory = new LRUCache({
      maxSize: Math.max(1, config.maxBytes),
      sizeCalculation: (entry) => Math.max(1, entry.sizeBytes),
      ttl: config.ttlSeconds * 1000,
    });
  }

  /** The key for a request, or why it must not be cached. */
  async decide(
    route: string,
    body: Record<string, unknown>,
    headers: { get(name: string): string | null },
    sub: string,
  ): Promise<CacheDecision> {
    if (!this.config.enabled || this.config.maxBytes === 0) return { bypass: 'disabled' };
    if (/\bno-(cache|store)\b/i.test(headers.get('cache-control') ?? ''))
      return { bypass: 'cache-control' };
    if (this.config.onlyDeterministic && !isDeterministic(body))
      return { bypass: 'non-deterministic' };
    const scope = this.config.shared ? '*' : `sub:${sub}`;
    return { key: await cacheKey(route, body, scope, this.sha256Hex) };
  }

  async get(key: string): Promise<CachedReply | undefined> {
    const hit = this.memory.get(key);
    if (hit || !this.secondLevel) return hit;
    const remote = await this.secondLevel.get(key).catch(() => undefined);
    if (remote) this.memory.set(key, remote);
    return remote;
  }

  /** Stores in memory at once; returns the second level's write, if any, to be awaited later. */
  set(key: string, entry: CachedReply): Promise<void> | undefined {
    if (entry.sizeBytes > this.config.maxEntryBytes) return undefined;
    this.memory.set(key, entry);
    return this.secondLevel?.put(key, entry, this.config.ttlSeconds).catch(() => {});
  }
}

/** The Workers Cache API as a second level (per colo, TTL via cache-control). */
export function cacheApiStore(
  cache: Cache,
  origin = 'https://edge-cache.invalid',
): SecondLevelCache {
  const url = (key: string) => `${origin}/${key}`;
  return {
    async get(key) {
      const res = await cache.match(url(key));
      return res ? ((await res.json()) as CachedReply) : undefined;
    },
    async put(key, entry, ttlSeconds) {
      const res = new Response(JSON.stringify(entry), {
        headers: { 'content-type': 'application/json', 'cache-control': `max-age=${ttlSeconds}` },
      });
      await cache.put(url(key), res);
    },
  };
}

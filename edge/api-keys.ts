/**
 * Static API keys for machine clients. Config holds only each key's sha256 (hex); a presented key
 * is hashed (Web Crypto by default, so this runs on Workers too) and compared against every entry
 * in constant time, so neither timing nor early exit reveals how much of a hash matched.
 */
import type { ApiKeyEntry } from './config.ts';
import { type Sha256Hex, webCryptoSha256Hex } from './hash.ts';

/** Equal-length comparison whose time depends only on the length. */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export class ApiKeyStore {
  constructor(
    private readonly entries: readonly ApiKeyEntry[],
    private readonly sha256Hex: Sha256Hex = webCryptoSha256Hex,
  ) {}

  get size(): number {
    return this.entries.length;
  }

  /** The entry whose hash matches `key`, or null. Every entry is compared, match or not. */
  async lookup(key: string): Promise<ApiKeyEntry | null> {
    if (this.entries.length === 0) return null;
    const hash = await this.sha256Hex(key);
    let found: ApiKeyEntry | null = null;
    for (const entry of this.entries) if (constantTimeEqual(entry.sha256, hash)) found = entry;
    return found;
  }
}

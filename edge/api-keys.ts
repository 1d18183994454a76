/**
 * Static API keys for machine clients. Config holds only each key's sha256 (hex); a presented key
 * is hashed with Web Crypto (so this runs on Workers too) and compared against every entry in
 * constant time, so neither timing nor early exit reveals how much of a hash matched.
 */
import type { ApiKeyEntry } from './config.ts';

const encoder = new TextEncoder();

export async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text)));
  let hex = '';
  for (const byte of digest) hex += byte.toString(16).padStart(2, '0');
  return hex;
}

/** Equal-length comparison whose time depends only on the length. */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export class ApiKeyStore {
  constructor(private readonly entries: readonly ApiKeyEntry[]) {}

  get size(): number {
    return this.entries.length;
  }

  /** The entry whose hash matches `key`, or null. Every entry is compared, match or not. */
  async lookup(key: string): Promise<ApiKeyEntry | null> {
    if (this.entries.length === 0) return null;
    const hash = await sha256Hex(key);
    let found: ApiKeyEntry | null = null;
    for (const entry of this.entries) if (constantTimeEqual(entry.sha256, hash)) found = entry;
    return found;
  }
}

/**
 * The paged KV pool: fixed-size blocks, ref-counted, with automatic prefix caching.
 *
 * A full block whose KV is computed is published under hash(parent block's hash, its token ids),
 * so a later sequence with the same prefix shares it (ref count + 1) instead of recomputing it.
 * When its last user frees it, a published block keeps its KV and waits in an LRU list; it is
 * evicted (hash forgotten) only when a fresh block is needed and no empty block is left.
 *
 * Hash: SHA-256 of (parent hash, token ids as int32). The API is public and multi-tenant: with a
 * non-cryptographic 64-bit hash (FNV, xxHash) a caller could craft a prompt whose block collides
 * with another tenant's prefix and be served, or poison, that KV. SHA-256 costs about a
 * microsecond per 16-token block, noise next to the forward pass that computes that block.
 * A sequence with a cache salt (the request's `cache_salt`) chains its first block from the salt's
 * hash instead of '', so only sequences with the same salt ever share blocks: the edge salts each
 * caller's requests, so one caller cannot time another's prompts through cache hits.
 *
 * "Does not fit" is a value (allocate returns false and changes nothing); a broken contract
 * (freeing what the sequence does not own, double free) throws.
 */
import { createHash } from 'node:crypto';
import { BlockQueue } from './block-queue.ts';
import type { Sequence } from './sequence.ts';

export interface BlockManagerConfig {
  numBlocks: number;
  blockSize?: number;
  enablePrefixCaching?: boolean;
}

export const DEFAULT_BLOCK_SIZE = 16;

export function hashBlock(parentHash: string, tokenIds: ArrayLike<number>): string {
  return createHash('sha256')
    .update(parentHash)
    .update(new Uint8Array(Int32Array.from(tokenIds).buffer))
    .digest('base64');
}

/** The hash a salted sequence's first block chains from (unsalted ones chain from ''). */
export function saltRoot(salt: string | null): string {
  return salt === null
    ? ''
    : createHash('sha256').update('cache_salt\0').update(salt).digest('base64');
}

export class BlockManager {
  readonly numBlocks: number;
  readonly blockSize: number;
  readonly enablePrefixCaching: boolean;
  /** Prefix-cache lookups, in tokens (vLLM counts tokens, not blocks). */
  prefixCacheQueries = 0;
  prefixCacheHits = 0;
  private readonly refCounts: Int32Array;
  private readonly blockHashes: (string | null)[];
  /** Free blocks holding nothing reusable, taken first. */
  private readonly emptyFree: BlockQueue;
  /** Free blocks still holding published KV; iteration order is LRU (first = evicted first). */
  private readonly cachedFree: BlockQueue;
  private readonly cache = new Map<string, number>();
  /** seqId → how many of its leading blocks have been considered for publishing. */
  private readonly owners = new Map<number, number>();

  constructor(config: BlockManagerConfig) {
    const blockSize = config.blockSize ?? DEFAULT_BLOCK_SIZE;
    if (!Number.isInteger(config.numBlocks) || config.numBlocks < 1)
      throw new Error(`numBlocks must be a positive integer, got ${config.numBlocks}`);
    if (!Number.isInteger(blockSize) || blockSize < 1)
      throw new Error(`blockSize must be a positive integer, got ${blockSize}`);
    this.numBlocks = config.numBlocks;
    this.blockSize = blockSize;
    this.enablePrefixCaching = config.enablePrefixCaching ?? true;
    this.refCounts = new Int32Array(this.numBlocks);
    this.blockHashes = new Array(this.numBlocks).fill(null);
    this.emptyFree = new BlockQueue(this.numBlocks);
    this.cachedFree = new BlockQueue(this.numBlocks);
    for (let id = 0; id < this.numBlocks; id++) this.emptyFree.pushBack(id);
  }

  /** Blocks with no user (empty or evictable cached ones). */
  get numFreeBlocks(): number {
    return this.emptyFree.size + this.cachedFree.size;
  }

  /** Fraction of blocks in use by some sequence (vLLM's kv_cache_usage_perc, 0..1). */
  get usage(): number {
    return 1 - this.numFreeBlocks / this.numBlocks;
  }

  /** Published blocks, in use or evictable. */
  get numCachedBlocks(): number {
    return this.cache.size;
  }

  refCount(blockId: number): number {
    return this.refCounts[blockId]!;
  }

  isCached(blockId: number): boolean {
    return this.blockHashes[blockId] !== null;
  }

  owns(seq: Sequence): boolean {
    return this.owners.has(seq.seqId);
  }

  blocksFor(numTokens: number): number {
    return Math.ceil(numTokens / this.blockSize);
  }

  /**
   * The published blocks of the sequence's longest cached prefix. Leaves at least the last token
   * to compute, so the step that finishes the prefill has logits to sample from. Pure: no ref
   * counts change until `allocate` takes them.
   */
  findCachedPrefix(seq: Sequence): number[] {
    if (!this.enablePrefixCaching) return [];
    const maxBlocks = Math.floor((seq.numTokens - 1) / this.blockSize);
    this.extendHashes(seq, maxBlocks);
    const blocks: number[] = [];
    for (let i = 0; i < maxBlocks; i++) {
      const id = this.cache.get(seq.blockHashes[i]!);
      if (id === undefined) break;
      blocks.push(id);
    }
    return blocks;
  }

  /**
   * Grows the sequence's block table to cover `numTokens` positions. On the first allocation a
   * prefix from `findCachedPrefix` may be passed (null: no lookup was made, e.g. echo requests);
   * its blocks are shared and the lookup is counted in the prefix-cache stats. Returns false,
   * changing nothing, when the free blocks do not suffice.
   */
  allocate(seq: Sequence, numTokens: number, cachedPrefix: number[] | null = null): boolean {
    const first = !this.owners.has(seq.seqId);
    if (cachedPrefix !== null && !first)
      throw new Error(`seq ${seq.seqId}: a cached prefix can only be taken on first allocation`);
    if (first && seq.blockTable.length > 0)
      throw new Error(`seq ${seq.seqId} has a block table it was never allocated`);
    const prefix = cachedPrefix ?? [];
    for (const id of prefix)
      if (this.blockHashes[id] === null) throw new Error(`block ${id} is not a cached block`);
    const numNew = this.blocksFor(numTokens) - seq.blockTable.length - prefix.length;
    const numRevived = prefix.filter((id) => this.refCounts[id] === 0).length;
    if (numNew > this.numFreeBlocks - numRevived) return false;
    for (const id of prefix) this.share(id);
    seq.blockTable.push(...prefix);
    for (let i = 0; i < numNew; i++) seq.blockTable.push(this.takeFresh());
    if (first) this.owners.set(seq.seqId, prefix.length);
    if (cachedPrefix !== null) {
      this.prefixCacheQueries += seq.numTokens;
      this.prefixCacheHits += prefix.length * this.blockSize;
    }
    return true;
  }

  /**
   * Publishes the sequence's full blocks whose KV is computed (call after the step that computed
   * them), so other sequences can share them from the next step on.
   */
  cacheComputedBlocks(seq: Sequence): void {
    if (!this.enablePrefixCaching) return;
    const done = this.owners.get(seq.seqId);
    if (done === undefined) throw new Error(`seq ${seq.seqId} owns no blocks`);
    const numFull = Math.floor(seq.numComputedTokens / this.blockSize);
    if (numFull <= done) return;
    this.extendHashes(seq, numFull);
    for (let i = done; i < numFull; i++) this.publish(seq.blockTable[i]!, seq.blockHashes[i]!);
    this.owners.set(seq.seqId, numFull);
  }

  /**
   * Releases every block of the sequence. Blocks go to the free lists last block first, so under
   * pressure a sequence's tail (least likely to be shared) is evicted before its prefix.
   */
  free(seq: Sequence): void {
    if (!this.owners.has(seq.seqId))
      throw new Error(`seq ${seq.seqId} owns no blocks (double free?)`);
    for (const id of seq.blockTable)
      if (this.refCounts[id]! <= 0) throw new Error(`block ${id} is not in use (double free?)`);
    for (let i = seq.blockTable.length - 1; i >= 0; i--) this.release(seq.blockTable[i]!);
    seq.blockTable = [];
    this.owners.delete(seq.seqId);
  }

  /** Forgets every evictable cached block (e.g. after weights change). In-use blocks stay. */
  resetPrefixCache(): void {
    for (let id = this.cachedFree.popFront(); id !== undefined; id = this.cachedFree.popFront()) {
      this.forget(id);
      this.emptyFree.pushBack(id);
    }
  }

  private extendHashes(seq: Sequence, numBlocks: number): void {
    for (let i = seq.blockHashes.length; i < numBlocks; i++) {
      const parent = i === 0 ? saltRoot(seq.cacheSalt) : seq.blockHashes[i - 1]!;
      const tokens = seq.tokenRange(i * this.blockSize, (i + 1) * this.blockSize);
      seq.blockHashes.push(hashBlock(parent, tokens));
    }
  }

  private share(id: number): void {
    if (this.refCounts[id] === 0) this.cachedFree.remove(id);
    this.refCounts[id]!++;
  }

  private takeFresh(): number {
    let id = this.emptyFree.popFront();
    if (id === undefined) {
      id = this.cachedFree.popFront();
      if (id === undefined) throw new Error('no free block (allocate checks this first)');
      this.forget(id);
    }
    this.refCounts[id] = 1;
    return id;
  }

  /** A block already published, or one whose content another block already serves, stays as is. */
  private publish(id: number, hash: string): void {
    if (this.blockHashes[id] !== null || this.cache.has(hash)) return;
    this.blockHashes[id] = hash;
    this.cache.set(hash, id);
  }

  private forget(id: number): void {
    const hash = this.blockHashes[id];
    if (hash !== null && this.cache.get(hash!) === id) this.cache.delete(hash!);
    this.blockHashes[id] = null;
  }

  private release(id: number): void {
    this.refCounts[id]!--;
    if (this.refCounts[id] !== 0) return;
    if (this.blockHashes[id] !== null) this.cachedFree.pushBack(id);
    else this.emptyFree.pushBack(id);
  }
}

/**
 * The CPU model in one thread: an ONNX Runtime session over our decoder graph, the host KV pool,
 * and sampling next to the logits. The worker thread owns one of these; tests may use it directly.
 */
import * as ort from 'onnxruntime-node';
import type { ModelSpec } from '../../model/config.ts';
import type { WeightSet } from '../../model/loader.ts';
import type { PromptLogprob, RunnerOutput, SampledToken, SchedulerOutput } from '../runner.ts';
import { promptLogprobs, sampleToken } from '../sampling.ts';
import { type GroupFeeds, groupSequences, planGroup } from './batch-plan.ts';
import {
  buildDecoderGraph,
  type DecoderGraphOptions,
  pastKeyName,
  pastValueName,
  presentKeyName,
  presentValueName,
} from './decoder-graph.ts';
import { KvPool } from './kv-pool.ts';
import { type RopeTables, ropeTables } from './rope.ts';

export interface CpuModelOptions extends DecoderGraphOptions {
  spec: ModelSpec;
  weights: WeightSet;
  numBlocks: number;
  blockSize: number;
  /** ORT intra-op threads (default: all cores ORT sees). */
  numThreads?: number;
  /**
   * Let idle ORT threads spin for work (ORT's default). Off unless asked: on shared cores spinning
   * steals time from the very threads a parallel section waits for.
   */
  allowSpinning?: boolean;
  /** Extra ORT session options (profiling in benchmarks); they override ours. */
  sessionOptions?: ort.InferenceSession.SessionOptions;
}

export interface StepResult extends RunnerOutput {
  /** Last-position logits of each sampled sequence, in batch order. */
  logits: Float32Array[];
}

export class CpuModel {
  readonly pool: KvPool;
  readonly rope: RopeTables;
  private readonly poolFeeds: Record<string, ort.Tensor> = {};

  private constructor(
    readonly spec: ModelSpec,
    private readonly session: ort.InferenceSession,
    pool: KvPool,
  ) {
    this.pool = pool;
    this.rope = ropeTables(spec);
    const dims = [pool.numSlots, pool.rowSize];
    for (let layer = 0; layer < spec.numLayers; layer++) {
      // The pool arrays are passed zero-copy: the graph reads history straight from them.
      this.poolFeeds[pastKeyName(layer)] = new ort.Tensor('float32', pool.keys[layer], dims);
      this.poolFeeds[pastValueName(layer)] = new ort.Tensor('float32', pool.values[layer], dims);
    }
  }

  static async create(options: CpuModelOptions): Promise<CpuModel> {
    const { spec, weights, numBlocks, blockSize } = options;
    if (!Number.isInteger(numBlocks) || numBlocks < 1) throw new Error('numBlocks must be >= 1');
    if (!Number.isInteger(blockSize) || blockSize < 1) throw new Error('blockSize must be >= 1');
    const built = buildDecoderGraph(spec, weights, options);
    const session = await ort.InferenceSession.create(built.modelBytes, {
      externalData: built.externalData,
      intraOpNumThreads: options.numThreads ?? 0,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // Shapes change every step; memory patterns only help fixed shapes.
      enableMemPattern: false,
      extra: {
        session: { intra_op: { allow_spinning: options.allowSpinning ? '1' : '0' } },
      },
      ...options.sessionOptions,
    });
    return new CpuModel(spec, session, new KvPool(spec, numBlocks, blockSize));
  }

  async execute(batch: SchedulerOutput): Promise<StepResult> {
    const seqs = batch.sequences;
    const rows: Float32Array[][] = seqs.map(() => []);
    for (const group of groupSequences(seqs)) {
      const feeds = planGroup(
        seqs,
        group,
        this.pool.blockSize,
        this.rope,
        this.spec.slidingWindow ?? null,
      );
      const logits = await this.forward(feeds);
      const vocab = this.spec.vocabSize;
      feeds.logitRows.forEach((row, r) => {
        rows[row.seqIndex].push(logits.subarray(r * vocab, (r + 1) * vocab));
      });
    }
    const sampled: (SampledToken | null)[] = [];
    const prompt: (PromptLogprob[] | null)[] = [];
    const lastLogits: Float32Array[] = [];
    seqs.forEach((seq, i) => {
      const targets = seq.promptLogprobTargets;
      prompt.push(targets ? promptLogprobs(rows[i], targets, seq.sampling.logprobs ?? 0) : null);
      if (!seq.sample) {
        sampled.push(null);
        return;
      }
      const last = rows[i][rows[i].length - 1];
      lastLogits.push(last);
      sampled.push(sampleToken(last, seq));
    });
    return { sampled, promptLogprobs: prompt, logits: lastLogits };
  }

  /** Runs one planned group: scatters its new K/V into the pool, returns logits [N, vocab]. */
  async forward(f: GroupFeeds): Promise<Float32Array> {
    const { batchSize: B, queryLength: Q, keyLength: K } = f;
    const half = this.rope.invFreq.length;
    const feeds: Record<string, ort.Tensor> = {
      ...this.poolFeeds,
      input_ids: new ort.Tensor('int32', f.inputIds, [B, Q]),
      rope_position: new ort.Tensor('int64', f.ropePosition, [B, Q]),
      rope_cos: new ort.Tensor('float32', f.ropeCos, [B * Q, half]),
      rope_sin: new ort.Tensor('float32', f.ropeSin, [B * Q, half]),
      hist_index: new ort.Tensor('int32', f.histIndex, [B, K - Q]),
      attn_mask: new ort.Tensor('float32', f.attnMask, [B, 1, Q, K]),
      logit_index: new ort.Tensor('int32', f.logitIndex, [f.logitIndex.length]),
    };
    const out = await this.session.run(feeds);
    for (let layer = 0; layer < this.spec.numLayers; layer++) {
      const keys = out[presentKeyName(layer)].data as Float32Array;
      const values = out[presentValueName(layer)].data as Float32Array;
      this.pool.scatter(layer, f.slots, keys, values);
    }
    return out.logits.data as Float32Array;
  }

  /** Ends ORT profiling (sessions created with `sessionOptions.enableProfiling`). */
  endProfiling(): void {
    this.session.endProfiling();
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

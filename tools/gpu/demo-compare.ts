/**
 * Teacher-forced logits of the CUDA runner against Hugging Face transformers on a model with
 * trained weights (models/demo), where top-1 is rarely a bf16 coin flip as it is on the random
 * fixtures. Two subcommands, both run by check-demo.sh on the GPU host:
 *   prepare ROOT MODEL_DIR PROMPTS_JSON   one folder per prompt under ROOT: links to the model's
 *                                         files and tokens.json (<|eos|> + the tokenized text),
 *                                         which hf_logits.py turns into HF bf16 and fp32 logits
 *   compare OUT.json ROOT MODEL_DIR       runs the runner two ways and writes agreement stats:
 *     decode-batched   every prompt in one batch: 32-token prefill, then one token a step
 *     chunked-prefill  each prompt alone in uneven chunks (13, 1, 29, 7, 64, …)
 * Tolerance as hf-compare.ts: per prompt, 2 × HF bf16's max |logit − HF fp32| + 0.02; a position
 * is decisive when fp32's top-1 leads its runner-up by more than that.
 */
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadModelSpec } from '../../backend/model/config.ts';
import { ModelTokenizer } from '../../backend/model/tokenizer.ts';
import { BlockPool, ContractDriver, DriverSequence } from '../../backend/runner/contract-driver.ts';
import { createCudaRunner } from '../../backend/runner/cuda/cuda-runner.ts';
import type { Runner } from '../../backend/runner/runner.ts';

const blockSize = 16;
const numBlocks = 512;
const prefillTokens = 32;
const unevenChunks = [13, 1, 29, 7, 64];
const eosId = 2;

interface Row {
  path: string;
  prompt: number;
  position: number;
  logits: Float32Array;
}

async function prepare(root: string, modelDir: string, promptsJson: string) {
  const tokenizer = await ModelTokenizer.load(modelDir);
  const { prompts } = JSON.parse(readFileSync(promptsJson, 'utf8')) as {
    prompts: { name: string; text: string }[];
  };
  for (const { name, text } of prompts) {
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    for (const file of readdirSync(modelDir)) symlinkSync(resolve(modelDir, file), join(dir, file));
    const tokens = [eosId, ...tokenizer.encode(text, { addSpecialTokens: false })];
    writeFileSync(join(dir, 'tokens.json'), JSON.stringify(tokens));
    console.log(`${name}: ${tokens.length} tokens`);
  }
}

/** Teacher forcing: the token the runner sampled is replaced by the text's next `count` tokens. */
function feed(seq: DriverSequence, text: number[], count: number) {
  seq.output.pop();
  seq.output.push(...text.slice(seq.computed, seq.computed + count));
}

async function decodeBatched(runner: Runner, texts: number[][]): Promise<Row[]> {
  const driver = new ContractDriver(runner, new BlockPool(numBlocks), blockSize);
  const seqs = texts.map((t, i) => new DriverSequence(i + 1, t.slice(0, prefillTokens)));
  const rows: Row[] = [];
  let active = texts.map((_, i) => i);
  while (active.length > 0) {
    const { sampledLogits } = await driver.step(active.map((i) => ({ seq: seqs[i] })));
    for (const i of active) {
      const seq = seqs[i];
      const logits = sampledLogits.get(seq);
      if (!logits) throw new Error(`no logits for prompt ${i} at ${seq.computed - 1}`);
      rows.push({ path: 'decode-batched', prompt: i, position: seq.computed - 1, logits });
      feed(seq, texts[i], 1);
    }
    active = active.filter((i) => seqs[i].computed < texts[i].length);
  }
  for (const seq of seqs) driver.evict(seq);
  return rows;
}

async function chunkedPrefill(runner: Runner, text: number[], prompt: number): Promise<Row[]> {
  const driver = new ContractDriver(runner, new BlockPool(numBlocks, 'reverse'), blockSize);
  const seq = new DriverSequence(100 + prompt, text.slice(0, unevenChunks[0]));
  const rows: Row[] = [];
  for (let i = 1; ; i++) {
    const { sampledLogits } = await driver.step([{ seq }]);
    const logits = sampledLogits.get(seq);
    if (!logits) throw new Error(`no logits for prompt ${prompt} at ${seq.computed - 1}`);
    rows.push({ path: 'chunked-prefill', prompt, position: seq.computed - 1, logits });
    if (seq.computed >= text.length) break;
    feed(seq, text, unevenChunks[i % unevenChunks.length]);
  }
  driver.evict(seq);
  return rows;
}

function readF32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

/** Max and sum of |a − b|. */
function absDiff(a: Float32Array, b: Float32Array) {
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    sum += d;
    if (d > max) max = d;
  }
  return { max, sum };
}

interface Reference {
  name: string;
  bf16: Float32Array;
  fp32: Float32Array;
  vocab: number;
  tolerance: number;
}

function loadReference(root: string, name: string, length: number): Reference {
  const bf16 = readF32(join(root, name, 'hf_logits.f32'));
  const fp32 = readF32(join(root, name, 'hf_logits_fp32.f32'));
  const vocab = fp32.length / length;
  let worst = 0;
  for (let p = 0; p < length; p++) {
    const at = (a: Float32Array) => a.subarray(p * vocab, (p + 1) * vocab);
    worst = Math.max(worst, absDiff(at(bf16), at(fp32)).max);
  }
  return { name, bf16, fp32, vocab, tolerance: 2 * worst + 0.02 };
}

interface Judged {
  ours: number;
  bf16: number;
  fp32: number;
  margin: number;
  decisive: boolean;
  maxAbs: number;
  sumAbs: number;
  hfMaxAbs: number;
  hfSumAbs: number;
  vocab: number;
}

function judge(row: Row, ref: Reference): Judged {
  const at = (a: Float32Array) =>
    a.subarray(row.position * ref.vocab, (row.position + 1) * ref.vocab);
  const fp32 = at(ref.fp32);
  const bf16 = at(ref.bf16);
  const top = argmax(fp32);
  let second = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < fp32.length; i++) if (i !== top && fp32[i] > second) second = fp32[i];
  const ours = absDiff(row.logits, fp32);
  const hf = absDiff(bf16, fp32);
  return {
    ours: argmax(row.logits),
    bf16: argmax(bf16),
    fp32: top,
    margin: fp32[top] - second,
    decisive: fp32[top] - second > ref.tolerance,
    maxAbs: ours.max,
    sumAbs: ours.sum,
    hfMaxAbs: hf.max,
    hfSumAbs: hf.sum,
    vocab: ref.vocab,
  };
}

function summarize(judged: Judged[]) {
  const n = judged.length;
  const frac = (f: (j: Judged) => boolean, of = judged) =>
    of.length ? of.filter(f).length / of.length : null;
  const decisive = judged.filter((j) => j.decisive);
  const logits = judged.reduce((s, j) => s + j.vocab, 0);
  const misses = judged.filter((j) => j.ours !== j.fp32).map((j) => j.margin);
  return {
    positions: n,
    top1VsHfFp32: frac((j) => j.ours === j.fp32),
    top1VsHfBf16: frac((j) => j.ours === j.bf16),
    hfBf16Top1VsHfFp32: frac((j) => j.bf16 === j.fp32),
    maxAbsDiffVsHfFp32: Math.max(...judged.map((j) => j.maxAbs)),
    meanAbsDiffVsHfFp32: judged.reduce((s, j) => s + j.sumAbs, 0) / logits,
    hfBf16MaxAbsDiffVsHfFp32: Math.max(...judged.map((j) => j.hfMaxAbs)),
    hfBf16MeanAbsDiffVsHfFp32: judged.reduce((s, j) => s + j.hfSumAbs, 0) / logits,
    decisivePositions: decisive.length,
    decisiveTop1VsHfFp32: frac((j) => j.ours === j.fp32, decisive),
    decisiveHfBf16Top1VsHfFp32: frac((j) => j.bf16 === j.fp32, decisive),
    top1MissesVsHfFp32: misses.length,
    largestFp32MarginAtAMiss: misses.length ? Math.max(...misses) : null,
  };
}

async function compare(out: string, root: string, modelDir: string) {
  const names = readdirSync(root).sort();
  const texts = names.map((n) => JSON.parse(readFileSync(join(root, n, 'tokens.json'), 'utf8')));
  const refs = names.map((n, i) => loadReference(root, n, texts[i].length));
  const spec = await loadModelSpec(modelDir);
  const runner = await createCudaRunner({
    modelDir,
    spec,
    loadFormat: 'auto',
    blockSize,
    gpuMemoryUtilization: 0.5,
    maxNumSeqs: 8,
    maxNumBatchedTokens: 512,
    maxModelLen: 1024,
    seed: 0,
    numGpuBlocksOverride: numBlocks,
  });
  const rows = await decodeBatched(runner, texts);
  for (const [i, text] of texts.entries()) rows.push(...(await chunkedPrefill(runner, text, i)));
  await runner.close();
  const judged = rows.map((r) => ({ row: r, j: judge(r, refs[r.prompt]) }));
  const pick = (f: (r: Row) => boolean) => judged.filter(({ row }) => f(row)).map(({ j }) => j);
  const meta = JSON.parse(readFileSync(join(root, names[0], 'hf_meta.json'), 'utf8'));
  const report = {
    date: new Date().toISOString(),
    model: modelDir,
    reference: meta,
    cudaEnv: {
      decodeAttention: process.env.EDGESERVE_CUDA_DECODE_ATTENTION ?? 'default',
      graphs: process.env.EDGESERVE_CUDA_GRAPHS ?? 'default',
    },
    method:
      'teacher-forced; decode-batched: all prompts in one batch, 32-token prefill then one token a step; chunked-prefill: each prompt alone in chunks 13,1,29,7,64 repeating, logits at each chunk end; tolerance per prompt 2 x HF bf16 max |dlogit| vs HF fp32 + 0.02; decisive = fp32 top-1 leads runner-up by more than the tolerance',
    prompts: names.map((name, i) => ({
      name,
      tokens: texts[i].length,
      tolerance: refs[i].tolerance,
    })),
    all: summarize(judged.map(({ j }) => j)),
    decodeBatched: summarize(pick((r) => r.path === 'decode-batched')),
    chunkedPrefill: summarize(pick((r) => r.path === 'chunked-prefill')),
    perPrompt: names.map((name, i) => ({ name, ...summarize(pick((r) => r.prompt === i)) })),
  };
  writeFileSync(out, JSON.stringify(report, null, 2));
  console.log(JSON.stringify(report.all));
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'prepare') await prepare(args[0], args[1], args[2]);
else if (cmd === 'compare') await compare(args[0], args[1], args[2]);
else
  throw new Error(
    'usage: demo-compare prepare ROOT MODEL_DIR PROMPTS_JSON | compare OUT ROOT MODEL_DIR',
  );

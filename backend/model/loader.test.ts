import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixtureFamilies, fixtureModelCache } from '../../test/fixtures/models.ts';
import { loadModelSpec } from './config.ts';
import { f32ToBf16Bits, toFloat32 } from './dtype.ts';
import { dummyWeights, expectedTensorShapes, loadWeights, writeSafetensors } from './loader.ts';

const tempDir = () => mkdtempSync(join(tmpdir(), 'loader-'));

/** A hand-written safetensors file: header JSON + data, so tests can corrupt either. */
function rawFile(dir: string, header: unknown, dataBytes: number): void {
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(
    join(dir, 'model.safetensors'),
    Buffer.concat([prefix, json, Buffer.alloc(dataBytes)]),
  );
}

describe('fixture checkpoints', () => {
  for (const family of fixtureFamilies) {
    it(`${family}: every tensor reads back with the family's name, dtype and shape`, async () => {
      const dir = fixtureModelCache(family, 3);
      const spec = await loadModelSpec(dir);
      const weights = await loadWeights(dir, spec);
      const expected = expectedTensorShapes(spec);
      expect(weights.names().sort()).toEqual([...expected.keys()].sort());
      for (const [name, shape] of expected) {
        const tensor = weights.get(name);
        expect(tensor.dtype).toBe('F32');
        expect(tensor.shape).toEqual(shape);
        expect(tensor.data.byteLength).toBe(shape.reduce((a, b) => a * b, 4));
      }
      const dummy = dummyWeights(spec, 3);
      expect(weights.float32('model.layers.1.mlp.down_proj.weight')).toEqual(
        dummy.float32('model.layers.1.mlp.down_proj.weight'),
      );
    });
  }

  it('loads sharded BF16 checkpoints with the same values as the generator', async () => {
    const dir = fixtureModelCache('qwen3', 3, { dtype: 'BF16', sharded: true });
    const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
    expect(new Set(Object.values(index.weight_map)).size).toBe(2);
    const spec = await loadModelSpec(dir);
    expect(spec.dtype).toBe('bfloat16');
    const weights = await loadWeights(dir, spec);
    const name = 'model.layers.0.self_attn.q_norm.weight';
    expect(weights.get(name).dtype).toBe('BF16');
    expect(weights.float32(name)).toEqual(dummyWeights(spec, 3, 'BF16').float32(name));
  });

  it('reports a checkpoint that does not match the family', async () => {
    const spec = await loadModelSpec(fixtureModelCache('llama', 3));
    const qwen2Dir = fixtureModelCache('qwen2', 3);
    await expect(loadWeights(qwen2Dir, spec)).rejects.toThrow(
      /unexpected tensor model\.layers\.0\.self_attn\.q_proj\.bias/,
    );
    const dir = tempDir();
    const w = dummyWeights(spec, 1);
    const tensors = w
      .names()
      .filter((n) => n !== 'model.norm.weight')
      .map((n) => w.get(n));
    tensors[0] = { ...tensors[0], shape: [tensors[0].shape[1], tensors[0].shape[0]] };
    writeSafetensors(join(dir, 'model.safetensors'), tensors);
    const load = loadWeights(dir, spec);
    await expect(load).rejects.toThrow(/missing model\.norm\.weight/);
    await expect(load).rejects.toThrow(/model\.embed_tokens\.weight has shape \[64,\d+\]/);
  });
});

describe('safetensors validation', () => {
  it('rejects unknown dtypes, out-of-range offsets and size mismatches, naming the tensor', async () => {
    const cases: [unknown, number, RegExp][] = [
      [{ a: { dtype: 'F64', shape: [2], data_offsets: [0, 16] } }, 16, /tensor a: dtype "F64"/],
      [
        { b: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } },
        8,
        /tensor b: data_offsets \[0, 16\] fall outside/,
      ],
      [
        { c: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } },
        16,
        /tensor c: shape \[3\] × F32 needs 12 bytes/,
      ],
      [{ d: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4, /tensor d: shape/],
      [
        {
          e: { dtype: 'U8', shape: [4], data_offsets: [0, 4] },
          f: { dtype: 'U8', shape: [4], data_offsets: [2, 6] },
        },
        8,
        /tensors e and f overlap/,
      ],
    ];
    for (const [header, bytes, message] of cases) {
      const dir = tempDir();
      rawFile(dir, header, bytes);
      await expect(loadWeights(dir)).rejects.toThrow(message);
    }
  });

  it('rejects a header length beyond the file and a missing checkpoint', async () => {
    const dir = tempDir();
    const bytes = Buffer.alloc(16);
    bytes.writeBigUInt64LE(1000n);
    writeFileSync(join(dir, 'model.safetensors'), bytes);
    await expect(loadWeights(dir)).rejects.toThrow(/header length 1000 does not fit/);
    await expect(loadWeights(tempDir())).rejects.toThrow(/neither model\.safetensors nor/);
  });

  it('names a tensor that is asked for but absent', async () => {
    const weights = await loadWeights(fixtureModelCache('llama', 3));
    expect(() => weights.get('lm_head.bias')).toThrow(/lm_head\.bias/);
  });
});

describe('dtype conversion', () => {
  it('converts F16 and BF16 bit patterns exactly', () => {
    const f16 = new Uint16Array([0x3c00, 0xc000, 0x0001, 0x7bff, 0x7c00, 0x3555]);
    expect([...toFloat32(new Uint8Array(f16.buffer), 'F16')]).toEqual([
      1,
      -2,
      2 ** -24,
      65504,
      Infinity,
      Math.fround(0.333251953125),
    ]);
    const values = new Float32Array([1, -2.5, 3.140625, 1e-3]);
    const bf16 = Uint16Array.from(values, (v) => f32ToBf16Bits(v));
    const back = toFloat32(new Uint8Array(bf16.buffer), 'BF16');
    expect([...back.subarray(0, 3)]).toEqual([1, -2.5, 3.140625]);
    expect(Math.abs(back[3] - 1e-3) / 1e-3).toBeLessThan(2 ** -8);
  });

  it('dummy weights are deterministic per seed and keep norms near 1', async () => {
    const spec = await loadModelSpec(fixtureModelCache('mistral', 3));
    const a = dummyWeights(spec, 11).float32('model.layers.0.self_attn.o_proj.weight');
    expect(dummyWeights(spec, 11).float32('model.layers.0.self_attn.o_proj.weight')).toEqual(a);
    expect(dummyWeights(spec, 12).float32('model.layers.0.self_attn.o_proj.weight')).not.toEqual(a);
    for (const v of dummyWeights(spec, 11).float32('model.norm.weight'))
      expect(Math.abs(v - 1)).toBeLessThanOrEqual(0.1);
  });
});

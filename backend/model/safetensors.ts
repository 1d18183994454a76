/**
 * The safetensors file format: an 8-byte little-endian header length, a JSON header naming each
 * tensor's dtype, shape and byte range, then the raw bytes. We validate the header fully before
 * anything reads tensor bytes, so a corrupt file fails with its name and the offending tensor.
 */
import { closeSync, fstatSync, openSync, readSync, writeFileSync } from 'node:fs';

export type DType = 'F32' | 'F16' | 'BF16' | 'I8' | 'U8' | 'I32' | 'I64';

export const dtypeItemSize: Record<DType, number> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  I8: 1,
  U8: 1,
  I32: 4,
  I64: 8,
};

export interface TensorEntry {
  name: string;
  dtype: DType;
  shape: number[];
  /** Absolute byte offset of the tensor data in the file. */
  fileOffset: number;
  byteLength: number;
}

export interface SafetensorsHeader {
  path: string;
  entries: Map<string, TensorEntry>;
  metadata: Record<string, string>;
}

/** A header larger than this is not a plausible checkpoint (real ones are a few MB at most). */
const maxHeaderBytes = 100 * 1024 * 1024;

export const elementCount = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function readExactly(fd: number, length: number, position: number): Uint8Array {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, out, done, length - done, position + done);
    if (n === 0) throw new Error(`unexpected end of file at byte ${position + done}`);
    done += n;
  }
  return out;
}

function parseEntry(
  name: string,
  raw: unknown,
  dataStart: number,
  dataLength: number,
): TensorEntry {
  const bad = (why: string) => new Error(`tensor ${name}: ${why}`);
  if (!raw || typeof raw !== 'object') throw bad('header entry is not an object');
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtype in dtypeItemSize)) {
    throw bad(
      `dtype ${JSON.stringify(dtype)} is not supported (${Object.keys(dtypeItemSize).join(', ')})`,
    );
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw bad(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(Number.isInteger)) {
    throw bad(`data_offsets ${JSON.stringify(offsets)} is not [begin, end]`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin < 0 || end < begin || end > dataLength) {
    throw bad(`data_offsets [${begin}, ${end}] fall outside the ${dataLength}-byte data section`);
  }
  const expected = elementCount(shape) * dtypeItemSize[dtype as DType];
  if (end - begin !== expected) {
    throw bad(
      `shape ${JSON.stringify(shape)} × ${dtype} needs ${expected} bytes, data_offsets give ${end - begin}`,
    );
  }
  return {
    name,
    dtype: dtype as DType,
    shape,
    fileOffset: dataStart + begin,
    byteLength: end - begin,
  };
}

function checkNoOverlap(entries: TensorEntry[]): void {
  const sorted = [...entries].sort((a, b) => a.fileOffset - b.fileOffset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    if (sorted[i].fileOffset < prev.fileOffset + prev.byteLength) {
      throw new Error(`tensors ${prev.name} and ${sorted[i].name} overlap`);
    }
  }
}

function parseHeaderJson(bytes: Uint8Array): Record<string, unknown> {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new Error(`header is not valid JSON: ${(err as Error).message}`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) {
    throw new Error('header is not a JSON object');
  }
  return header as Record<string, unknown>;
}

/** Reads and validates the header of one safetensors file. */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new Error(`cannot open ${path}: ${(err as Error).message}`);
  }
  try {
    const fileSize = fstatSync(fd).size;
    if (fileSize < 8)
      throw new Error(`file is ${fileSize} bytes, shorter than the 8-byte header length`);
    const headerLength = Number(Buffer.from(readExactly(fd, 8, 0)).readBigUInt64LE(0));
    if (headerLength > maxHeaderBytes || 8 + headerLength > fileSize) {
      throw new Error(`header length ${headerLength} does not fit the ${fileSize}-byte file`);
    }
    const header = parseHeaderJson(readExactly(fd, headerLength, 8));
    const dataStart = 8 + headerLength;
    const entries = new Map<string, TensorEntry>();
    let metadata: Record<string, string> = {};
    for (const [name, raw] of Object.entries(header)) {
      if (name === '__metadata__') metadata = (raw ?? {}) as Record<string, string>;
      else entries.set(name, parseEntry(name, raw, dataStart, fileSize - dataStart));
    }
    checkNoOverlap([...entries.values()]);
    return { path, entries, metadata };
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  } finally {
    closeSync(fd);
  }
}

/** Reads one tensor's bytes into a fresh (8-byte aligned) buffer. */
export function readTensorBytes(path: string, entry: TensorEntry): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    return readExactly(fd, entry.byteLength, entry.fileOffset);
  } finally {
    closeSync(fd);
  }
}

export interface TensorToWrite {
  name: string;
  dtype: DType;
  shape: number[];
  data: Uint8Array;
}

/** Writes tensors (in the given order) as one safetensors file. */
export function writeSafetensors(
  path: string,
  tensors: TensorToWrite[],
  metadata: Record<string, string> = { format: 'pt' },
): void {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const expected = elementCount(t.shape) * dtypeItemSize[t.dtype];
    if (t.data.byteLength !== expected) {
      throw new Error(
        `tensor ${t.name}: ${t.data.byteLength} bytes given, shape × dtype needs ${expected}`,
      );
    }
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + expected] };
    offset += expected;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let at = 8 + headerBytes.length;
  for (const t of tensors) {
    out.set(t.data, at);
    at += t.data.byteLength;
  }
  writeFileSync(path, out);
}

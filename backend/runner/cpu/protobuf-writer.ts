/**
 * A minimal protobuf wire-format writer: just enough to serialise ONNX messages. Messages are built
 * bottom-up (a child is encoded to bytes before its parent embeds it), which keeps the writer
 * stateless apart from its chunk list.
 */

const WIRE_VARINT = 0;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

const textEncoder = new TextEncoder();

export class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];
  private scratch: number[] = [];
  private length = 0;

  /** int32/int64/enum/bool field (non-negative or sign-extended negative). */
  varint(field: number, value: number | bigint): this {
    this.key(field, WIRE_VARINT);
    this.rawVarint(value);
    return this;
  }

  float(field: number, value: number): this {
    this.key(field, WIRE_FIXED32);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    this.flushScratch();
    this.push(bytes);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, textEncoder.encode(value));
  }

  bytes(field: number, value: Uint8Array): this {
    this.key(field, WIRE_LENGTH_DELIMITED);
    this.rawVarint(value.byteLength);
    this.flushScratch();
    this.push(value);
    return this;
  }

  /** An embedded message, already encoded. */
  message(field: number, encoded: Uint8Array): this {
    return this.bytes(field, encoded);
  }

  finish(): Uint8Array {
    this.flushScratch();
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return out;
  }

  private key(field: number, wireType: number): void {
    this.rawVarint((field << 3) | wireType);
  }

  private rawVarint(input: number | bigint): void {
    // Negative int64 values are encoded as their 64-bit two's complement (ten bytes).
    let value = BigInt.asUintN(64, BigInt(input));
    if (value < 0x80n) {
      this.scratch.push(Number(value));
      return;
    }
    while (value >= 0x80n) {
      this.scratch.push(Number(value & 0x7fn) | 0x80);
      value >>= 7n;
    }
    this.scratch.push(Number(value));
  }

  private flushScratch(): void {
    if (this.scratch.length === 0) return;
    this.push(Uint8Array.from(this.scratch));
    this.scratch = [];
  }

  private push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.length += chunk.byteLength;
  }
}

import { describe, expect, it } from 'vitest';
import { ProtoWriter } from './protobuf-writer.ts';

describe('ProtoWriter', () => {
  it('encodes varints in base-128 little-endian groups', () => {
    expect([...new ProtoWriter().varint(1, 300).finish()]).toEqual([0x08, 0xac, 0x02]);
    expect([...new ProtoWriter().varint(2, 1).finish()]).toEqual([0x10, 0x01]);
  });

  it('encodes negative int64 as ten-byte two’s complement', () => {
    const bytes = [...new ProtoWriter().varint(1, -1).finish()];
    expect(bytes).toEqual([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  });

  it('length-prefixes strings and embedded messages', () => {
    const inner = new ProtoWriter().string(1, 'ab').finish();
    expect([...inner]).toEqual([0x0a, 0x02, 0x61, 0x62]);
    expect([...new ProtoWriter().message(7, inner).finish()]).toEqual([0x3a, 0x04, ...inner]);
  });

  it('writes floats as little-endian fixed32', () => {
    expect([...new ProtoWriter().float(2, 1).finish()]).toEqual([0x15, 0x00, 0x00, 0x80, 0x3f]);
  });
});

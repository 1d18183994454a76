/**
 * UTF-8 that arrives in pieces (a socket's reads), decoded piece by piece. A character split
 * across two reads waits, as its first bytes, for the rest; everything before it is decoded at
 * once. The output is exactly `new TextDecoder().decode(allBytes)`, malformed input included.
 *
 * Why not `TextDecoder.decode(bytes, { stream: true })`: on Node that goes through an ICU
 * converter, a native object per decoder that is several times slower per call than the one-shot
 * UTF-8 path used here and that the garbage collector has to finalise, one per streamed answer.
 */

// Each piece is decoded on its own, so a byte-order mark is removed here, once, at the start of
// the stream (as TextDecoder does), never from the start of a later piece.
// (Pure: a bundle that imports this module's neighbours without using it drops it.)
const decoder = /* @__PURE__ */ new TextDecoder('utf-8', { ignoreBOM: true });

export class Utf8Stream {
  /** The first bytes of a character whose last bytes have not arrived yet. */
  #pending: Uint8Array | undefined;
  #atStart = true;

  /** The text of `bytes` (after what was pending), up to the last character still incomplete. */
  decode(bytes: Uint8Array): string {
    if (this.#pending) {
      const joined = new Uint8Array(this.#pending.length + bytes.length);
      joined.set(this.#pending);
      joined.set(bytes, this.#pending.length);
      bytes = joined;
      this.#pending = undefined;
    }
    const end = completeEnd(bytes);
    if (end < bytes.length) this.#pending = bytes.slice(end);
    if (end === 0) return '';
    return this.#text(decoder.decode(end === bytes.length ? bytes : bytes.subarray(0, end)));
  }

  /** The stream is over: what is still pending, as the replacement characters it decodes to. */
  end(): string {
    const pending = this.#pending;
    this.#pending = undefined;
    return pending ? this.#text(decoder.decode(pending)) : '';
  }

  #text(text: string): string {
    if (!this.#atStart) return text;
    this.#atStart = false;
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  }
}

/**
 * Where the last character of `bytes` starts if it needs bytes that have not arrived; the length
 * otherwise. Only the last three bytes can belong to an unfinished character (four at most).
 */
function completeEnd(bytes: Uint8Array): number {
  const n = bytes.length;
  for (let i = n - 1; i >= 0 && i >= n - 3; i--) {
    const byte = bytes[i]!;
    if (byte < 0x80) return n; // ASCII: any later byte is a stray continuation, malformed now
    if (byte >= 0xc0) {
      const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
      return n - i >= length ? n : i;
    }
    // a continuation byte: its lead is further back
  }
  return n;
}

/** A whole body of UTF-8 pieces as one string. */
export async function readUtf8(pieces: AsyncIterable<Uint8Array>): Promise<string> {
  const utf8 = new Utf8Stream();
  let text = '';
  for await (const piece of pieces) text += utf8.decode(piece);
  return text + utf8.end();
}

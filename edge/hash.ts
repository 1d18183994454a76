/**
 * sha256 as lowercase hex. Web Crypto works on both runtimes but is asynchronous (a thread-pool
 * round trip on Node); the Node entry passes node:crypto's synchronous hash instead, which costs
 * a fraction of that on the cache-hit path.
 */
export type Sha256Hex = (text: string) => string | Promise<string>;

const encoder = new TextEncoder();

export const webCryptoSha256Hex: Sha256Hex = async (text) => {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text)));
  let hex = '';
  for (const byte of digest) hex += byte.toString(16).padStart(2, '0');
  return hex;
};

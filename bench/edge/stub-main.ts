/**
 * Child-process entry: the stub upstream on loopback, printing its URL as one JSON line.
 * Arguments: SSE content chunks per answer, then the delay between chunks in ms (0: as fast as
 * it can write; 20 ≈ a model decoding 50 tokens/s).
 */
import { startStubUpstream } from '../../test/stub-upstream.ts';

const chunks = Number(process.argv[2] ?? 32);
const chunkDelayMs = Number(process.argv[3] ?? 0);
const stub = await startStubUpstream({ reply: 'abcd'.repeat(chunks), chunkChars: 4, chunkDelayMs });
console.log(JSON.stringify({ url: stub.url }));
process.on('SIGTERM', () => void stub.close().then(() => process.exit(0)));

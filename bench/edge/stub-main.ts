/** Child-process entry: the stub upstream on loopback, printing its URL as one JSON line. */
import { startStubUpstream } from '../../test/stub-upstream.ts';

const chunks = Number(process.argv[2] ?? 32);
const stub = await startStubUpstream({ reply: 'abcd'.repeat(chunks), chunkChars: 4 });
console.log(JSON.stringify({ url: stub.url }));
process.on('SIGTERM', () => void stub.close().then(() => process.exit(0)));

/**
 * Child-process entry: the floor any gateway process has to pay on this machine, as a benchmark
 * target. A pass-through proxy with nothing else in it: Node's http server, one undici Agent
 * (keep-alive), the request body buffered and sent on, the upstream's chunks copied to the client
 * as they arrive. No auth, parsing, masking, metrics or logs. What the edge adds over it is the
 * edge's own work; what it adds over the direct call is one more process and two more hops.
 *
 * Argument: the upstream's origin. Prints its own URL as one JSON line.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';

const upstream = process.argv[2];
if (!upstream) throw new Error('usage: bare-proxy.ts <upstream origin>');
const agent = new Agent({
  connections: 1024,
  keepAliveTimeout: 30_000,
  headersTimeout: 0,
  bodyTimeout: 0,
});

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    agent.dispatch(
      {
        origin: upstream,
        path: req.url ?? '/',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: Buffer.concat(chunks),
      },
      {
        // undici tells its handler APIs apart by this method: without it, the old one is assumed.
        onRequestStart() {},
        onResponseStart(_controller, status, headers) {
          const type = headers['content-type'];
          res.writeHead(status, {
            'content-type': typeof type === 'string' ? type : 'application/json',
          });
        },
        onResponseData: (_controller, chunk) => void res.write(chunk),
        onResponseEnd: () => void res.end(),
        onResponseError: (_controller, err) => void res.destroy(err),
      },
    );
  });
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  console.log(JSON.stringify({ url: `http://127.0.0.1:${port}` }));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

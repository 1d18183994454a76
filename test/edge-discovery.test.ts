/**
 * DNS discovery on the Node edge, against a resolver whose answers the test changes: the edge
 * starts with what DNS says, follows it as it changes, and sends work only to listed backends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DnsResolver, SrvRecord } from '../edge/discovery.ts';
import { type NodeEdge, startNodeEdge } from '../edge/node.ts';
import { bearer, chatBody, post, testConfig, waitFor } from './edge-helpers.ts';
import { type StubUpstream, startStubUpstream } from './stub-upstream.ts';

const NAME = '_http._tcp.backends.test';
let records: SrvRecord[] = [];
const notFound = () =>
  Promise.reject(Object.assign(new Error('no records'), { code: 'ENOTFOUND' }));
const resolver: DnsResolver = {
  resolve4: notFound,
  resolve6: notFound,
  resolveSrv: async (name) => (name === NAME ? records : notFound()),
};
const srv = (stub: StubUpstream): SrvRecord => ({
  name: '127.0.0.1',
  port: Number(new URL(stub.url).port),
  priority: 0,
  weight: 1,
});

let a: StubUpstream;
let b: StubUpstream;
let edge: NodeEdge;

beforeAll(async () => {
  [a, b] = await Promise.all([startStubUpstream({ name: 'a' }), startStubUpstream({ name: 'b' })]);
  records = [srv(a)];
  edge = await startNodeEdge({
    config: testConfig([`srv+http://${NAME}`]),
    port: 0,
    log: () => {},
    resolver,
  });
});
afterAll(() => Promise.all([edge.close(), a.close(), b.close()]));

const backendsInHealth = async () =>
  ((await (await fetch(`${edge.url}/health`)).json()).backends as { url: string }[]).map(
    (x) => x.url,
  );
const complete = async () =>
  post(`${edge.url}/v1/chat/completions`, chatBody('hi', { temperature: 1 }), await bearer());

describe('edge backend discovery (SRV)', () => {
  it('starts with the backends DNS lists and sends work there', async () => {
    expect(await backendsInHealth()).toEqual([a.url]);
    expect((await complete()).status).toBe(200);
    expect(a.completions).toBe(1);
  });

  it('follows DNS as it changes: a new backend joins, a removed one gets no more work', async () => {
    records = [srv(b)];
    await waitFor(async () => (await backendsInHealth()).join() === b.url);
    const before = a.completions;
    for (let i = 0; i < 3; i++) expect((await complete()).status).toBe(200);
    expect(a.completions).toBe(before);
    expect(b.completions).toBe(3);
  });

  it('answers 503 while DNS lists no backend, and recovers when it lists one again', async () => {
    records = [];
    await waitFor(async () => (await fetch(`${edge.url}/health`)).status === 503);
    expect((await complete()).status).toBe(503);
    records = [srv(a), srv(b)];
    await waitFor(async () => (await fetch(`${edge.url}/health`)).status === 200);
    expect((await backendsInHealth()).sort()).toEqual([a.url, b.url].sort());
    expect((await complete()).status).toBe(200);
  });
});

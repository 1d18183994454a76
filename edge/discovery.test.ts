import { describe, expect, it } from 'vitest';
import {
  BackendDiscovery,
  type DnsResolver,
  isDiscoverySpec,
  parseBackendSpec,
  resolveBackends,
  type SrvRecord,
} from './discovery.ts';

const dnsError = (code: string) => Object.assign(new Error(`query failed: ${code}`), { code });

/** A resolver over fixed tables; a table entry may be an error code to fail with. */
function fakeResolver(tables: {
  a?: Record<string, string[] | string>;
  aaaa?: Record<string, string[] | string>;
  srv?: Record<string, SrvRecord[] | string>;
}): DnsResolver & { queries: string[] } {
  const queries: string[] = [];
  const answer = async <T>(
    type: string,
    table: Record<string, T[] | string> = {},
    name: string,
  ) => {
    queries.push(`${type} ${name}`);
    const entry = table[name];
    if (entry === undefined) throw dnsError('ENOTFOUND');
    if (typeof entry === 'string') throw dnsError(entry);
    return entry;
  };
  return {
    queries,
    resolve4: (name) => answer('A', tables.a, name),
    resolve6: (name) => answer('AAAA', tables.aaaa, name),
    resolveSrv: (name) => answer('SRV', tables.srv, name),
  };
}

const srv = (name: string, port: number, priority = 0): SrvRecord => ({
  name,
  port,
  priority,
  weight: 10,
});

describe('parseBackendSpec', () => {
  it('keeps plain URLs (without trailing slashes) and recognises dns+/srv+ specs', () => {
    expect(parseBackendSpec('http://10.0.0.5:8000/')).toEqual({
      kind: 'static',
      url: 'http://10.0.0.5:8000',
    });
    expect(parseBackendSpec('dns+https://backend.internal')).toEqual({
      kind: 'dns',
      scheme: 'https',
      host: 'backend.internal',
      port: 443,
      path: '',
    });
    expect(parseBackendSpec('SRV+http://_http._tcp.backend.ns.svc/v')).toEqual({
      kind: 'srv',
      scheme: 'http',
      name: '_http._tcp.backend.ns.svc',
      path: '/v',
    });
    expect(isDiscoverySpec('http://dns.example.com')).toBe(false);
  });

  it('rejects a port on an SRV spec, since the records carry it', () => {
    expect(() => parseBackendSpec('srv+http://_http._tcp.b:8000')).toThrow(/carry the port/);
  });
});

describe('resolveBackends', () => {
  it('turns A and AAAA records into one URL per address, IPv6 bracketed, sorted', async () => {
    const resolver = fakeResolver({
      a: { 'backend.ns.svc': ['10.0.0.9', '10.0.0.10'] },
      aaaa: { 'backend.ns.svc': ['fd00::2'] },
    });
    expect(await resolveBackends('dns+http://backend.ns.svc:8000', resolver)).toEqual([
      'http://10.0.0.10:8000',
      'http://10.0.0.9:8000',
      'http://[fd00::2]:8000',
    ]);
  });

  it('answers [] for a name with no records (no backends yet), and throws on a DNS failure', async () => {
    const resolver = fakeResolver({ a: { broken: 'ESERVFAIL' }, aaaa: { broken: 'ENODATA' } });
    expect(await resolveBackends('dns+http://nothing-here:8000', resolver)).toEqual([]);
    await expect(resolveBackends('dns+http://broken:8000', resolver)).rejects.toThrow(/ESERVFAIL/);
  });

  it('uses the lowest-priority SRV targets by name and port, without the trailing dot', async () => {
    const resolver = fakeResolver({
      srv: {
        '_http._tcp.b': [
          srv('b-1.b.ns.svc.', 8001),
          srv('b-0.b.ns.svc.', 8000),
          srv('spare.', 9, 5),
        ],
      },
    });
    expect(await resolveBackends('srv+https://_http._tcp.b', resolver)).toEqual([
      'https://b-0.b.ns.svc:8000',
      'https://b-1.b.ns.svc:8001',
    ]);
  });

  it('passes a plain URL through without asking DNS', async () => {
    const resolver = fakeResolver({});
    expect(await resolveBackends('https://origin.example.com/', resolver)).toEqual([
      'https://origin.example.com',
    ]);
    expect(resolver.queries).toEqual([]);
  });
});

describe('BackendDiscovery', () => {
  it('reports the merged list only when it changes', async () => {
    const a: Record<string, string[] | string> = { svc: ['10.0.0.1'] };
    const changes: string[][] = [];
    const discovery = new BackendDiscovery(['http://static:1', 'dns+http://svc:8000'], {
      intervalMs: 1000,
      resolver: fakeResolver({ a }),
      onChange: (urls) => changes.push(urls),
    });
    expect(await discovery.refresh()).toEqual(['http://static:1', 'http://10.0.0.1:8000']);
    await discovery.refresh();
    a.svc = ['10.0.0.1', '10.0.0.2'];
    await discovery.refresh();
    expect(changes).toEqual([
      ['http://static:1', 'http://10.0.0.1:8000'],
      ['http://static:1', 'http://10.0.0.1:8000', 'http://10.0.0.2:8000'],
    ]);
  });

  it('keeps the last known backends of a spec whose lookup fails, and says why', async () => {
    const a: Record<string, string[] | string> = { svc: ['10.0.0.1'] };
    const errors: string[] = [];
    const discovery = new BackendDiscovery(['dns+http://svc:8000'], {
      intervalMs: 1000,
      resolver: fakeResolver({ a }),
      onChange: () => {},
      onError: (spec, err) => errors.push(`${spec}: ${(err as Error).message}`),
    });
    await discovery.refresh();
    a.svc = 'ETIMEOUT';
    expect(await discovery.refresh()).toEqual(['http://10.0.0.1:8000']);
    expect(errors).toEqual(['dns+http://svc:8000: query failed: ETIMEOUT']);
    a.svc = [];
    expect(await discovery.refresh()).toEqual([]);
  });

  it('rejects a malformed spec when built, not at the first refresh', () => {
    const options = { intervalMs: 1000, onChange: () => {} };
    expect(() => new BackendDiscovery(['dns+http://bad host:80'], options)).toThrow(/host name/);
  });
});

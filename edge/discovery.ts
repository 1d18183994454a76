/**
 * Backend discovery on Node: a backend list may mix plain URLs with DNS names that stand for a
 * changing set of backends, re-resolved periodically (the pool's health checks then judge each).
 *
 *   http://10.0.0.5:8000                          a plain URL, used as is
 *   dns+http://edgeserve-backend.ns.svc:8000      A and AAAA records → http://<ip>:8000 each
 *                                                 (a Kubernetes headless Service lists ready pods)
 *   srv+http://_http._tcp.edgeserve-backend.ns.svc
 *                                                 SRV records → http://<target>:<port> each (the
 *                                                 lowest priority present); keeps host names, so
 *                                                 srv+https can verify certificates by name
 *
 * Workers has no DNS API: there the list is static. The resolver is injectable for tests.
 */
import { isDiscoverySpec, parseBackendSpec } from './backend-spec.ts';

export { type BackendSpec, isDiscoverySpec, parseBackendSpec } from './backend-spec.ts';

export interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

/** The subset of node:dns/promises discovery uses. */
export interface DnsResolver {
  resolve4(hostname: string): Promise<string[]>;
  resolve6(hostname: string): Promise<string[]>;
  resolveSrv(hostname: string): Promise<SrvRecord[]>;
}

/** Answers that mean "no such records": an empty set of backends, not a failure. */
const NO_RECORDS = new Set(['ENOTFOUND', 'ENODATA', 'NXDOMAIN']);

async function records<T>(lookup: Promise<T[]>): Promise<T[]> {
  try {
    return await lookup;
  } catch (err) {
    if (NO_RECORDS.has((err as { code?: string }).code ?? '')) return [];
    throw err;
  }
}

let systemResolver: DnsResolver | undefined;
async function defaultResolver(): Promise<DnsResolver> {
  // Imported on first use so that this module can sit in a Workers bundle without being called.
  systemResolver ??= await import('node:dns/promises');
  return systemResolver;
}

/**
 * The backend URLs one spec stands for right now, sorted. No records → []. Other DNS failures
 * (timeouts, SERVFAIL) throw, so a caller can keep what it knew.
 */
export async function resolveBackends(spec: string, resolver?: DnsResolver): Promise<string[]> {
  const parsed = parseBackendSpec(spec);
  if (parsed.kind === 'static') return [parsed.url];
  const dns = resolver ?? (await defaultResolver());
  if (parsed.kind === 'dns') {
    const [v4, v6] = await Promise.all([
      records(dns.resolve4(parsed.host)),
      records(dns.resolve6(parsed.host)),
    ]);
    const hosts = [...v4.sort(), ...v6.sort().map((ip) => `[${ip}]`)];
    return hosts.map((h) => `${parsed.scheme}://${h}:${parsed.port}${parsed.path}`);
  }
  const srv = await records(dns.resolveSrv(parsed.name));
  if (srv.length === 0) return [];
  const best = Math.min(...srv.map((r) => r.priority));
  return srv
    .filter((r) => r.priority === best)
    .map((r) => `${parsed.scheme}://${r.name.replace(/\.$/, '')}:${r.port}${parsed.path}`)
    .sort();
}

export interface DiscoveryOptions {
  /** How often DNS specs are re-resolved. */
  intervalMs: number;
  /** Called with the whole new list whenever it changes (not on every refresh). */
  onChange(urls: string[]): void;
  onError?(spec: string, err: unknown): void;
  resolver?: DnsResolver;
}

/** Keeps a backend list current: static entries stay, DNS entries are re-resolved. */
export class BackendDiscovery {
  private known = new Map<string, string[]>();
  private current: string[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly specs: readonly string[],
    private readonly options: DiscoveryOptions,
  ) {
    for (const spec of specs) parseBackendSpec(spec);
  }

  get urls(): string[] {
    return [...this.current];
  }

  /** Resolves every spec once; a spec that fails keeps its last answer. Returns the list. */
  async refresh(): Promise<string[]> {
    await Promise.all(
      this.specs.map(async (spec) => {
        try {
          this.known.set(spec, await resolveBackends(spec, this.options.resolver));
        } catch (err) {
          this.options.onError?.(spec, err);
        }
      }),
    );
    const next = [...new Set(this.specs.flatMap((spec) => this.known.get(spec) ?? []))];
    if (next.join('\n') !== this.current.join('\n')) {
      this.current = next;
      this.options.onChange(this.urls);
    }
    return this.urls;
  }

  /** Re-resolves every interval until `stop()`; the timer never holds the process open. */
  start(): void {
    if (this.timer || !this.specs.some(isDiscoverySpec)) return;
    this.timer = setInterval(() => void this.refresh(), this.options.intervalMs);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/**
 * A backend entry as configured: a plain URL, or a DNS discovery spec (`dns+http://host:port`,
 * `srv+http://_http._tcp.name`) that discovery.ts resolves. Kept apart from discovery.ts so the
 * config code (also bundled for Workers) can recognise and check specs without any DNS import.
 */

export type BackendSpec =
  | { kind: 'static'; url: string }
  | { kind: 'dns'; scheme: 'http' | 'https'; host: string; port: number; path: string }
  | { kind: 'srv'; scheme: 'http' | 'https'; name: string; path: string };

const SPEC = /^(dns|srv)\+(https?):\/\/([^/]+)(\/.*)?$/i;

export const isDiscoverySpec = (spec: string): boolean => SPEC.test(spec.trim());

/** A backend entry, classified; throws on a malformed discovery spec (a config error). */
export function parseBackendSpec(spec: string): BackendSpec {
  const text = spec.trim();
  const m = SPEC.exec(text);
  if (!m) return { kind: 'static', url: text.replace(/\/+$/, '') };
  const kind = m[1]!.toLowerCase() as 'dns' | 'srv';
  const scheme = m[2]!.toLowerCase() as 'http' | 'https';
  const path = (m[4] ?? '').replace(/\/+$/, '');
  let parsed: URL;
  try {
    parsed = new URL(`${scheme}://${m[3]}`);
  } catch {
    throw new Error(`backend '${spec}': '${m[3]}' is not a host name`);
  }
  if (kind === 'srv') {
    if (parsed.port) throw new Error(`backend '${spec}': SRV records carry the port; drop ':port'`);
    return { kind, scheme, name: parsed.hostname, path };
  }
  const port = parsed.port ? Number(parsed.port) : scheme === 'https' ? 443 : 80;
  return { kind, scheme, host: parsed.hostname, port, path };
}

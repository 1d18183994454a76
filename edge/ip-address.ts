/** Validators for IP address text, used by the ip masker after its regex finds a candidate run. */

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);
const IPV4_PREFIX = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}`);
const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;

export const isIPv4 = (text: string) => IPV4.test(text);

/** RFC 4291 text forms: eight groups, one `::` standing for one or more zero groups, an optional
 * dotted IPv4 tail. The bare `::` is rejected: it is far more often punctuation than an address. */
export function isIPv6(text: string): boolean {
  const halves = text.split('::');
  if (halves.length > 2) return false;
  const groups = halves.flatMap((h) => (h === '' ? [] : h.split(':')));
  if (groups.length === 0) return false;
  let units = groups.length;
  const last = groups[groups.length - 1]!;
  if (last.includes('.')) {
    if (!isIPv4(last) || halves[halves.length - 1] === '') return false;
    units += 1;
    groups.pop();
  }
  if (!groups.every((g) => HEX_GROUP.test(g))) return false;
  return halves.length === 2 ? units <= 7 : units === 8;
}

/**
 * Length of the IP address that starts `run` (a run of hex digits, dots and colons), or 0. A whole
 * run that is an IPv6 address counts; otherwise a leading IPv4 address counts when followed by
 * nothing or a `:port` (so `1.2.3.4.5`, a version string, is not an address). Trailing dots are
 * sentence punctuation, not part of the address.
 */
export function ipAddressLength(run: string): number {
  const trimmed = run.replace(/\.+$/, '');
  if (trimmed.includes(':') && isIPv6(trimmed)) return trimmed.length;
  const v4 = IPV4_PREFIX.exec(trimmed)?.[0];
  if (v4 === undefined) return 0;
  const next = trimmed[v4.length];
  return next === undefined || next === ':' ? v4.length : 0;
}

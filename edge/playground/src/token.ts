/** The bearer token, pasted once and kept for this tab only (sessionStorage). */
const KEY = 'edgeserve.token';

export function getToken(): string {
  try {
    return sessionStorage.getItem(KEY) ?? '';
  } catch {
    return '';
  }
}

export function setToken(token: string): void {
  // People paste the whole header line that `npm start` prints: keep only the token.
  const bare = token
    .trim()
    .replace(/^authorization:\s*/i, '')
    .replace(/^bearer\s+/i, '');
  if (bare) sessionStorage.setItem(KEY, bare);
  else sessionStorage.removeItem(KEY);
}

/**
 * The web playground and dashboard, served by the edge on Node and Workers alike. Assets are
 * bundled at build time into an exact-match map (playground/assets.ts): no file system is read,
 * so no request path can reach anything outside the map. GET and HEAD only; ETag revalidation.
 */
import type { RouterType } from 'itty-router';
import { HttpError, notFound } from '../shared/errors.ts';
import type { EdgeRequest, EdgeServices } from './context.ts';
import { authenticate } from './pipeline/authenticate.ts';
import { PLAYGROUND_ASSETS, type StaticAsset } from './playground/assets.ts';
import { dashboardRoute } from './playground/dashboard-route.ts';
import type { FetchUpstream } from './upstream.ts';

/** The page may talk to this origin only, and may not be framed (clickjacking). */
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

// biome-ignore lint/suspicious/noExplicitAny: itty's router is loosely typed at this boundary
type AnyRouter = RouterType<any, any[], any>;

/** Adds the asset routes and `GET /v1/dashboard`; call before the catch-all route. */
export function mountPlayground(
  router: AnyRouter,
  services: EdgeServices,
  fetchUpstream: FetchUpstream,
): void {
  for (const path of Object.keys(PLAYGROUND_ASSETS)) router.all(path, serveStatic);
  router.get('/v1/dashboard', authenticate(services), dashboardRoute(services, fetchUpstream));
}

/** Serves the asset at exactly the request's path (itty also matches `/dashboard/`: not here). */
export function serveStatic(request: EdgeRequest): Response {
  const path = new URL(request.url).pathname;
  if (!Object.hasOwn(PLAYGROUND_ASSETS, path))
    throw notFound(`No route for ${request.method} ${path}.`);
  return serveAsset(request, PLAYGROUND_ASSETS[path]!);
}

export function serveAsset(request: EdgeRequest, asset: StaticAsset): Response {
  if (request.method !== 'GET' && request.method !== 'HEAD')
    throw new HttpError(
      405,
      'invalid_request_error',
      'method_not_allowed',
      `${request.method} is not allowed here; use GET or HEAD.`,
      null,
      { allow: 'GET, HEAD' },
    );
  const headers = {
    ...SECURITY_HEADERS,
    'content-type': asset.contentType,
    'cache-control': 'no-cache',
    etag: asset.etag,
  };
  if (matchesEtag(request.headers.get('if-none-match'), asset.etag))
    return new Response(null, { status: 304, headers });
  const body = request.method === 'HEAD' ? null : asset.body;
  return new Response(body, { headers: { ...headers, 'content-length': String(asset.bytes) } });
}

const matchesEtag = (header: string | null, etag: string) =>
  header !== null &&
  (header.trim() === '*' ||
    header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag));

/**
 * Preloaded into Portkey's gateway (`node --import`) so that it can stream at all on Node 20.
 *
 * @hono/node-server (1.19) replaces the global Response with its own class. Built from a Response
 * that fetch returned (`new Response(stream, upstream)`, Portkey's streaming path), that class keeps
 * the upstream's Headers object, whose guard is immutable; Portkey then appends its
 * `x-portkey-*` headers to it and every streamed request fails with `TypeError: immutable`.
 *
 * The workaround hands Portkey responses whose headers are a mutable copy: one Headers copy per
 * request, the same work @hono/node-server does itself when the init is one of its own Responses.
 */
const upstreamFetch = globalThis.fetch;

globalThis.fetch = async (input, init) => {
  const res = await upstreamFetch(input, init);
  return new globalThis.Response(res.body, {
    status: res.status,
    statusText: res.statusText,
    headers: new Headers(res.headers),
  });
};

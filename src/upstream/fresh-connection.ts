// One request on a connection of its own, closed after its response: what a retry needs when the
// kept-alive connection it was sent on turned out closed. fetch cannot be told to skip its idle
// connections (another of them may be just as stale), so this one goes through node:http with no
// agent. It answers like fetch: a Response (body unread), or a TypeError "fetch failed" whose
// cause is the network error, or the signal's reason once it aborts.
import { Readable } from 'node:stream';
import { headersOf, requestOverNodeHttp, type NodeHttpRequest } from './node-http-request.js';

export type FreshRequest = NodeHttpRequest;

/** Statuses whose response has no body (a Response must not be given one). */
const NULL_BODY_STATUSES = new Set([204, 205, 304]);

export async function fetchOnFreshConnection(url: string, request: FreshRequest, signal: AbortSignal): Promise<Response> {
  const incoming = await requestOverNodeHttp(url, request, signal, false);
  const status = incoming.statusCode ?? 502;
  let body: ReadableStream<Uint8Array> | null = null;
  if (NULL_BODY_STATUSES.has(status)) incoming.resume();
  else body = Readable.toWeb(incoming) as unknown as ReadableStream<Uint8Array>;
  return new Response(body, { status, statusText: incoming.statusMessage, headers: headersOf(incoming) });
}

// One request on a connection of its own, closed after its response: what a retry needs when the
// kept-alive connection it was sent on turned out closed. fetch cannot be told to skip its idle
// connections (another of them may be just as stale), so this one goes through node:http with no
// agent. It answers like fetch: a Response (body unread), or a TypeError "fetch failed" whose
// cause is the network error, or the signal's reason once it aborts.
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';

export interface FreshRequest {
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
}

/** Statuses whose response has no body (a Response must not be given one). */
const NULL_BODY_STATUSES = new Set([204, 205, 304]);

export function fetchOnFreshConnection(url: string, request: FreshRequest, signal: AbortSignal): Promise<Response> {
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : http;
  const headers = request.body === undefined ? request.headers : { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) };
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const outgoing = transport.request(target, { method: request.method, headers, agent: false, signal }, (incoming) => {
      const responseHeaders = new Headers();
      for (let index = 0; index + 1 < incoming.rawHeaders.length; index += 2)
        responseHeaders.append(incoming.rawHeaders[index], incoming.rawHeaders[index + 1]);
      const status = incoming.statusCode ?? 502;
      let body: ReadableStream<Uint8Array> | null = null;
      if (NULL_BODY_STATUSES.has(status)) incoming.resume();
      else body = Readable.toWeb(incoming) as unknown as ReadableStream<Uint8Array>;
      resolve(new Response(body, { status, statusText: incoming.statusMessage, headers: responseHeaders }));
    });
    outgoing.on('error', (error) => reject(signal.aborted ? signal.reason : new TypeError('fetch failed', { cause: error })));
    outgoing.end(request.body);
  });
}

// One request through node:http(s), answered as fetch fails: the IncomingMessage (body unread), or
// a TypeError "fetch failed" whose cause is the network error, or the signal's reason once it
// aborts. Aborting the signal after the headers closes the connection, the body with it.
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';

export interface NodeHttpRequest {
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
}

/** `agent`: the connections to reuse, or false for a connection of its own, closed after the response. */
export function requestOverNodeHttp(url: string, request: NodeHttpRequest, signal: AbortSignal, agent: http.Agent | false): Promise<IncomingMessage> {
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : http;
  const headers = request.body === undefined ? request.headers : { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) };
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const outgoing = transport.request(target, { method: request.method, headers, agent, signal }, resolve);
    outgoing.on('error', (error) => reject(signal.aborted ? signal.reason : new TypeError('fetch failed', { cause: error })));
    outgoing.end(request.body);
  });
}

/** A response's headers as fetch's Headers. */
export function headersOf(incoming: IncomingMessage): Headers {
  const headers = new Headers();
  for (let index = 0; index + 1 < incoming.rawHeaders.length; index += 2) headers.append(incoming.rawHeaders[index], incoming.rawHeaders[index + 1]);
  return headers;
}

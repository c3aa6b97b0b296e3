// Reads the `data:` payloads of a server-sent event stream as its bytes arrive, with
// eventsource-parser: frames split anywhere (mid-line, mid-character, between \r and \n), comment
// lines (": keep-alive") and other fields skipped.
import type { IncomingMessage } from 'node:http';
import { createParser } from 'eventsource-parser';

export interface SseDataReader {
  /** The next piece of the body, decoded (a character split across pieces is the decoder's business). */
  feed(text: string): void;
  /** The body has ended: a last frame without its blank line still counts. */
  end(): void;
}

/** Hands each payload to `onData` as soon as the text that completes it is fed: no promise per frame. */
export function sseDataReader(onData: (data: string) => void): SseDataReader {
  const parser = createParser({ onEvent: (event) => onData(event.data) });
  return { feed: (text) => parser.feed(text), end: () => parser.feed('\n\n') };
}

export async function* sseData(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  const payloads: string[] = [];
  const reader = sseDataReader((data) => payloads.push(data));
  for await (const chunk of body) {
    reader.feed(decoder.decode(chunk, { stream: true }));
    yield* payloads.splice(0);
  }
  // The decoder's last bytes, then the end.
  reader.feed(decoder.decode());
  reader.end();
  yield* payloads.splice(0);
}

/**
 * Reads a node:http response's payloads, handing each to `onData` in order as its text arrives; a
 * promise from `onData` holds the next payload back, and pauses the reading, until it settles (the
 * server's writes queue meanwhile). Resolves once the body has ended and every payload was handed
 * on. Rejects with `onData`'s error, or a TypeError "fetch failed" whose cause is the network error
 * when the connection fails or closes before the body's end (as fetch's body does).
 */
export function readSseData(response: IncomingMessage, onData: (data: string) => void | Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    const pending: string[] = [];
    const reader = sseDataReader((data) => pending.push(data));
    let next = 0;
    let holding = false;
    let bodyEnded = false;
    let settled = false;
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      response.destroy();
      reject(error);
    };
    const handOn = (): void => {
      while (!holding && !settled && next < pending.length) {
        let held: void | Promise<void>;
        try {
          held = onData(pending[next++]);
        } catch (error) {
          return fail(error);
        }
        if (held === undefined) continue;
        holding = true;
        response.pause();
        held.then(() => {
          holding = false;
          handOn();
          if (!holding && !settled) response.resume();
        }, fail);
      }
      if (holding || settled) return;
      pending.length = next = 0;
      if (bodyEnded) {
        settled = true;
        resolve();
      }
    };
    response.setEncoding('utf8');
    response.on('data', (text: string) => {
      reader.feed(text);
      handOn();
    });
    response.on('end', () => {
      reader.end();
      bodyEnded = true;
      handOn();
    });
    response.on('error', (error) => fail(new TypeError('fetch failed', { cause: error })));
    response.on('close', () => {
      // A body received whole but still paused ends once resumed.
      if (!bodyEnded && !response.complete)
        fail(new TypeError('fetch failed', { cause: Object.assign(new Error('closed before the end of its body'), { code: 'ECONNRESET' }) }));
    });
  });
}

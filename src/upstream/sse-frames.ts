// Reads the `data:` payloads of a server-sent event stream as its bytes arrive, with
// eventsource-parser: frames split anywhere (mid-line, mid-character, between \r and \n), comment
// lines (": keep-alive") and other fields skipped.
import { createParser } from 'eventsource-parser';

export async function* sseData(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  const payloads: string[] = [];
  const parser = createParser({ onEvent: (event) => payloads.push(event.data) });
  for await (const chunk of body) {
    parser.feed(decoder.decode(chunk, { stream: true }));
    yield* payloads.splice(0);
  }
  // The decoder's last bytes, then a blank line: a last frame without its own still counts.
  parser.feed(`${decoder.decode()}\n\n`);
  yield* payloads.splice(0);
}

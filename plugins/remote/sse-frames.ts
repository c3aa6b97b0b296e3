// Reads the `data:` payloads of a server-sent event stream as its bytes arrive: frames end at a
// blank line, a frame may be split across chunks anywhere (mid-line, mid-character, between \r
// and \n), comment lines (": keep-alive") and other fields are skipped.

export async function* sseData(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  let data: string[] = [];
  const takeLines = function* (final: boolean): Generator<string> {
    let start = 0;
    for (;;) {
      const newline = buffer.indexOf('\n', start);
      const carriage = buffer.indexOf('\r', start);
      let end = newline;
      if (carriage !== -1 && (newline === -1 || carriage < newline)) {
        // A \r at the very end may be followed by the \n of the next chunk.
        if (carriage === buffer.length - 1 && !final) break;
        end = carriage;
      }
      if (end === -1) break;
      yield buffer.slice(start, end);
      start = end + (buffer[end] === '\r' && buffer[end + 1] === '\n' ? 2 : 1);
    }
    buffer = buffer.slice(start);
  };
  const frameLine = (line: string): string | undefined => {
    if (line === '') {
      if (data.length === 0) return undefined;
      const payload = data.join('\n');
      data = [];
      return payload;
    }
    if (line.startsWith('data:')) data.push(line.slice(line[5] === ' ' ? 6 : 5));
    return undefined;
  };
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    for (const line of takeLines(false)) {
      const payload = frameLine(line);
      if (payload !== undefined) yield payload;
    }
  }
  buffer += decoder.decode();
  for (const line of takeLines(true)) {
    const payload = frameLine(line);
    if (payload !== undefined) yield payload;
  }
  // A last frame without its blank line still counts.
  if (buffer !== '') frameLine(buffer);
  const last = frameLine('');
  if (last !== undefined) yield last;
}

// The SSE writer, read back the way a client reads it: bytes arriving in arbitrary pieces, even
// in the middle of a multi-byte character.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import Koa from 'koa';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { errors } from '../../src/errors.js';
import { SseStream } from '../../src/http/sse-stream.js';

async function serveOnce(handler: (stream: SseStream) => void): Promise<{ body: Buffer; headers: http.IncomingHttpHeaders }> {
  const app = new Koa();
  app.use((ctx) => {
    const stream = new SseStream(ctx);
    stream.start();
    handler(stream);
  });
  const server = http.createServer(app.callback()).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const port = (server.address() as AddressInfo).port;
  try {
    return await new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/' }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ body: Buffer.concat(chunks), headers: response.headers }));
        response.on('error', reject);
      });
    });
  } finally {
    server.close();
  }
}

function parseInPieces(body: Buffer, pieceSize: number): EventSourceMessage[] {
  const events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => events.push(event) });
  const decoder = new TextDecoder();
  for (let offset = 0; offset < body.length; offset += pieceSize) parser.feed(decoder.decode(body.subarray(offset, offset + pieceSize), { stream: true }));
  parser.feed(decoder.decode());
  return events;
}

test('frames survive being split at every byte, multi-byte characters included', async () => {
  const texts = ['Once', ' upon a time', ' — 日本語 ', '🙂 emoji', ' "quoted"\nnew line'];
  const { body, headers } = await serveOnce((stream) => {
    for (const text of texts) stream.send({ delta: text });
    stream.done(true);
  });
  assert.equal(headers['content-type'], 'text/event-stream; charset=utf-8');
  assert.equal(headers['x-accel-buffering'], 'no');
  assert.equal(headers['cache-control'], 'no-cache, no-transform');
  for (const pieceSize of [1, 2, 3, 7, body.length]) {
    const events = parseInPieces(body, pieceSize);
    assert.deepEqual(
      events.map((event) => event.data),
      [...texts.map((text) => JSON.stringify({ delta: text })), '[DONE]'],
    );
  }
});

test('a stream that ended drops later frames', async () => {
  const { body } = await serveOnce((stream) => {
    stream.send({ delta: 'partial' });
    stream.send(errors.internal().toJSON());
    stream.end();
    stream.send({ delta: 'after the end is dropped' });
  });
  const events = parseInPieces(body, 5).map((event) => JSON.parse(event.data) as Record<string, unknown>);
  assert.equal(events.length, 2);
  assert.deepEqual(Object.keys((events[1] as { error: object }).error).sort(), ['code', 'message', 'param', 'type']);
});

test('a named frame carries its event line; a stream may end without [DONE]', async () => {
  const { body } = await serveOnce((stream) => {
    stream.send({ type: 'message_start' }, 'message_start');
    stream.done(false);
  });
  assert.equal(body.toString(), 'event: message_start\ndata: {"type":"message_start"}\n\n');
  assert.deepEqual(
    parseInPieces(body, 3).map((event) => [event.event, event.data]),
    [['message_start', '{"type":"message_start"}']],
  );
});

test('keep-alive comments are ignored by SSE parsers', async () => {
  const { body } = await serveOnce((stream) => {
    stream.startKeepAlive(5);
    setTimeout(() => {
      stream.send({ delta: 'x' });
      stream.done(true);
    }, 30);
  });
  assert.match(body.toString(), /^: keep-alive\n\n/);
  assert.deepEqual(
    parseInPieces(body, 4).map((event) => event.data),
    ['{"delta":"x"}', '[DONE]'],
  );
});

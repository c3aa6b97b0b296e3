// Image input on chat messages (`image_url` content parts): checked on the wire before any model
// is involved (base64 data URLs of png, jpeg, webp or gif only; the size and count limits of
// [api]), refused with a 400 naming the content part by a model that takes no images (the
// in-process engine), and passed on as they came by the remote plugin, whose upstream answers
// for its own model.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { models } from '../helpers/paths.js';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.js';
import { pngDataUrl, tinyPng } from '../helpers/tiny-png.js';

const MAX_IMAGE_BYTES = 4096;

const CONFIG = `
[api]
max_image_bytes = ${MAX_IMAGE_BYTES}
max_images_per_request = 2

[api.models.chatml]
path = "${models.storiesChatml}"
type = "chat"
context_length = 512
threads = 1
parallel = 1
`;

type Part = OpenAI.Chat.ChatCompletionContentPart;
const imagePart = (url: string, detail?: 'auto' | 'low' | 'high'): Part => ({ type: 'image_url', image_url: detail ? { url, detail } : { url } });
const textPart = (text: string): Part => ({ type: 'text', text });

function chatWith(client: OpenAI, model: string, content: Part[], before: OpenAI.Chat.ChatCompletionMessageParam[] = []) {
  return client.chat.completions.create({ model, messages: [...before, { role: 'user', content }], max_tokens: 4 });
}

/** The SDK's error for a 400 whose param and code are these (and whose message matches). */
function badRequest(param: string, code: string | null, message?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof OpenAI.BadRequestError, `expected a 400, got ${String(error)}`);
    assert.equal(error.param, param, `${error.message} ${JSON.stringify((error as any).error)}`);
    assert.equal(error.code, code);
    if (message) assert.match(error.message, message);
    return true;
  };
}

describe('image_url content parts', () => {
  let gateway: TestGateway;

  before(async () => {
    gateway = await startTestGateway(CONFIG);
  });

  after(async () => {
    await gateway?.close();
  });

  test('a well-formed image reaches the model, and the in-process engine refuses it with a 400 naming the part', async () => {
    const system: OpenAI.Chat.ChatCompletionMessageParam = { role: 'system', content: 'You describe pictures.' };
    await assert.rejects(
      chatWith(gateway.client, 'chatml', [textPart('What is this?'), imagePart(pngDataUrl(), 'low')], [system]),
      badRequest('messages[1].content[1]', 'unsupported_parameter', /does not accept image input/),
    );
    // The same conversation without the image is served: only the image was refused.
    const ok = await chatWith(gateway.client, 'chatml', [textPart('What is this?')], [system]);
    assert.equal(ok.choices.length, 1);
  });

  test('every accepted media type passes the wire checks (the model refusal, not a validation error, answers)', async () => {
    const images: Record<string, Buffer> = {
      'image/png': tinyPng(4, 4),
      'image/jpeg': Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0]),
      'image/webp': Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WEBPVP8 '), Buffer.alloc(8)]),
      'image/gif': Buffer.concat([Buffer.from('GIF89a'), Buffer.alloc(10)]),
    };
    for (const [mediaType, bytes] of Object.entries(images)) {
      await assert.rejects(
        chatWith(gateway.client, 'chatml', [imagePart(`data:${mediaType};base64,${bytes.toString('base64')}`)]),
        badRequest('messages[0].content[0]', 'unsupported_parameter'),
        mediaType,
      );
    }
  });

  test('a bad data URL is a 400 naming its url', async () => {
    const url = 'messages[0].content[1].image_url.url';
    for (const bad of [
      'data:,',
      'data:image/png,iVBORw0KGgo',
      'data:image/png;base64,',
      'data:image/png;base64,@@@@not base64',
      'data:image/png;base64,iVBORw0K',
    ]) {
      await assert.rejects(chatWith(gateway.client, 'chatml', [textPart('Look:'), imagePart(bad)]), badRequest(url, 'invalid_image'), bad);
    }
    await assert.rejects(
      chatWith(gateway.client, 'chatml', [imagePart('file:///etc/passwd')]),
      badRequest('messages[0].content[0].image_url.url', 'invalid_image'),
    );
  });

  test('a media type that is not an image the engines take, or bytes that are not of the type named, is a 400', async () => {
    const url = 'messages[0].content[0].image_url.url';
    const text = Buffer.from('hello, not an image').toString('base64');
    await assert.rejects(chatWith(gateway.client, 'chatml', [imagePart(`data:text/plain;base64,${text}`)]), badRequest(url, 'invalid_image', /text\/plain/));
    await assert.rejects(
      chatWith(gateway.client, 'chatml', [imagePart(`data:image/svg+xml;base64,${text}`)]),
      badRequest(url, 'invalid_image', /image\/svg\+xml/),
    );
    await assert.rejects(
      chatWith(gateway.client, 'chatml', [imagePart(`data:image/png;base64,${text}`)]),
      badRequest(url, 'invalid_image', /not a image\/png/),
    );
    const png = tinyPng(4, 4).toString('base64');
    await assert.rejects(chatWith(gateway.client, 'chatml', [imagePart(`data:image/jpeg;base64,${png}`)]), badRequest(url, 'invalid_image', /image\/jpeg/));
  });

  test('an image over max_image_bytes is a 400 naming it, with the limit', async () => {
    const large = pngDataUrl(64, 64); // about 12 KB of noise
    await assert.rejects(
      chatWith(gateway.client, 'chatml', [textPart('Look:'), imagePart(large)]),
      badRequest('messages[0].content[1].image_url.url', 'image_too_large', new RegExp(`at most ${MAX_IMAGE_BYTES} bytes`)),
    );
  });

  test('more images than max_images_per_request is a 400 naming the first one too many', async () => {
    const image = imagePart(pngDataUrl(4, 4));
    await assert.rejects(
      gateway.client.chat.completions.create({
        model: 'chatml',
        messages: [
          { role: 'user', content: [image, image] },
          { role: 'assistant', content: 'Two pictures.' },
          { role: 'user', content: [textPart('And this one?'), image] },
        ],
        max_tokens: 4,
      }),
      badRequest('messages[2].content[1]', 'too_many_images', /at most 2/),
    );
  });

  test('a remote URL is refused with a 400 naming it: the gateway fetches nothing', async () => {
    for (const remote of ['https://example.com/cat.png', 'http://127.0.0.1:1/cat.png']) {
      await assert.rejects(
        chatWith(gateway.client, 'chatml', [imagePart(remote)]),
        badRequest('messages[0].content[0].image_url.url', 'unsupported_parameter', /data URL/),
      );
    }
  });

  test('image parts outside user messages, and image parts without an image_url object, are 400s naming them', async () => {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' },
      body: JSON.stringify({
        model: 'chatml',
        messages: [{ role: 'system', content: [{ type: 'image_url', image_url: { url: pngDataUrl(4, 4) } }] }],
        max_tokens: 4,
      }),
    });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { error: { param: string } }).error.param, 'messages[0].content[0]');
    for (const [imageUrl, param] of [
      [undefined, 'messages[0].content[0].image_url'],
      ['data:image/png;base64,AAAA', 'messages[0].content[0].image_url'],
      [{ url: pngDataUrl(4, 4), detail: 'ultra' }, 'messages[0].content[0].image_url.detail'],
      [{ url: 42 }, 'messages[0].content[0].image_url.url'],
    ] as const) {
      const bad = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' },
        body: JSON.stringify({ model: 'chatml', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: imageUrl }] }], max_tokens: 4 }),
      });
      assert.equal(bad.status, 400, JSON.stringify(imageUrl));
      assert.equal(((await bad.json()) as { error: { param: string } }).error.param, param);
    }
  });

  test('a text-only conversation in content parts is served as before', async () => {
    const ok = await chatWith(gateway.client, 'chatml', [textPart('Hello'), textPart(' there')]);
    assert.equal(ok.choices.length, 1);
  });
});

describe('image_url content parts through the remote plugin', () => {
  let upstream: TestGateway;
  let front: TestGateway;

  before(async () => {
    upstream = await startTestGateway(CONFIG);
    front = await startTestGateway(`
[plugins.remote]

[api.models.vision]
backend = "remote"
type = "chat"
upstreams = ["${upstream.url}/v1"]
upstream_model = "chatml"
`);
  });

  after(async () => {
    await front?.close();
    await upstream?.close();
  });

  test("image parts go on to the upstream as they came: its model's refusal names the same part", async () => {
    await assert.rejects(
      chatWith(front.client, 'vision', [textPart('What is this?'), imagePart(pngDataUrl(8, 8), 'high'), textPart('Be brief.')]),
      badRequest('messages[0].content[1]', 'unsupported_parameter', /does not accept image input/),
    );
    const served = upstream.logs.filter((line) => line.msg === 'request' && line.path === '/v1/chat/completions');
    assert.equal(served.length, 1, 'the upstream got the request');
    assert.equal(served[0].status, 400);
  });

  test('a bad image is refused by the front gateway, before anything reaches the upstream', async () => {
    const before = upstream.logs.filter((line) => line.msg === 'request').length;
    await assert.rejects(
      chatWith(front.client, 'vision', [imagePart('data:text/plain;base64,aGVsbG8=')]),
      badRequest('messages[0].content[0].image_url.url', 'invalid_image'),
    );
    assert.equal(upstream.logs.filter((line) => line.msg === 'request').length, before);
  });
});

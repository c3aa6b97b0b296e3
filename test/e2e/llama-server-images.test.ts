// Image prompts on a llama-server model with a vision projector (`mmproj`), through a listening
// gateway with the official openai SDK: the image reaches the engine, its tokens are counted
// before generation (16 an image with the tiny projector), exactly as the engine evaluates them,
// so the context budget refuses an image prompt that does not fit with a 400, not a 500 of the
// engine. Several images, adjacent images after a cached prompt (llama-server's "Chunk not found"),
// the same image again, streaming and not. Models without a projector keep their 400.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { noLlamaServer } from '../helpers/llama-server-spawn.js';
import { models, sharedModels } from '../helpers/paths.js';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.js';
import { writeThinkingModel } from '../helpers/thinking-model.js';
import { writeTinyMmproj, type TinyMmproj } from '../helpers/tiny-mmproj.js';
import { pngDataUrl, tinyPng } from '../helpers/tiny-png.js';

const skip = noLlamaServer || (existsSync(sharedModels) ? false : `no test models at ${sharedModels}`);

const CONTEXT = 256;
/** stories260K's vocabulary adds <s> at the start of a prompt. */
const BOS = 1;

function config(mmproj: string): string {
  return `
[api.models.vision]
path = "${models.storiesChatml}"
type = "chat"
backend = "llama-server"
mmproj = "${mmproj}"
context_length = ${CONTEXT}
parallel = 1
threads = 1

[api.models.blind]
path = "${models.storiesChatml}"
type = "chat"
backend = "llama-server"
context_length = ${CONTEXT}
parallel = 1
threads = 1

[api.models.in-process]
path = "${models.storiesChatml}"
type = "chat"
backend = "llama"
context_length = ${CONTEXT}
parallel = 1
threads = 1
`;
}

type Part = OpenAI.Chat.ChatCompletionContentPart;
const image = (url: string): Part => ({ type: 'image_url', image_url: { url } });
const text = (value: string): Part => ({ type: 'text', text: value });

/** The fixture's ChatML template around one user message whose text parts are `segments`, the images between them. */
function chatmlSegments(segments: string[]): string[] {
  const rendered = [...segments];
  rendered[0] = `<|im_start|>user\n${rendered[0]}`;
  rendered[rendered.length - 1] = `${rendered[rendered.length - 1]}<|im_end|>\n<|im_start|>assistant\n`;
  return rendered;
}

function badRequest(param: string | null, code: string | null, message?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof OpenAI.BadRequestError, `expected a 400, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.equal(error.param, param, error.message);
    if (message) assert.match(error.message, message);
    return true;
  };
}

describe('image prompts on a llama-server model with mmproj', { skip }, () => {
  let gateway: TestGateway;
  let projector: TinyMmproj;

  before(async () => {
    projector = await writeTinyMmproj(models.storiesChatml);
    gateway = await startTestGateway(config(projector.file));
  });

  after(async () => {
    await gateway?.close();
  });

  /** Tokens of text as the engine tokenizes a piece of a prompt between images (the text-completion route counts BOS + the piece). */
  async function pieceTokens(piece: string): Promise<number> {
    const answer = await gateway.client.completions.create({ model: 'blind', prompt: piece, max_tokens: 1 });
    return answer.usage!.prompt_tokens - BOS;
  }

  /** BOS, the text pieces between the images, and each image's tokens. */
  async function expectedTokens(segments: string[], images: number): Promise<number> {
    let total = BOS + images * projector.imageTokens;
    for (const piece of chatmlSegments(segments)) if (piece !== '') total += await pieceTokens(piece);
    return total;
  }

  function ask(content: Part[], max_tokens = 4) {
    return gateway.client.chat.completions.create({ model: 'vision', messages: [{ role: 'user', content }], max_tokens, temperature: 0 });
  }

  test('one image, not streamed: answered, and prompt_tokens are the text tokens plus 16 for the image', async (t) => {
    const started = performance.now();
    const answer = await ask([text('Look: '), image(pngDataUrl(32, 32, 1)), text(' What is it?')]);
    const seconds = (performance.now() - started) / 1000;
    assert.equal(answer.choices.length, 1);
    assert.ok(['stop', 'length'].includes(answer.choices[0].finish_reason));
    assert.equal(projector.imageTokens, 16);
    assert.equal(answer.usage!.prompt_tokens, await expectedTokens(['Look: ', ' What is it?'], 1));
    if (answer.choices[0].finish_reason === 'length') assert.equal(answer.usage!.completion_tokens, 4);
    t.diagnostic(`one 32×32 image: ${answer.usage!.prompt_tokens} prompt tokens, ${seconds.toFixed(3)} s`);
  });

  test('one image, streamed: text deltas, then usage with the same count', async () => {
    const content = [text('Look: '), image(pngDataUrl(32, 32, 2)), text(' What is it?')];
    const stream = await gateway.client.chat.completions.create({
      model: 'vision',
      messages: [{ role: 'user', content }],
      max_tokens: 4,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: OpenAI.CompletionUsage | undefined;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      if (chunk.choices[0]?.finish_reason) finish = chunk.choices[0].finish_reason;
    }
    assert.ok(finish === 'stop' || finish === 'length');
    assert.equal(usage?.prompt_tokens, await expectedTokens(['Look: ', ' What is it?'], 1));
  });

  test('two images with text between them: 16 tokens each', async () => {
    const answer = await ask([text('First: '), image(pngDataUrl(32, 32, 3)), text(' then: '), image(pngDataUrl(24, 40, 4)), text(' Compare.')]);
    assert.equal(answer.usage!.prompt_tokens, await expectedTokens(['First: ', ' then: ', ' Compare.'], 2));
  });

  test('adjacent images after a cached prompt are served (a newline goes between them, counted), the second image changing or not', async () => {
    const first = pngDataUrl(32, 32, 5);
    // A prompt with the first image alone, then prompts whose cached prefix ends right after it.
    await ask([text('Pictures: '), image(first), text(' Which?')]);
    const expected = await expectedTokens(['Pictures: ', '\n', ' Which?'], 2);
    for (const second of [pngDataUrl(32, 32, 6), pngDataUrl(32, 32, 7), first, pngDataUrl(32, 32, 6)]) {
      const answer = await ask([text('Pictures: '), image(first), image(second), text(' Which?')]);
      assert.equal(answer.usage!.prompt_tokens, expected);
    }
    // Three in a row, and a prompt whose images are its first part.
    const three = await ask([image(first), image(pngDataUrl(32, 32, 8)), image(first), text('Which?')]);
    assert.equal(three.usage!.prompt_tokens, await expectedTokens(['', '\n', '\n', 'Which?'], 3));
  });

  test('the same request again is served from the prompt cache with the same count', async (t) => {
    const content = [text('Again: '), image(pngDataUrl(32, 32, 9)), text(' Describe.')];
    const seconds = async <T>(work: () => Promise<T>): Promise<[T, string]> => {
      const started = performance.now();
      const result = await work();
      return [result, ((performance.now() - started) / 1000).toFixed(3)];
    };
    const [first, fresh] = await seconds(() => ask(content));
    const [second, cached] = await seconds(() => ask(content));
    t.diagnostic(`an image request: ${fresh} s; the same request again, from the prompt cache: ${cached} s`);
    assert.equal(second.usage!.prompt_tokens, first.usage!.prompt_tokens);
    // The same image twice in one prompt.
    const twice = await ask([text('A: '), image(pngDataUrl(32, 32, 9)), text(' B: '), image(pngDataUrl(32, 32, 9)), text(' Same?')]);
    assert.equal(twice.usage!.prompt_tokens, await expectedTokens(['A: ', ' B: ', ' Same?'], 2));
    // Text alone on the same model, between image prompts, is counted as on a model without a projector.
    const plain = { model: 'vision', messages: [{ role: 'user' as const, content: 'No picture, Describe.' }], max_tokens: 4 };
    const [alone, blind] = [await gateway.client.chat.completions.create(plain), await gateway.client.chat.completions.create({ ...plain, model: 'blind' })];
    assert.equal(alone.usage!.prompt_tokens, blind.usage!.prompt_tokens);
    assert.equal((await ask(content)).usage!.prompt_tokens, first.usage!.prompt_tokens);
  });

  test('an image prompt past the context is a 400 context_length_exceeded counted before generation, not an engine error', async () => {
    const content = [text('Look: '), image(pngDataUrl(32, 32, 10)), text(' What is it?')];
    const prompt = await expectedTokens(['Look: ', ' What is it?'], 1);
    // The exact count decides: the last max_tokens that fits is served, one more is refused naming the count.
    const fits = await ask(content, CONTEXT - prompt);
    assert.equal(fits.usage!.prompt_tokens, prompt);
    await assert.rejects(
      ask(content, CONTEXT - prompt + 1),
      badRequest('messages', 'context_length_exceeded', new RegExp(`\\(${prompt} in the prompt, ${CONTEXT - prompt + 1} for the completion\\)`)),
    );
    // Images alone past the context (8 images of 16 tokens, and text).
    const many = [text('word '.repeat(60)), ...Array.from({ length: 8 }, (_, index) => image(pngDataUrl(32, 32, 20 + index)))];
    await assert.rejects(
      gateway.client.chat.completions.create({ model: 'vision', messages: [{ role: 'user', content: many }] }),
      badRequest('messages', 'context_length_exceeded', /leaves no room for a completion/),
    );
    // The model still serves.
    assert.equal((await ask(content)).usage!.prompt_tokens, prompt);
  });

  test('an image whose bytes the engine cannot decode is a 400 naming its part, not a 500', async () => {
    const truncated = tinyPng(32, 32, 11).subarray(0, 60);
    await assert.rejects(
      ask([text('Look: '), image(pngDataUrl(32, 32, 12)), text(' and '), image(`data:image/png;base64,${truncated.toString('base64')}`)]),
      badRequest('messages[0].content[3]', 'invalid_image', /could not be decoded/),
    );
    const webp = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WEBPVP8 '), Buffer.alloc(8)]);
    await assert.rejects(ask([image(`data:image/webp;base64,${webp.toString('base64')}`)]), badRequest('messages[0].content[0]', 'invalid_image'));
    // The model still serves.
    assert.equal((await ask([text('Look: '), image(pngDataUrl(32, 32, 12))])).choices.length, 1);
  });

  test('a remote image URL stays refused on a model with mmproj', async () => {
    await assert.rejects(ask([image('https://example.com/cat.png')]), badRequest('messages[0].content[0].image_url.url', 'unsupported_parameter', /data URL/));
  });

  test('a llama-server model without mmproj, and an in-process model, answer a 400 naming the image part', async () => {
    for (const model of ['blind', 'in-process']) {
      await assert.rejects(
        gateway.client.chat.completions.create({ model, messages: [{ role: 'user', content: [text('Look: '), image(pngDataUrl(8, 8))] }], max_tokens: 4 }),
        badRequest('messages[0].content[1]', 'unsupported_parameter', /does not accept image input/),
        model,
      );
    }
  });
});

describe('images on a llama-server model whose template thinks', { skip }, () => {
  let gateway: TestGateway;

  before(async () => {
    const thinkingModel = await writeThinkingModel();
    const projector = await writeTinyMmproj(thinkingModel);
    gateway = await startTestGateway(`
[api.models.vision]
path = "${thinkingModel}"
type = "chat"
backend = "llama-server"
mmproj = "${projector.file}"
context_length = ${CONTEXT}
parallel = 1
threads = 1
`);
  });
  after(() => gateway?.close());

  test('reasoning_effort with an image is refused by name (the image path does not split the thought), not ignored', async () => {
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: [text('Look: '), image(pngDataUrl(32, 32, 3))] }];
    await assert.rejects(
      gateway.client.chat.completions.create({ model: 'vision', messages, max_tokens: 4, reasoning_effort: 'low' }),
      badRequest('reasoning_effort', 'unsupported_parameter'),
    );
    // Without it, the image prompt is served.
    const answer = await gateway.client.chat.completions.create({ model: 'vision', messages, max_tokens: 4 });
    assert.equal(answer.choices.length, 1);
  });
});

// The tiny vision projector fixture (test/helpers/tiny-mmproj.ts) against a real llama-server:
// it loads beside the text model it was made for, an image prompt is answered, and each image
// takes the fixture's number of prompt tokens. A projector for another embedding length is
// refused at load. Runs when SWITCHYARD_LLAMA_SERVER names a llama-server binary; skipped otherwise.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { models } from '../helpers/paths.js';
import { freeLoopbackPort } from '../../src/backends/llama-server/loopback-port.js';
import { writeTinyMmproj, type TinyMmproj } from '../helpers/tiny-mmproj.js';
import { pngDataUrl } from '../helpers/tiny-png.js';
import { waitFor } from '../helpers/wait-for.js';

const binary = process.env.SWITCHYARD_LLAMA_SERVER;
const skip = binary && existsSync(binary) ? false : 'SWITCHYARD_LLAMA_SERVER does not name a llama-server binary';

interface Server {
  child: ChildProcess;
  url: string;
  output: () => string;
}

async function startLlamaServer(model: string, mmproj: string): Promise<Server> {
  const port = await freeLoopbackPort();
  const child = spawn(
    binary!,
    ['-m', model, '--mmproj', mmproj, '--host', '127.0.0.1', '--port', String(port), '-t', '1', '-c', '512', '-np', '1', '--no-webui'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, url: `http://127.0.0.1:${port}`, output: () => output };
}

async function stop(server: Server | undefined): Promise<void> {
  if (!server || server.child.exitCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  await exited;
}

async function promptTokens(server: Server, content: unknown[]): Promise<number> {
  const response = await fetch(`${server.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content }], max_tokens: 4, temperature: 0 }),
  });
  const body = (await response.json()) as { usage?: { prompt_tokens: number }; choices?: unknown[] };
  assert.equal(response.status, 200, JSON.stringify(body));
  assert.equal(body.choices?.length, 1);
  return body.usage!.prompt_tokens;
}

describe('the tiny vision projector fixture in llama-server', { skip }, () => {
  let projector: TinyMmproj;
  let server: Server | undefined;

  before(async () => {
    projector = await writeTinyMmproj(models.stories);
    server = await startLlamaServer(models.stories, projector.file);
    await waitFor(
      async () => {
        if (server!.child.exitCode !== null) throw new Error(`llama-server exited: ${server!.output().slice(-2000)}`);
        return (await fetch(`${server!.url}/health`).catch(() => undefined))?.ok === true;
      },
      60_000,
      'llama-server to be ready',
    );
  });

  after(async () => {
    await stop(server);
  });

  test('it loads as a vision projector, and a chat with images is answered', async () => {
    assert.equal(projector.projectionDim, 64, "stories260K's embedding length");
    const props = (await (await fetch(`${server!.url}/props`)).json()) as { modalities?: { vision?: boolean } };
    assert.equal(props.modalities?.vision, true);
    const text = { type: 'text', text: 'What is in this picture?' };
    const image = { type: 'image_url', image_url: { url: pngDataUrl(40, 40) } };
    const withOne = await promptTokens(server!, [text, image]);
    // Text between the images: two adjacent images trip llama-server's prompt cache on a later request.
    const withTwo = await promptTokens(server!, [text, image, { type: 'text', text: '\n' }, image]);
    assert.ok(withOne > (await promptTokens(server!, [text])));
    assert.ok(withTwo - withOne >= projector.imageTokens, `${withTwo} - ${withOne} tokens for one more image of ${projector.imageTokens}`);
  });

  test('a projector made for another embedding length is refused at load', async () => {
    const other = await writeTinyMmproj(models.tinyRandomLlama);
    assert.equal(other.projectionDim, 8);
    const mismatched = await startLlamaServer(models.stories, other.file);
    const code = await new Promise((resolve) => mismatched.child.once('exit', resolve));
    assert.notEqual(code, 0);
    assert.match(mismatched.output(), /mismatch between text model \(n_embd = 64\) and mmproj \(n_embd = 8\)/);
  });
});

// The plugin API end to end: a test plugin (test/fixtures/plugins/echo-plugin.ts) registering a
// backend, hooks that reject, rewrite and transform, and a route; config errors of plugins naming
// the file and key; the first-party audit-log plugin writing its lines.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { pino } from 'pino';
import { ConfigError } from '../../src/config/load-config.js';
import { parseConfigWithPlugins } from '../../src/plugins/plugin-loader.js';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.js';

const ECHO_PLUGIN = path.resolve('dist/test/fixtures/plugins/echo-plugin.js');
const KEY = 'sk-plugin-tests-key';
const silent = pino({ level: 'silent' });

async function problemOf(source: string): Promise<string> {
  try {
    const { plugins } = await parseConfigWithPlugins(source, 'config.toml', silent);
    await plugins.close();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.message;
  }
  assert.fail('expected the config to be rejected');
}

describe('plugin API', () => {
  let gateway: TestGateway;
  let auditFile: string;
  before(async () => {
    auditFile = path.join(await mkdtemp(path.join(os.tmpdir(), 'switchyard-audit-')), 'audit.jsonl');
    gateway = await startTestGateway(
      `
[api]
require_auth = true
[[api.keys]]
name = "team-a"
key = "${KEY}"

[plugins.echo]
path = "${ECHO_PLUGIN}"
greeting = "hi there"

[plugins.audit-log]
file = "${auditFile}"
include_content = true
redact = ["sk-[A-Za-z0-9]{6,}", "\\\\b\\\\d{4}-\\\\d{4}\\\\b"]

[api.models.parrot]
backend = "echo"
type = "chat"
echo_prefix = "you said: "
`,
      { apiKey: KEY },
    );
  });
  after(() => gateway.close());

  test('a plugin backend serves a model with its own model key; path is not required', async () => {
    const [model] = (await gateway.client.models.list()).data as Array<
      OpenAI.Model & { metadata: { backend: string; status: string; details: { prefix: string } } }
    >;
    assert.equal(model.id, 'parrot');
    assert.equal(model.metadata.backend, 'echo');
    assert.equal(model.metadata.status, 'ready');
    assert.equal(model.metadata.details.prefix, 'you said: ');
    const completion = await gateway.client.chat.completions.create({ model: 'parrot', messages: [{ role: 'user', content: 'good morning' }] });
    assert.equal(completion.choices[0].message.content, 'you said: good morning');
    assert.deepEqual(completion.usage, { prompt_tokens: 2, completion_tokens: 4, total_tokens: 6 });
    // afterResponse replaced the body of a non-streamed response.
    assert.equal((completion as unknown as { echo_greeting: string }).echo_greeting, 'hi there');
  });

  test('onStreamChunk sees and transforms every frame', async () => {
    const stream = await gateway.client.chat.completions.create({
      model: 'parrot',
      messages: [{ role: 'user', content: 'one two' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let frames = 0;
    for await (const chunk of stream) {
      frames++;
      assert.equal((chunk as unknown as { echo_seen: boolean }).echo_seen, true);
      text += chunk.choices[0]?.delta?.content ?? '';
    }
    assert.equal(text, 'you said: one two');
    assert.ok(frames >= 5);
  });

  test('beforeRequest rejects with the GatewayError it throws (403, 400 naming the param)', async () => {
    await assert.rejects(
      gateway.client.chat.completions.create({ model: 'parrot', messages: [{ role: 'user', content: 'x' }], user: 'blocked' }),
      (error: unknown) => {
        assert.ok(error instanceof OpenAI.PermissionDeniedError);
        assert.equal(error.status, 403);
        assert.match(error.message, /blocked by the echo plugin/);
        return true;
      },
    );
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'parrot', messages: [{ role: 'user', content: 'x' }], user: 'bad' }),
    });
    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), {
      error: { message: "The echo plugin refuses user 'bad'.", type: 'invalid_request_error', param: 'user', code: 'echo_refused' },
    });
  });

  test('beforeRequest may rewrite the body before it is validated and served', async () => {
    const completion = await gateway.client.chat.completions.create({
      model: 'parrot',
      messages: [{ role: 'user', content: 'quiet please' }],
      rewrite: 'shout',
    } as never);
    assert.equal((completion as OpenAI.ChatCompletion).choices[0].message.content, 'you said: QUIET PLEASE');
  });

  test("a plugin's routes are mounted after authentication", async () => {
    assert.equal((await fetch(`${gateway.url}/v1/echo/stats`)).status, 401);
    const response = await fetch(`${gateway.url}/v1/echo/stats`, { headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(response.status, 200);
    const stats = (await response.json()) as { greeting: string; statuses: Record<string, number> };
    assert.equal(stats.greeting, 'hi there');
    assert.ok(stats.statuses['200'] >= 3 && stats.statuses['403'] === 1 && stats.statuses['400'] === 1, JSON.stringify(stats));
    const said = await fetch(`${gateway.url}/v1/echo/say`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: '{"text":"ok"}',
    });
    assert.deepEqual(await said.json(), { said: 'ok' });
    const wrongMethod = await fetch(`${gateway.url}/v1/echo/say`, { headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(wrongMethod.status, 405);
  });

  test('audit-log writes one JSON line per request, with redacted content', async () => {
    await gateway.client.chat.completions.create({ model: 'parrot', messages: [{ role: 'user', content: 'my key is sk-secret123 and pin 1234-5678' }] });
    const stream = await gateway.client.chat.completions.create({
      model: 'parrot',
      messages: [{ role: 'user', content: 'streamed sk-abcdefgh' }],
      stream: true,
    });
    for await (const _chunk of stream) void _chunk;
    // Lines are written on the next turns of the event loop: wait for them.
    let lines: Array<Record<string, unknown>> = [];
    for (let attempt = 0; attempt < 50; attempt++) {
      lines = (await readFile(auditFile, 'utf8').catch(() => ''))
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      if (lines.length >= 7) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(lines.length >= 7, `${lines.length} lines`);
    for (const line of lines) {
      assert.match(String(line.time), /^\d{4}-\d\d-\d\dT/);
      assert.equal(typeof line.request_id, 'string');
      assert.equal(line.key, 'team-a');
      assert.equal(line.model, 'parrot');
      assert.equal(typeof line.duration_ms, 'number');
    }
    const rejected = lines.find((line) => line.status === 403)!;
    assert.deepEqual(rejected.error, { type: 'permission_error', code: 'permission_denied' });
    const secret = lines.find((line) => JSON.stringify(line.prompt).includes('my key is'))!;
    assert.equal(secret.status, 200);
    assert.equal(secret.prompt_tokens, 7);
    assert.equal(secret.completion_tokens, 9);
    assert.deepEqual(secret.prompt, [{ role: 'user', content: 'my key is [REDACTED] and pin [REDACTED]' }]);
    assert.equal(secret.output, 'you said: my key is [REDACTED] and pin [REDACTED]');
    const streamed = lines.find((line) => line.stream === true && JSON.stringify(line.prompt).includes('streamed'))!;
    assert.equal(streamed.output, 'you said: streamed [REDACTED]');
    assert.ok(!(await readFile(auditFile, 'utf8')).includes('sk-secret123'));
  });
});

describe('plugins and reloads', () => {
  test('a reload validates against the running plugins; [plugins] changes wait for the next start', async () => {
    const config = (prefix: string, greeting: string) => `
[api]
require_auth = true
api_key = "${KEY}"
watch_config = false

[plugins.echo]
path = "${ECHO_PLUGIN}"
greeting = "${greeting}"

[api.models.parrot]
backend = "echo"
type = "chat"
echo_prefix = "${prefix}"
`;
    const gateway = await startTestGateway(config('one: ', 'hello'), { apiKey: KEY });
    try {
      await writeFile(gateway.configFile, config('two: ', 'changed'));
      const reload = await fetch(`${gateway.url}/v1/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${KEY}` } });
      assert.equal(reload.status, 200);
      assert.deepEqual(((await reload.json()) as { changed: string[] }).changed, ['parrot']);
      const completion = await gateway.client.chat.completions.create({ model: 'parrot', messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(completion.choices[0].message.content, 'two: hi', 'the changed model reloaded with its new plugin key');
      assert.equal((completion as unknown as { echo_greeting: string }).echo_greeting, 'hello', 'the plugin keeps the options it started with');
      assert.ok(gateway.logs.some((line) => line.msg === 'changes to [plugins] take effect at the next start'));
      await writeFile(gateway.configFile, config('two: ', 'changed').replace('echo_prefix', 'echo_prefx'));
      const rejected = await fetch(`${gateway.url}/v1/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${KEY}` } });
      assert.equal(rejected.status, 400);
      assert.match(
        ((await rejected.json()) as { error: { message: string } }).error.message,
        /api\.models\.parrot\.echo_prefx: unknown key "echo_prefx" \(did you mean "echo_prefix"\?\)/,
      );
    } finally {
      await gateway.close();
    }
  });
});

describe('plugin config errors name the file and key', () => {
  const echo = (options = '') => `[plugins.echo]\npath = "${ECHO_PLUGIN}"\n${options}`;

  test("an option of the wrong type is checked by the plugin's schema", async () => {
    assert.equal(await problemOf(echo('greeting = 3\n')), 'config.toml:3: plugins.echo.greeting: expected a string, found the integer 3');
  });

  test('an unknown option gets a did-you-mean', async () => {
    assert.match(
      await problemOf(echo('greetng = "x"\n')),
      /^config\.toml:3: plugins\.echo\.greetng: unknown key "greetng" \(did you mean "greeting"\?\); allowed here: greeting, blocked_user$/,
    );
  });

  test('a path that does not load', async () => {
    assert.match(
      await problemOf('[plugins.mine]\npath = "./no-such-plugin.js"\n'),
      /^config\.toml:2: plugins\.mine\.path: cannot load the plugin: file not found: .*no-such-plugin\.js$/,
    );
  });

  test('a module that is not a plugin', async () => {
    assert.match(
      await problemOf(`[plugins.mine]\npath = "${path.resolve('dist/src/errors.js')}"\n`),
      /plugins\.mine\.path: the module does not export a plugin/,
    );
  });

  test('an unknown first-party name', async () => {
    assert.match(await problemOf('[plugins.remot]\n'), /^config\.toml:1: plugins\.remot: unknown plugin "remot" \(did you mean "remote"\?\)/);
  });

  test('a first-party option error (audit-log)', async () => {
    assert.equal(
      await problemOf('[plugins.audit-log]\nmax_bytes = "10MB"\n'),
      'config.toml:2: plugins.audit-log.max_bytes: expected a number, found the string "10MB"',
    );
    assert.match(await problemOf('[plugins.audit-log]\nredact = ["(unclosed"]\n'), /plugins\.audit-log\.redact\.0: a valid regular expression/);
  });

  test('backend names the built-in and plugin backends', async () => {
    assert.equal(
      await problemOf(`${echo()}[api.models.x]\nbackend = "ecoh"\ntype = "chat"\n`),
      'config.toml:4: api.models.x.backend: expected one of llama, llama-server, onnx, echo (from plugin echo), found the string "ecoh"',
    );
    // Without [plugins.remote], its keys are unknown too; the backend's problem says what to enable.
    const disabled = (await problemOf(`[api.models.x]\nbackend = "remote"\ntype = "chat"\nupstreams = ["http://127.0.0.1:1/v1"]\n`)).split('\n');
    assert.ok(
      disabled.includes(
        'config.toml:2: api.models.x.backend: expected one of llama, llama-server, onnx, found the string "remote" (enable the plugin that provides it with [plugins.remote])',
      ),
      disabled.join('\n'),
    );
    assert.equal(
      await problemOf(`[plugins.remote]\n[api.models.x]\nbackend = "remot"\ntype = "chat"\n`),
      'config.toml:3: api.models.x.backend: expected one of llama, llama-server, onnx, remote (from plugin remote), found the string "remot"',
    );
  });

  test("a plugin backend's model keys: required ones, and only on its models", async () => {
    assert.equal(
      await problemOf(`${echo()}[api.models.x]\nbackend = "echo"\ntype = "chat"\n`),
      'config.toml:3: api.models.x.echo_prefix: expected a string, found nothing',
    );
    assert.equal(
      await problemOf(`${echo()}[api.models.x]\npath = "a.gguf"\ntype = "chat"\necho_prefix = "p"\n`),
      'config.toml:6: api.models.x.echo_prefix: applies only to models with backend = "echo", found no backend (its path and type make it a llama-server model)',
    );
    assert.equal(
      await problemOf(`[plugins.remote]\n[api.models.x]\nbackend = "remote"\ntype = "chat"\n`),
      'config.toml:2: api.models.x.upstreams: expected an array, found nothing',
    );
    assert.equal(
      await problemOf(`[plugins.remote]\n[api.models.x]\nbackend = "remote"\ntype = "chat"\nupstreams = ["ftp://x"]\n`),
      'config.toml:5: api.models.x.upstreams.0: expected an http:// or https:// URL such as "http://10.0.0.2:8080/v1", found the string "ftp://x"',
    );
    // Local models still need their path.
    assert.equal(await problemOf(`[plugins.remote]\n[api.models.x]\ntype = "chat"\n`), 'config.toml:2: api.models.x.path: expected a string, found nothing');
  });

  test('switchyard validate exits 2 with the plugin error', async () => {
    const directory = await mkdtemp(path.join(os.tmpdir(), 'switchyard-plugin-validate-'));
    const file = path.join(directory, 'config.toml');
    await writeFile(file, `[plugins.audit-log]\nfile = "audit.jsonl"\nmax_files = 0\n`);
    const result = spawnSync(process.execPath, ['dist/src/cli.cjs', 'validate', '--config', file], { encoding: 'utf8' });
    assert.equal(result.status, 2);
    assert.match(
      result.stderr,
      new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:3: plugins\\.audit-log\\.max_files: expected a value >= 1, found the integer 0`),
    );
    await writeFile(file, `[plugins.remote]\n[api.models.far]\nbackend = "remote"\ntype = "chat"\nupstreams = ["http://127.0.0.1:9/v1"]\n`);
    const valid = spawnSync(process.execPath, ['dist/src/cli.cjs', 'validate', '--config', file], { encoding: 'utf8' });
    assert.equal(valid.status, 0, valid.stderr);
    assert.match(valid.stdout, /far\s+chat\s+remote\s+-\s+ok/);
  });
});

// Nothing to read without the right key (issue 13, rows 5 and 9): public /health and /ready give
// statuses only; model files resolve inside their folder and their contents never reach a reason;
// a reload names the models that failed; config errors never echo a secret. Real ONNX engine.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { models } from '../helpers/paths.js';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.js';

const ADMIN = 'sk-admin-disclosure-0000';
const USER = 'sk-user-disclosure-1111';
/** A raw key someone pasted where its SHA-256 belongs. */
const MISPLACED_KEY = 'sk-live-0123456789abcdef0123456789abcdef0123456789abcdef99';

const EMBED_FILES = ['model.onnx', 'tokenizer.json', 'config.json', 'special_tokens_map.json'];

/** A copy of the tiny embedding model whose tokenizer_config.json is a link to another file. */
async function folderLinkingTo(folder: string, outside: string): Promise<void> {
  await mkdir(folder, { recursive: true });
  for (const file of EMBED_FILES) await copyFile(path.join(models.embedOnnx, file), path.join(folder, file));
  await symlink(outside, path.join(folder, 'tokenizer_config.json'));
}

function config(scratch: string, extra = ''): string {
  return `
[api]
require_auth = true
api_key = "${ADMIN}"
watch_config = false

[[api.keys]]
name = "user"
key = "${USER}"

[api.models.linked]
path = "${path.join(scratch, 'linked')}"
type = "embedding"
intra_op_threads = 1

[api.models.escaping]
path = "${path.join(scratch, 'escaping')}"
type = "embedding"
file = "../outside/secret.onnx"
intra_op_threads = 1

[api.models.missing]
path = "${path.join(scratch, 'no-such-model.gguf')}"
type = "chat"
${extra}`;
}

async function getJson(url: string, key?: string): Promise<{ status: number; text: string; body: Record<string, unknown> }> {
  const response = await fetch(url, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  const text = await response.text();
  return { status: response.status, text, body: JSON.parse(text) as Record<string, unknown> };
}

describe('disclosure without a key', () => {
  let scratch: string;
  let gateway: TestGateway;
  before(async () => {
    scratch = await mkdtemp(path.join(os.tmpdir(), 'switchyard-disclosure-'));
    await folderLinkingTo(path.join(scratch, 'linked'), '/etc/passwd');
    await folderLinkingTo(path.join(scratch, 'escaping'), path.join(models.embedOnnx, 'tokenizer_config.json'));
    await mkdir(path.join(scratch, 'outside'));
    await writeFile(path.join(scratch, 'outside', 'secret.onnx'), 'not a graph: a file outside the model folder\n');
    gateway = await startTestGateway(config(scratch), { apiKey: ADMIN });
  });
  after(async () => {
    await gateway.close();
    await rm(scratch, { recursive: true, force: true });
  });

  test('public /health and /ready give statuses only: no path, no file content', async () => {
    for (const route of ['/health', '/v1/health', '/ready']) {
      const { text, body } = await getJson(`${gateway.url}${route}`);
      assert.doesNotMatch(text, /root:x|\/etc\/|switchyard-disclosure|no-such-model|reason":"[^"]*\//, `${route}: ${text}`);
      const models = body.models as Record<string, Record<string, unknown>>;
      for (const id of ['linked', 'escaping', 'missing']) assert.deepEqual(Object.keys(models[id]).sort(), ['status', 'type'], `${route} ${id}`);
      assert.equal(models.linked.status, 'unavailable');
      // A wrong key is just an anonymous caller there.
      const wrong = await getJson(`${gateway.url}${route}`, 'sk-wrong-key');
      assert.equal(wrong.text.includes('reason":"failed'), false);
    }
  });

  test('an admin key on /health reads the full reasons; the model files stayed in their folders', async () => {
    const { body } = await getJson(`${gateway.url}/health`, ADMIN);
    const models = body.models as Record<string, { reason?: string }>;
    assert.match(models.linked.reason ?? '', /tokenizer_config\.json.*outside the model folder/);
    assert.match(models.escaping.reason ?? '', /secret\.onnx.*outside the model folder/);
    assert.match(models.missing.reason ?? '', /no-such-model\.gguf/);
    assert.doesNotMatch(JSON.stringify(body), /root:x/);
    assert.doesNotMatch(JSON.stringify(gateway.logs), /root:x/, 'nor does the log quote the linked file');
  });

  test('/v1/models: a user key reads what kind of failure, an admin key the full reason', async () => {
    const asUser = await getJson(`${gateway.url}/v1/models/linked`, USER);
    assert.equal((asUser.body.metadata as Record<string, unknown>).reason, 'failed to load');
    assert.doesNotMatch(asUser.text, /\/etc\/|switchyard-disclosure/);
    const missing = await getJson(`${gateway.url}/v1/models/missing`, USER);
    assert.equal((missing.body.metadata as Record<string, unknown>).reason, 'model files missing or not recognised');
    const asAdmin = await getJson(`${gateway.url}/v1/models/linked`, ADMIN);
    assert.match(String((asAdmin.body.metadata as Record<string, unknown>).reason), /switchyard-disclosure/);
    // A request for an unavailable model is a 503 that names no path either.
    const response = await fetch(`${gateway.url}/v1/embeddings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${USER}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'linked', input: 'x' }),
    });
    assert.equal(response.status, 503);
    assert.doesNotMatch(await response.text(), /\/etc\/|switchyard-disclosure/);
  });

  test('a reload that makes models fail names them and why', async () => {
    await writeFile(gateway.configFile, config(scratch, `\n[api.models.added-missing]\npath = "${path.join(scratch, 'gone.gguf')}"\ntype = "chat"\n`));
    const response = await fetch(`${gateway.url}/v1/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(response.status, 200);
    const summary = (await response.json()) as { added: string[]; failed: Array<{ id: string; reason: string }> };
    assert.deepEqual(summary.added, ['added-missing']);
    assert.deepEqual(
      summary.failed.map((failure) => failure.id),
      ['added-missing'],
    );
    assert.match(summary.failed[0].reason, /gone\.gguf/);
  });

  test('a raw key in key_sha256 is never echoed: not by reload, not in the log, not by `validate`', async () => {
    const misplaced = config(scratch, `\n[[api.keys]]\nname = "pasted"\nkey_sha256 = "${MISPLACED_KEY}"\n`);
    await writeFile(gateway.configFile, misplaced);
    const response = await fetch(`${gateway.url}/v1/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(response.status, 400);
    const text = await response.text();
    assert.match(text, /key_sha256: expected 64 hexadecimal digits, found a string of 58 characters \(redacted\)/);
    // Not even a prefix of it.
    assert.equal(text.includes(MISPLACED_KEY.slice(0, 12)), false, text);
    assert.equal(JSON.stringify(gateway.logs).includes(MISPLACED_KEY.slice(0, 12)), false);

    const validated = await promisify(execFile)(process.execPath, ['dist/src/cli.cjs', 'validate', '--config', gateway.configFile]).catch(
      (error: { stdout: string; stderr: string }) => error,
    );
    const output = `${validated.stdout}${validated.stderr}`;
    assert.match(output, /\(redacted\)/);
    assert.equal(output.includes(MISPLACED_KEY.slice(0, 12)), false, output);
  });
});

describe('paths and addresses in /v1/models metadata', () => {
  let upstream: TestGateway;
  let gateway: TestGateway;
  const embedModel = `path = "${models.embedOnnx}"\ntype = "embedding"\nexecution_providers = ["cpu"]\nintra_op_threads = 1\n`;
  before(async () => {
    upstream = await startTestGateway(`[api.models.embed]\n${embedModel}`);
    // Without require_auth: anonymous requests read the listing as a user key does.
    gateway = await startTestGateway(`
[api]
require_auth = false
api_key = "${ADMIN}"

[[api.keys]]
name = "user"
key = "${USER}"

[plugins.remote]

[api.models.local]
${embedModel}
[api.models.far]
backend = "remote"
type = "embedding"
upstreams = ["${upstream.url}/v1"]
upstream_model = "embed"
`);
  });
  after(async () => {
    await gateway.close();
    await upstream.close();
  });

  const upstreamAddress = () => new URL(upstream.url).host;

  test('a user key and an anonymous caller read no model file path and no upstream address', async () => {
    for (const key of [USER, undefined]) {
      for (const route of ['/v1/models', '/v1/models/local', '/v1/models/far']) {
        const { status, text } = await getJson(`${gateway.url}${route}`, key);
        assert.equal(status, 200, text);
        assert.equal(text.includes(models.embedOnnx), false, `${route} shows the model's path: ${text}`);
        assert.equal(text.includes(upstreamAddress()), false, `${route} shows the upstream's address: ${text}`);
      }
      const { body } = await getJson(`${gateway.url}/v1/models/far`, key);
      const details = (body.metadata as { details: { upstreams: Array<{ status: string }> } }).details;
      assert.deepEqual(
        details.upstreams.map((entry) => entry.status),
        ['up'],
        "the upstreams' statuses stay",
      );
    }
  });

  test('an admin key reads the model file and the upstream URLs', async () => {
    const local = (await getJson(`${gateway.url}/v1/models/local`, ADMIN)).body.metadata as { details: { file: string } };
    assert.equal(local.details.file, path.join(models.embedOnnx, 'model.onnx'));
    const far = (await getJson(`${gateway.url}/v1/models/far`, ADMIN)).body.metadata as { details: { upstreams: Array<{ url: string; status: string }> } };
    assert.deepEqual(
      far.details.upstreams.map((entry) => [entry.url, entry.status]),
      [[`${upstream.url}/v1`, 'up']],
    );
  });
});

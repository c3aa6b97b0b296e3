import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { ConfigError, loadConfigFile, parseConfig, sha256Of } from '../../src/config/load-config.js';
import { locateKey } from '../../src/config/key-location.js';
import { applyEngineFallback } from '../../src/config/engine-fallback.js';
import TOML from '@iarna/toml';

/** A llama-server binary that runs wherever the tests do (/bin/sh), so that no test depends on whether the install step built one. */
const someBinary = () => ({ path: '/bin/sh', source: 'environment' as const });

// The example from the design notes: operators already use this format, so it must load verbatim.
const DESIGN_EXAMPLE = `[api]
enabled = true
address = "127.0.0.1:8080"
# address = "0.0.0.0:8080"      # for external access
api_key = "sk-your-secret-key"
require_auth = true
max_requests_per_minute = 60
max_tokens_per_minute = 100000
cors_enabled = true
cors_origins = ["http://localhost:3000"]

[api.models.my-chat-model]
path = "/models/chat-model-v1"
type = "chat"
context_length = 4096
default_temperature = 0.7

[api.models.my-embedding-model]
path = "/models/embedding-model-v1"
type = "embedding"
dimensions = 768

[api.models.my-completion-model]
path = "/models/completion-model-v1"
type = "completion"
context_length = 2048
`;

function problemOf(source: string): string {
  try {
    parseConfig(source, 'config.toml');
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.message;
  }
  assert.fail('expected the config to be rejected');
}

describe('config loading', () => {
  test('the design example loads verbatim, with defaults filled in', () => {
    const { config, keys } = parseConfig(DESIGN_EXAMPLE, 'config.toml');
    assert.deepEqual(Object.keys(config.api.models), ['my-chat-model', 'my-embedding-model', 'my-completion-model']);
    assert.equal(config.api.models['my-chat-model'].context_length, 4096);
    assert.equal(config.api.models['my-embedding-model'].dimensions, 768);
    assert.equal(config.api.models['my-embedding-model'].normalize, true);
    assert.equal(config.api.models['my-completion-model'].load, 'startup');
    assert.equal(config.api.cors_origins[0], 'http://localhost:3000');
    assert.equal(keys.length, 1);
    assert.equal(keys[0].name, 'default');
    assert.deepEqual(keys[0].sha256, sha256Of('sk-your-secret-key'));
    assert.equal(keys[0].maxRequestsPerMinute, 60);
    assert.equal(keys[0].maxTokensPerMinute, 100000);
    assert.equal(config.logging.level, 'info');
  });

  test('the shipped config.toml is valid', async () => {
    const loaded = await loadConfigFile('config.toml');
    assert.ok(Object.keys(loaded.config.api.models).length > 0);
    assert.equal(loaded.config.api.address, '127.0.0.1:8080');
  });

  test('an empty file gives a working default config', () => {
    const { config } = parseConfig('', 'empty.toml');
    assert.equal(config.api.address, '127.0.0.1:8080');
    assert.deepEqual(config.api.models, {});
  });

  test('a wrong type names file, line, key path, expected and found', () => {
    const message = problemOf(DESIGN_EXAMPLE.replace('context_length = 4096', 'context_length = "4096"'));
    assert.equal(message, 'config.toml:15: api.models.my-chat-model.context_length: expected a number, found the string "4096"');
  });

  test('a value out of range', () => {
    const message = problemOf(DESIGN_EXAMPLE.replace('context_length = 2048', 'context_length = 0'));
    assert.equal(message, 'config.toml:26: api.models.my-completion-model.context_length: expected a value > 0, found the integer 0');
  });

  test('a wrong enum value lists the allowed ones', () => {
    const message = problemOf(DESIGN_EXAMPLE.replace('type = "embedding"', 'type = "embeddings"'));
    assert.match(
      message,
      /^config\.toml:20: api\.models\.my-embedding-model\.type: expected one of "chat", "completion", "embedding", "rerank", found the string "embeddings"$/,
    );
  });

  test('an unknown key is an error with a did-you-mean hint', () => {
    const message = problemOf(DESIGN_EXAMPLE.replace('default_temperature = 0.7', 'default_temprature = 0.7'));
    assert.match(
      message,
      /^config\.toml:16: api\.models\.my-chat-model\.default_temprature: unknown key "default_temprature" \(did you mean "default_temperature"\?\)/,
    );
  });

  test('an unknown top-level table and an unknown [api] key', () => {
    assert.match(problemOf('[apii]\nenabled = true\n'), /^config\.toml:1: apii: unknown key "apii" \(did you mean "api"\?\)/);
    assert.match(problemOf('[api]\nadress = "127.0.0.1:1"\n'), /^config\.toml:2: api\.adress: unknown key "adress" \(did you mean "address"\?\)/);
  });

  test('a TOML syntax error gives line and column', () => {
    const message = problemOf('[api]\nenabled = yes\n');
    assert.match(message, /^config\.toml:2:11: invalid TOML: /);
  });

  test('a missing required key', () => {
    const message = problemOf('[api.models.x]\ntype = "chat"\n');
    assert.equal(message, 'config.toml:1: api.models.x.path: expected a string, found nothing');
  });

  test('a malformed address', () => {
    assert.match(
      problemOf('[api]\naddress = "localhost"\n'),
      /^config\.toml:2: api\.address: expected an address such as "127\.0\.0\.1:8080", found the string "localhost"$/,
    );
  });

  test('several problems are all reported', () => {
    const message = problemOf('[api]\nrequire_auth = "yes"\n[api.models.a]\npath = 3\ntype = "chat"\n');
    assert.equal(message.split('\n').length, 2);
  });

  test('an alias that collides with another model id', () => {
    const message = problemOf('[api.models.a]\npath = "a.gguf"\ntype = "chat"\n[api.models.b]\npath = "b.gguf"\ntype = "chat"\naliases = ["a"]\n');
    assert.match(message, /^config\.toml:7: api\.models\.b\.aliases: the name "a" is already used by model "a"$/);
  });

  test('api_key_env reads the key from the environment', () => {
    process.env.SWITCHYARD_TEST_KEY = 'sk-from-env';
    const { keys } = parseConfig('[api]\nrequire_auth = true\napi_key_env = "SWITCHYARD_TEST_KEY"\n', 'config.toml');
    assert.deepEqual(keys[0].sha256, sha256Of('sk-from-env'));
    delete process.env.SWITCHYARD_TEST_KEY;
    assert.match(
      problemOf('[api]\napi_key_env = "SWITCHYARD_TEST_KEY"\n'),
      /api\.api_key_env: expected the environment variable SWITCHYARD_TEST_KEY to hold the API key, found it unset or empty/,
    );
  });

  test('require_auth without any key is an error', () => {
    assert.match(problemOf('[api]\nrequire_auth = true\n'), /api\.require_auth: require_auth is true but no key is configured/);
  });

  test('[[api.keys]]: literal, env and sha256 keys with their own limits', () => {
    process.env.SWITCHYARD_TEAM_KEY = 'sk-team-secret';
    const digest = sha256Of('sk-hashed-secret').toString('hex');
    const { keys } = parseConfig(
      `[api]\nrequire_auth = true\nmax_requests_per_minute = 5\n[[api.keys]]\nname = "literal"\nkey = "sk-literal-key"\nmodels = ["chat-*"]\n[[api.keys]]\nname = "team"\nkey_env = "SWITCHYARD_TEAM_KEY"\nmax_requests_per_minute = 50\nrole = "admin"\n[[api.keys]]\nname = "hashed"\nkey_sha256 = "${digest}"\n`,
      'config.toml',
    );
    delete process.env.SWITCHYARD_TEAM_KEY;
    assert.deepEqual(
      keys.map((key) => [key.name, key.maxRequestsPerMinute, key.role]),
      [
        ['literal', 5, 'user'],
        ['team', 50, 'admin'],
        ['hashed', 5, 'user'],
      ],
    );
    assert.deepEqual(keys[1].sha256, sha256Of('sk-team-secret'));
    assert.deepEqual(keys[2].sha256, sha256Of('sk-hashed-secret'));
    assert.deepEqual(keys[0].models, ['chat-*']);
  });

  test('a key needs exactly one of key, key_env, key_sha256, and a unique name', () => {
    assert.match(problemOf('[[api.keys]]\nname = "a"\n'), /^config\.toml:2: api\.keys\.0\.name: expected one of key, key_env or key_sha256, found none$/);
    assert.match(problemOf('[[api.keys]]\nname = "a"\nkey = "sk-12345678"\nkey_env = "X"\n'), /found key and key_env/);
    assert.match(
      problemOf('[[api.keys]]\nname = "a"\nkey = "sk-12345678"\n[[api.keys]]\nname = "a"\nkey = "sk-87654321"\n'),
      /^config\.toml:5: api\.keys\.1\.name: the key name "a" is used twice$/,
    );
    assert.match(problemOf('[[api.keys]]\nname = "a"\nkey_sha256 = "abc"\n'), /api\.keys\.0\.key_sha256: expected 64 hexadecimal digits/);
  });

  test('store = "redis" needs redis_url', () => {
    assert.match(problemOf('[api.rate_limit]\nstore = "redis"\n'), /^config\.toml:2: api\.rate_limit\.store: store = "redis" needs redis_url$/);
  });

  test('[api.responses]: a SQLite file beside the config kept 30 days by default; Redis when the limits are in Redis, with their URL and prefix', () => {
    const sqlite = parseConfig('', '/srv/switchyard/config.toml').responseStore;
    assert.deepEqual(sqlite, {
      store: 'sqlite',
      path: '/srv/switchyard/data/responses.sqlite',
      retentionSeconds: 30 * 24 * 3600,
      maxStored: 100_000,
      redisUrl: undefined,
      keyPrefix: 'switchyard',
    });
    const shared = parseConfig('[api.rate_limit]\nstore = "redis"\nredis_url = "redis://cache:6379"\nkey_prefix = "sy"\n', 'config.toml').responseStore;
    assert.equal(shared.store, 'redis');
    assert.equal(shared.redisUrl, 'redis://cache:6379');
    assert.equal(shared.keyPrefix, 'sy');
    // Set explicitly, the store and its Redis settings are its own.
    const own = parseConfig(
      '[api.rate_limit]\nstore = "redis"\nredis_url = "redis://cache:6379"\n[api.responses]\nstore = "sqlite"\npath = "/var/lib/switchyard/r.sqlite"\nretention_hours = 1.5\nmax_stored = 10\n',
      '/srv/config.toml',
    ).responseStore;
    assert.deepEqual(own, {
      store: 'sqlite',
      path: '/var/lib/switchyard/r.sqlite',
      retentionSeconds: 5400,
      maxStored: 10,
      redisUrl: 'redis://cache:6379',
      keyPrefix: 'switchyard',
    });
    const redisOfItsOwn = parseConfig(
      '[api.responses]\nstore = "redis"\nredis_url = "rediss://responses:6380"\nkey_prefix = "r"\n',
      'config.toml',
    ).responseStore;
    assert.deepEqual([redisOfItsOwn.store, redisOfItsOwn.redisUrl, redisOfItsOwn.keyPrefix], ['redis', 'rediss://responses:6380', 'r']);
    assert.equal(parseConfig('[api.responses]\nstore = "memory"\n', 'config.toml').responseStore.store, 'memory');
  });

  test('[api.responses] errors name file, line and key', () => {
    assert.match(
      problemOf('[api.responses]\nstore = "postgres"\n'),
      /^config\.toml:2: api\.responses\.store: expected one of "sqlite", "redis", "memory", found the string "postgres"$/,
    );
    assert.match(
      problemOf('[api.responses]\nretention_hours = 0\n'),
      /^config\.toml:2: api\.responses\.retention_hours: expected a value > 0, found the integer 0$/,
    );
    assert.match(problemOf('[api.responses]\nmax_stored = 1.5\n'), /^config\.toml:2: api\.responses\.max_stored: expected an integer/);
    assert.match(
      problemOf('[api.responses]\nretention = 24\n'),
      /^config\.toml:2: api\.responses\.retention: unknown key "retention" \(did you mean "retention_hours"\?\)/,
    );
    assert.match(
      problemOf('[api.responses]\nstore = "redis"\n'),
      /^config\.toml:2: api\.responses\.store: store = "redis" needs redis_url \(here or in \[api\.rate_limit\]\)$/,
    );
    assert.match(
      problemOf('[api.responses]\nstore = "redis"\nredis_url = "redis://cache:6379"\nmax_stored = 5\n'),
      /^config\.toml:4: api\.responses\.max_stored: max_stored applies to the sqlite and memory stores/,
    );
    assert.match(
      problemOf('[api.responses]\nredis_url = "http://cache"\n'),
      /^config\.toml:2: api\.responses\.redis_url: expected a redis:\/\/ or rediss:\/\/ URL/,
    );
  });

  test('a missing file is a config error naming it', async () => {
    await assert.rejects(loadConfigFile('/nonexistent/config.toml'), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.message, '/nonexistent/config.toml: cannot read the config file: file not found');
      return true;
    });
  });

  test('locateKey handles quoted keys and dotted keys', () => {
    const source = '[api]\n[api.models."my.model"]\npath = "x"\ntype = "chat"\n';
    assert.equal(locateKey(source, ['api', 'models', 'my.model', 'type']), 4);
    assert.equal(locateKey('api.address = 1\n', ['api', 'address']), 1);
  });

  test('the shipped config.toml documents every model and api key in its comments', async () => {
    const source = await readFile('config.toml', 'utf8');
    const { modelSchema, apiSchema } = await import('../../src/config/schema.js');
    for (const key of [...Object.keys(modelSchema.shape), ...Object.keys(apiSchema.shape)]) {
      if (key === 'models') continue;
      assert.ok(source.includes(key), `config.toml should mention ${key}`);
    }
  });

  test('a key pasted into `keys` or a `*_env` field is never echoed; a variable name is', () => {
    const raw = 'sk-live-SUPERSECRET-abcdef0123';
    for (const source of [
      `[api]\nkeys = ["${raw}"]\n`,
      `[api]\nrequire_auth = true\n[[api.keys]]\nname = "a"\nkey_env = "${raw}"\n`,
      `[api]\nrequire_auth = true\napi_key_env = "${raw}"\n`,
    ]) {
      assert.throws(
        () => parseConfig(source, 'config.toml'),
        (error: Error) => error instanceof ConfigError && !error.message.includes('SUPERSECRET') && /\(redacted\)/.test(error.message),
      );
    }
    assert.throws(() => parseConfig('[api]\nrequire_auth = true\napi_key_env = "SWITCHYARD_UNSET_VARIABLE"\n', 'config.toml'), /SWITCHYARD_UNSET_VARIABLE/);
  });
});

describe('config: common keys plus per-backend keys', () => {
  test('the seed config of the design notes is the one tested above, unchanged, and loads', async () => {
    const notes = await readFile('../shared/DESIGN.md', 'utf8');
    const seed = /```toml\n([\s\S]*?)```/.exec(notes)?.[1];
    assert.equal(seed, DESIGN_EXAMPLE);
    const { config } = parseConfig(seed, 'config.toml');
    // Neither path is a .gguf file: both are onnx models, which the common keys fit.
    assert.deepEqual(
      Object.values(config.api.models).map((model) => model.backend),
      ['onnx', 'onnx', 'onnx'],
    );
  });

  test('a llama key on an onnx model is an error naming the file, line, key and both backends', () => {
    assert.equal(
      problemOf('[api.models.embed]\npath = "/models/bge"\nbackend = "onnx"\ntype = "embedding"\ngpu_layers = 10\n'),
      'config.toml:5: api.models.embed.gpu_layers: applies only to models with backend = "llama" or backend = "llama-server", found backend = "onnx"',
    );
    // Without `backend`, the path says which backend the model is, and the message says so.
    assert.equal(
      problemOf('[api.models.embed]\npath = "/models/bge-small-en-v1.5"\ntype = "embedding"\nthreads = 2\n'),
      'config.toml:4: api.models.embed.threads: applies only to models with backend = "llama" or backend = "llama-server", found no backend (its path and type make it an onnx model)',
    );
  });

  test('an onnx key on a .gguf model is an error; a key both declare is allowed on either', () => {
    assert.equal(
      problemOf('[api.models.chat]\npath = "m.gguf"\ntype = "chat"\n\nintra_op_threads = 2\nexecution_providers = ["cpu"]\n').split('\n').sort().join('\n'),
      [
        'config.toml:5: api.models.chat.intra_op_threads: applies only to models with backend = "onnx", found no backend (its path and type make it a llama-server model)',
        'config.toml:6: api.models.chat.execution_providers: applies only to models with backend = "onnx", found no backend (its path and type make it a llama-server model)',
      ].join('\n'),
    );
    const { config } = parseConfig(
      '[api.models.a]\npath = "a.gguf"\ntype = "embedding"\nnormalize = false\n[api.models.b]\npath = "b"\ntype = "embedding"\nnormalize = false\n',
      'config.toml',
    );
    assert.deepEqual([config.api.models.a.normalize, config.api.models.b.normalize], [false, false]);
  });

  test("a backend key's value is checked by its backend's schema, naming file, line and key", () => {
    assert.equal(
      problemOf('[api.models.chat]\npath = "m.gguf"\ntype = "chat"\nparallel = 0\n'),
      'config.toml:4: api.models.chat.parallel: expected a value > 0, found the integer 0',
    );
    assert.equal(
      problemOf('[api.models.e]\npath = "e"\ntype = "embedding"\npooling = "max"\n'),
      'config.toml:4: api.models.e.pooling: expected one of "mean", "cls", "last", found the string "max"',
    );
  });

  test('an unknown key is still an error, with the keys of every backend as suggestions', () => {
    assert.match(
      problemOf('[api.models.chat]\npath = "m.gguf"\ntype = "chat"\ngpu_layer = 3\n'),
      /^config\.toml:4: api\.models\.chat\.gpu_layer: unknown key "gpu_layer" \(did you mean "gpu_layers"\?\); allowed here: .*context_length.*gpu_layers.*execution_providers/,
    );
  });

  test('a .gguf model without a backend: llama-server for chat and completion, in-process for embedding and rerank', () => {
    const { config, notices } = parseConfig(
      ['chat', 'completion', 'embedding', 'rerank'].map((type) => `[api.models.${type}]\npath = "m.gguf"\ntype = "${type}"\n`).join(''),
      'config.toml',
      undefined,
      someBinary,
    );
    assert.deepEqual(
      Object.values(config.api.models).map((model) => model.backend),
      ['llama-server', 'llama-server', 'llama', 'llama'],
    );
    assert.deepEqual(notices, []);
  });

  test('without a llama-server binary, a .gguf chat model that chose no backend runs in-process, and the load says so', () => {
    const source =
      '[api.models.defaulted]\npath = "m.gguf"\ntype = "chat"\nthreads = 2\n' +
      '[api.models.chosen]\npath = "m.gguf"\ntype = "chat"\nbackend = "llama-server"\n' +
      '[api.models.projector]\npath = "m.gguf"\ntype = "chat"\nmmproj = "p.gguf"\n';
    const { config } = parseConfig(source, 'config.toml', undefined, someBinary);
    const notices = applyEngineFallback(config, (TOML.parse(source).api as { models: Record<string, unknown> }).models, '/', () => undefined);
    const { defaulted, chosen, projector } = config.api.models;
    assert.deepEqual(
      [defaulted.backend, defaulted.threads, defaulted.parallel, chosen.backend, projector.backend],
      ['llama', 2, 4, 'llama-server', 'llama-server'],
    );
    assert.ok(!('extra_args' in defaulted), 'the keys only llama-server has are gone');
    assert.deepEqual(
      notices.map((notice) => notice.model),
      ['defaulted'],
    );
    assert.match(
      notices[0].message,
      /runs on the in-process engine \(backend = "llama"\): a \.gguf chat model gets llama-server by default, but no llama-server binary/,
    );
  });

  test("each model gets its backend's defaults and names its backend", () => {
    const { config } = parseConfig(
      '[api.models.chat]\npath = "m.GGUF"\ntype = "chat"\n[api.models.embed]\npath = "folder"\ntype = "embedding"\n[api.models.forced]\npath = "model.bin"\nbackend = "llama"\ntype = "completion"\nthreads = 1\n',
      'config.toml',
      undefined,
      someBinary,
    );
    const { chat, embed, forced } = config.api.models;
    assert.deepEqual(
      [chat.backend, chat.gpu_layers, chat.parallel, chat.max_token_seconds, chat.execution_providers],
      ['llama-server', 'auto', 4, 30, undefined],
    );
    assert.deepEqual(
      [embed.backend, embed.execution_providers, embed.pooling, embed.allow_spinning, embed.gpu_layers],
      ['onnx', ['cuda', 'cpu'], 'mean', false, undefined],
    );
    assert.deepEqual([forced.backend, forced.threads, forced.parallel], ['llama', 1, 4]);
    // The keys every model has keep their defaults whatever the backend.
    assert.deepEqual([chat.max_queue, embed.max_queue, embed.max_batch_size, chat.default_temperature], [64, 64, 32, 0.7]);
  });
});

// Built-in backends and plugin backends are the same kind of thing: a descriptor with a name, its
// own model keys, how it recognises a path and how it loads. The config schema and the factories
// the registry calls treat both through that one shape.
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { z } from 'zod';
import { backendFactories, builtInBackends } from '../../src/backends/index.js';
import { ConfigError, parseConfig } from '../../src/config/load-config.js';
import { modelSchema, type ConfigExtension } from '../../src/config/schema.js';
import { defineBackend, type BackendDescriptor } from '../../src/engine/backend-descriptor.js';
import type { LoadedModel } from '../../src/engine/contract.js';
import { PluginHost } from '../../src/plugins/plugin-host.js';

const loaded: LoadedModel = { info: { device: 'none' }, parallelism: 1, dispose: async () => undefined };

/** A plugin backend that claims `.weights` paths and records what its `load` received. */
function weightsBackend(seen: unknown[]): BackendDescriptor {
  return defineBackend({
    name: 'weights',
    modelOptionsSchema: z.strictObject({ shards: z.number().int().positive().default(1) }),
    requiresPath: true,
    claimsPath: (modelPath) => modelPath.endsWith('.weights'),
    async load({ modelOptions }) {
      seen.push(modelOptions);
      return loaded;
    },
  });
}

function problemOf(source: string, extension?: ConfigExtension): string {
  try {
    parseConfig(source, 'config.toml', extension);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.message;
  }
  assert.fail('expected the config to be rejected');
}

describe('backend descriptors', () => {
  test('built-in and plugin backends are registered through the same descriptor type', () => {
    const plugin = weightsBackend([]);
    const all: BackendDescriptor[] = [...builtInBackends, plugin];
    assert.deepEqual(
      all.map((backend) => backend.name),
      ['llama', 'llama-server', 'onnx', 'weights'],
    );
    for (const backend of all) {
      assert.equal(typeof backend.load, 'function');
      assert.ok(backend.modelOptionsSchema instanceof z.ZodObject, `${backend.name} declares its own keys`);
    }
  });

  test("the config schema checks every backend's keys alike: only on its models, by its own schema", () => {
    const extension: ConfigExtension = { backends: [{ plugin: 'weights-plugin', backend: weightsBackend([]) }] };
    const model = (backend: string, key: string, value: string) =>
      `[api.models.m]\npath = "m"\nbackend = "${backend}"\ntype = "embedding"\n${key} = ${value}\n`;
    // A key of one backend on a model of another: the same message whichever registered them.
    assert.equal(
      problemOf(model('onnx', 'shards', '2'), extension),
      'config.toml:5: api.models.m.shards: applies only to models with backend = "weights", found backend = "onnx"',
    );
    assert.equal(
      problemOf(model('weights', 'pooling', '"cls"'), extension),
      'config.toml:5: api.models.m.pooling: applies only to models with backend = "llama-server" or backend = "onnx", found backend = "weights"',
    );
    // A bad value: the backend's own schema speaks, with the file, line and key.
    assert.equal(problemOf(model('weights', 'shards', '0'), extension), 'config.toml:5: api.models.m.shards: expected a value > 0, found the integer 0');
    assert.equal(
      problemOf(model('onnx', 'allow_spinning', '"yes"'), extension),
      'config.toml:5: api.models.m.allow_spinning: expected a boolean, found the string "yes"',
    );
  });

  test('a plugin backend recognises its paths as the built-in ones do', () => {
    const extension: ConfigExtension = { backends: [{ plugin: 'weights-plugin', backend: weightsBackend([]) }] };
    const { config } = parseConfig(
      '[api.models.a]\npath = "a.weights"\ntype = "chat"\n[api.models.b]\npath = "b.gguf"\ntype = "chat"\n[api.models.c]\npath = "c"\ntype = "rerank"\n' +
        '[api.models.d]\npath = "d.gguf"\ntype = "embedding"\n',
      'config.toml',
      extension,
      // A binary wherever the test runs: without one, b would run in-process (src/config/engine-fallback.ts).
      () => ({ path: '/bin/sh', source: 'environment' }),
    );
    assert.deepEqual(
      Object.values(config.api.models).map((model) => model.backend),
      ['weights', 'llama-server', 'onnx', 'llama'],
    );
    assert.equal((config.api.models.a as Record<string, unknown>).shards, 1);
  });

  test("a plugin backend's factory and a built-in one are made alike: files checked, then load with the model's own keys", async () => {
    const seen: unknown[] = [];
    const logger = pino({ level: 'silent' });
    const host = new PluginHost(logger);
    host.backends.set('weights', { plugin: 'weights-plugin', backend: weightsBackend(seen) });
    const factory = host.backendFactories().weights;
    const config = { ...modelSchema.parse({ path: 'm.weights', type: 'chat' }), backend: 'weights', shards: 3 };
    assert.equal(await factory({ id: 'm', config, resolvedPath: '/m.weights', logger }), loaded);
    assert.deepEqual(seen, [{ shards: 3 }]);

    // The built-in factories go through the same wrapper: a missing file is refused before any engine loads.
    const missing = path.join(await mkdtemp(path.join(os.tmpdir(), 'switchyard-descriptor-')), 'absent.gguf');
    await assert.rejects(
      backendFactories.llama({ id: 'x', config: modelSchema.parse({ path: missing, type: 'chat' }), resolvedPath: missing, logger }),
      /model file not found: .*absent\.gguf/,
    );
    await assert.rejects(
      backendFactories.onnx({ id: 'y', config: modelSchema.parse({ path: missing, type: 'embedding' }), resolvedPath: path.dirname(missing), logger }),
      /lacks an \.onnx file and tokenizer\.json/,
    );
  });
});

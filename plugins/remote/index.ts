// The first-party `remote` plugin: `backend = "remote"` models are served by OpenAI-compatible
// upstreams (other switchyard boxes, vLLM, llama.cpp servers) with least-busy balancing, health
// checks, failover before the first byte and backoff for failing upstreams. Enable it with
// [plugins.remote]; see the README's "Plugins and upstream routing".
import { readSecret } from '../../src/environment.js';
import { definePlugin } from '../../src/plugins/plugin-api.js';
import { remoteModelOptionsSchema, remoteOptionsSchema } from './options.js';
import { RemoteModel } from './remote-model.js';

export default definePlugin({
  name: 'remote',
  optionsSchema: remoteOptionsSchema,
  setup(context) {
    context.registerBackend({
      name: 'remote',
      modelOptionsSchema: remoteModelOptionsSchema,
      requiresPath: false,
      async load({ id, config, modelOptions, logger }) {
        const apiKey = modelOptions.api_key_env === undefined ? undefined : readSecret(modelOptions.api_key_env);
        if (modelOptions.api_key_env !== undefined && apiKey === undefined)
          throw new Error(`the environment variable ${modelOptions.api_key_env} is unset or empty`);
        const model = new RemoteModel({ id, config, modelOptions, pluginOptions: context.options, apiKey, logger });
        await model.start();
        return model;
      },
    });
  },
});

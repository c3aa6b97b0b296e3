// /health and /ready share one notion of "startup done": both answer 503 while the startup models
// load for the first time and 200 afterwards; a later load (on demand after an unload) does not
// count for either. Stand-in engines whose loads the test holds: this checks the HTTP layer only.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { models } from '../helpers/paths.js';
import { standInFactory } from '../helpers/stand-in-backend.js';
import { startTestGateway } from '../helpers/test-gateway.js';
import { waitFor } from '../helpers/wait-for.js';

const ADMIN = 'sk-admin-health-0000';

/** A stand-in engine whose loads wait for the gate open at the time. */
function gatedFactory() {
  const standIn = standInFactory();
  let gate = Promise.resolve();
  let open = () => {};
  const factory: typeof standIn = async (...args) => {
    await gate;
    return standIn(...args);
  };
  return {
    factory,
    close: () => (gate = new Promise<void>((resolve) => (open = resolve))),
    open: () => open(),
  };
}

describe('/health and /ready agree on when startup is done', () => {
  test('both 503 while startup models load, both 200 after, also while a model loads on demand', async () => {
    const gated = gatedFactory();
    gated.close();
    const gateway = await startTestGateway(
      `[api]\napi_key = "${ADMIN}"\n[api.models.first]\npath = "${models.stories}"\ntype = "completion"\n[api.models.second]\npath = "${models.storiesChatml}"\ntype = "chat"\n`,
      { factories: { llama: gated.factory, 'llama-server': gated.factory, onnx: standInFactory() }, waitForModels: false, apiKey: ADMIN },
    );
    const statuses = async () => [(await fetch(`${gateway.url}/health`)).status, (await fetch(`${gateway.url}/ready`)).status];
    try {
      assert.deepEqual(await statuses(), [503, 503], 'during startup');
      gated.open();
      await gateway.gateway.modelsSettled;
      assert.deepEqual(await statuses(), [200, 200], 'after startup');

      const unload = await fetch(`${gateway.url}/v1/admin/models/first/unload`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } });
      assert.equal(unload.status, 200);
      assert.deepEqual(await statuses(), [200, 200], 'a startup model unloaded later');

      gated.close();
      // A request loads the model again on demand (the stand-in then has nothing to generate with).
      const onDemand = fetch(`${gateway.url}/v1/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'first', prompt: 'Once', max_tokens: 2 }),
      });
      await waitFor(() => gateway.gateway.registry.find('first')?.status === 'loading', 5_000, 'the on-demand load');
      assert.deepEqual(await statuses(), [200, 200], 'while a model loads on demand');
      gated.open();
      await (await onDemand).arrayBuffer();
      assert.equal(gateway.gateway.registry.find('first')?.status, 'ready');
      assert.deepEqual(await statuses(), [200, 200]);
    } finally {
      gated.open();
      await gateway.close();
    }
  });
});

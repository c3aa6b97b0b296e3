// The llama-server engines' own metrics in the gateway's /metrics: read from each model's process
// at scrape time, every sample labelled with the model, each metric's HELP and TYPE once across
// models, the whole a valid exposition. An engine that does not answer (stopped, killed and
// restarting) is left out of that scrape and counted; the scrape itself still answers.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { INSTALLED_BINARY, locateLlamaServer } from '../../src/backends/llama-server/binary.js';
import { models } from '../helpers/paths.js';
import { parsePrometheusText, type PrometheusFamily } from '../helpers/prometheus-text.js';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.js';
import { waitFor } from '../helpers/wait-for.js';

const ADMIN = 'sk-admin-engine-metrics-0';
const binary = locateLlamaServer(undefined, process.cwd())?.path;
const noBinary = binary === undefined ? `no llama-server binary: set SWITCHYARD_LLAMA_SERVER or build one with npm ci (${INSTALLED_BINARY})` : false;

function storyModel(id: string): string {
  return `
[api.models.${id}]
path = "${models.stories}"
type = "completion"
backend = "llama-server"
context_length = 256
parallel = 1
threads = 1
`;
}

async function scrape(gateway: TestGateway): Promise<Map<string, PrometheusFamily>> {
  const response = await fetch(`${gateway.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } });
  assert.equal(response.status, 200);
  return parsePrometheusText(await response.text());
}

/** The value of `name` for `model`, or undefined when the scrape has no such sample. */
function valueOf(families: Map<string, PrometheusFamily>, name: string, model: string): number | undefined {
  return families.get(name)?.samples.find((sample) => sample.labels.model === model)?.value;
}

async function enginePid(gateway: TestGateway, id: string): Promise<number> {
  const response = await fetch(`${gateway.url}/v1/models/${id}`, { headers: { authorization: `Bearer ${ADMIN}` } });
  const pid = ((await response.json()) as { metadata: { details?: { pid?: unknown } } }).metadata.details?.pid;
  assert.equal(typeof pid, 'number', `the pid of ${id}'s engine`);
  return pid as number;
}

describe('engine metrics in /metrics', { skip: noBinary }, () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startTestGateway(
      `
[api]
require_auth = true
api_key = "${ADMIN}"

[engines.llama_server]
binary = "${binary}"

[api.models.in-process]
path = "${models.stories}"
type = "completion"
backend = "llama"
context_length = 256
${storyModel('alpha')}
${storyModel('beta')}
`,
      { apiKey: ADMIN },
    );
  });
  after(() => gateway?.close());

  test("each llama-server model's own metrics, labelled by model, HELP and TYPE once, in a valid exposition", async () => {
    const completion = await gateway.client.completions.create({ model: 'alpha', prompt: 'Once upon a time', max_tokens: 5, temperature: 0 });
    assert.equal(completion.usage!.completion_tokens, 5);
    const families = await scrape(gateway);
    const predicted = families.get('llamacpp:tokens_predicted_total');
    assert.ok(predicted, 'llama-server counters are there');
    assert.equal(predicted.type, 'counter');
    assert.ok(predicted.help);
    assert.ok(valueOf(families, 'llamacpp:tokens_predicted_total', 'alpha')! >= 5, 'the tokens alpha predicted');
    assert.equal(valueOf(families, 'llamacpp:tokens_predicted_total', 'beta'), 0, 'beta predicted none');
    assert.equal(valueOf(families, 'llamacpp:tokens_predicted_total', 'in-process'), undefined, 'the in-process engine keeps no such metrics');
    for (const [name, family] of families) {
      if (name.startsWith('llamacpp:'))
        assert.ok(
          family.samples.every((sample) => sample.labels.model !== undefined),
          `${name} is labelled by model`,
        );
    }
    assert.ok(families.get('switchyard_requests_total'), "the gateway's own metrics are there too");
  });

  test('an engine that does not answer is left out of the scrape and counted; one restarting is left out; the scrape answers', async () => {
    const pid = await enginePid(gateway, 'beta');
    // A stopped process holds its port and answers nothing: the scrape waits its short time, then goes on.
    process.kill(pid, 'SIGSTOP');
    try {
      const started = performance.now();
      const families = await scrape(gateway);
      assert.ok(performance.now() - started < 10_000, 'the scrape waited a short time only');
      assert.equal(valueOf(families, 'llamacpp:tokens_predicted_total', 'beta'), undefined, "beta's engine is left out");
      assert.ok(valueOf(families, 'llamacpp:tokens_predicted_total', 'alpha') !== undefined, "alpha's engine is still there");
      assert.equal(valueOf(families, 'switchyard_engine_metrics_failures_total', 'beta'), 1, 'the failure is counted');
    } finally {
      process.kill(pid, 'SIGCONT');
    }

    process.kill(pid, 'SIGKILL');
    await waitFor(
      async () => {
        const response = await fetch(`${gateway.url}/v1/models/beta`, { headers: { authorization: `Bearer ${ADMIN}` } });
        return ((await response.json()) as { metadata: { status: string } }).metadata.status !== 'ready';
      },
      10_000,
      "beta's engine to be seen gone",
    );
    const whileRestarting = await scrape(gateway);
    assert.ok(valueOf(whileRestarting, 'llamacpp:tokens_predicted_total', 'alpha') !== undefined, "alpha's engine is still there");

    await waitFor(
      async () => valueOf(await scrape(gateway), 'llamacpp:tokens_predicted_total', 'beta') !== undefined,
      60_000,
      "beta's engine metrics after its restart",
    );
  });
});

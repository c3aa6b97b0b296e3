// The merge of several engines' Prometheus texts into one: labelled by model (an engine's own
// `model` label kept as exported_model), each family's HELP and TYPE once and its samples together,
// a line that is not a sample left out, an engine that fails or is late left out and named.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { scrapeEngineMetrics } from '../../src/metrics/engine-metrics.js';
import { GatewayMetrics } from '../../src/metrics/gateway-metrics.js';
import type { ModelEntry } from '../../src/registry/model-registry.js';
import { parsePrometheusText } from '../helpers/prometheus-text.js';

const ENGINE_TEXT = (predicted: number) => `# HELP llamacpp:tokens_predicted_total Number of generation tokens processed.
# TYPE llamacpp:tokens_predicted_total counter
llamacpp:tokens_predicted_total ${predicted}
# HELP llamacpp:accepted_total Accepted draft tokens per position.
# TYPE llamacpp:accepted_total counter
llamacpp:accepted_total{position="0"} 3
llamacpp:accepted_total{position="1",model="draft \\"x\\""} 1
# HELP latency A histogram.
# TYPE latency histogram
latency_bucket{le="+Inf"} 2
latency_sum 0.5
latency_count 2
not a sample line at all {
`;

describe('engine metrics merge', () => {
  test('samples labelled by model, HELP and TYPE once per family, samples of a family together, valid text', async () => {
    const { text, failed } = await scrapeEngineMetrics(
      [
        { model: 'a', read: async () => ENGINE_TEXT(5) },
        { model: 'b "quoted"', read: async () => ENGINE_TEXT(7) },
      ],
      1_000,
    );
    assert.deepEqual(failed, []);
    const families = parsePrometheusText(text);
    assert.deepEqual(
      families.get('llamacpp:tokens_predicted_total')!.samples.map((sample) => [sample.labels.model, sample.value]),
      [
        ['a', 5],
        ['b "quoted"', 7],
      ],
    );
    const accepted = families.get('llamacpp:accepted_total')!.samples;
    assert.deepEqual(accepted[0].labels, { model: 'a', position: '0' });
    assert.deepEqual(accepted[1].labels, { model: 'a', position: '1', exported_model: 'draft "x"' });
    assert.equal(families.get('latency')!.type, 'histogram');
    assert.equal(families.get('latency')!.samples.length, 6, 'bucket, sum and count of both models');
    assert.doesNotMatch(text, /not a sample/);
  });

  test('an engine that fails or is late is left out and named; the others are there', async () => {
    const { text, failed } = await scrapeEngineMetrics(
      [
        { model: 'ok', read: async () => ENGINE_TEXT(1) },
        {
          model: 'broken',
          read: async () => {
            throw new Error('restarting');
          },
        },
        { model: 'late', read: (signal) => new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason))) },
      ],
      100,
    );
    assert.deepEqual(failed.sort(), ['broken', 'late']);
    const samples = parsePrometheusText(text).get('llamacpp:tokens_predicted_total')!.samples;
    assert.deepEqual(
      samples.map((sample) => sample.labels.model),
      ['ok'],
    );
  });
});

describe('engine metrics scrapes', () => {
  test('concurrent /metrics expositions share one engine scrape in flight; a later one scrapes again', async () => {
    let reads = 0;
    let answer: (text: string) => void = () => undefined;
    const entry = {
      id: 'm',
      status: 'ready',
      loaded: {
        engineMetrics: () => {
          reads++;
          return new Promise<string>((resolve) => (answer = resolve));
        },
      },
    } as unknown as ModelEntry;
    const metrics = new GatewayMetrics({ models: () => [entry] });
    const scrapes = Array.from({ length: 5 }, () => metrics.exposition('all'));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(reads, 1, 'one read of the engine for five concurrent scrapes');
    answer(ENGINE_TEXT(3));
    for (const text of await Promise.all(scrapes)) assert.match(text, /llamacpp:tokens_predicted_total\{model="m"\} 3/);
    const again = metrics.exposition('all');
    await new Promise((resolve) => setImmediate(resolve));
    answer(ENGINE_TEXT(4));
    assert.match(await again, /llamacpp:tokens_predicted_total\{model="m"\} 4/);
    assert.equal(reads, 2);
  });
});

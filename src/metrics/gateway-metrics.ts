// The Prometheus metrics of one gateway. A registry per gateway (not prom-client's global one),
// so that several gateways in one process (tests, benchmarks) keep their counts apart. Keys are
// only ever labelled by their name, and their usage series sit in a registry of their own, so a
// scrape can leave out the keys its reader may not see. The engines' own metrics (llama-server's)
// are read at each scrape and appended, labelled by model (engine-metrics.ts).
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ModelEntry } from '../registry/model-registry.js';
import { scrapeEngineMetrics, sharedWhileInFlight, type EngineMetricsSource } from './engine-metrics.js';
import { escapeHelp, escapeLabelValue } from './exposition-text.js';

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];
/**
 * How long a scrape waits for an engine's own metrics: llama-server answers from its main loop,
 * between two decode steps (milliseconds); a process that takes longer is stuck or restarting.
 */
const ENGINE_METRICS_TIMEOUT_MS = 2_000;

export interface GatewayMetricsSources {
  /**
   * The models the gauges describe and whose engines' metrics a scrape appends. Read at scrape
   * time only: the registry is made after the metrics (which count its loads).
   */
  models(): readonly ModelEntry[];
}

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'switchyard_requests_total',
    help: 'Requests answered, by route, model and status.',
    labelNames: ['route', 'model', 'status'],
    registers: [this.registry],
  });
  readonly requestDuration = new Histogram({
    name: 'switchyard_request_duration_seconds',
    help: 'Time from request to the end of the response.',
    labelNames: ['route', 'model'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly queueWait = new Histogram({
    name: 'switchyard_queue_wait_seconds',
    help: 'Time a request waited for a model slot.',
    labelNames: ['model'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly timeToFirstToken = new Histogram({
    name: 'switchyard_time_to_first_token_seconds',
    help: 'Time from request to the first generated text.',
    labelNames: ['model'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  /** The series labelled by key name. */
  readonly usageByKey = new Registry();
  readonly promptTokens = new Counter({
    name: 'switchyard_prompt_tokens_total',
    help: 'Prompt tokens processed, by model and key name.',
    labelNames: ['model', 'key'],
    registers: [this.usageByKey],
  });
  readonly completionTokens = new Counter({
    name: 'switchyard_completion_tokens_total',
    help: 'Completion tokens generated, by model and key name.',
    labelNames: ['model', 'key'],
    registers: [this.usageByKey],
  });
  readonly embeddingBatchSize = new Histogram({
    name: 'switchyard_embedding_batch_size',
    help: 'Inputs per embedding engine run.',
    labelNames: ['model'],
    buckets: BATCH_BUCKETS,
    registers: [this.registry],
  });
  readonly rateLimitRejections = new Counter({
    name: 'switchyard_rate_limit_rejections_total',
    help: 'Requests refused by a limit, by kind (requests, tokens, concurrency, queue).',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly modelLoadSeconds = new Gauge({
    name: 'switchyard_model_load_seconds',
    help: 'Seconds the last load of each model took.',
    labelNames: ['model'],
    registers: [this.registry],
  });
  readonly reloads = new Counter({
    name: 'switchyard_config_reloads_total',
    help: 'Config reloads, by result (succeeded, failed).',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly engineMetricsFailures = new Counter({
    name: 'switchyard_engine_metrics_failures_total',
    help: "Scrapes that went on without a model's engine metrics (its engine did not answer in time, or answered an error), by model.",
    labelNames: ['model'],
    registers: [this.registry],
  });

  readonly contentType = this.registry.contentType;

  /**
   * The Prometheus text: the gateway's metrics, with every key's usage series or only those of
   * `ownKey` (none without one), then the engines' own metrics.
   */
  async exposition(keys: 'all' | { ownKey: string | undefined }): Promise<string> {
    // Read first: a failure counted now shows in this scrape.
    const engines = await this.#engineMetrics();
    const shared = await this.registry.metrics();
    const usage =
      keys === 'all'
        ? [await this.usageByKey.metrics()]
        : await Promise.all([this.promptTokens, this.completionTokens].map((counter) => seriesOfKey(counter, keys.ownKey)));
    return [shared, ...usage, engines].filter((text) => text !== '').join('\n');
  }

  /** The engines' metrics, one scrape shared by the /metrics requests that come while it runs (its failures counted once). */
  readonly #engineMetrics = sharedWhileInFlight(() => this.#scrapeEngines());

  /** The engines' metrics of the models serving now; a model restarting, or loading, has none to read. */
  async #scrapeEngines(): Promise<string> {
    const sources: EngineMetricsSource[] = [];
    for (const entry of this.sources.models()) {
      const loaded = entry.loaded;
      if (entry.status !== 'ready' || loaded?.engineMetrics === undefined) continue;
      sources.push({ model: entry.id, read: (signal) => loaded.engineMetrics!(signal) });
    }
    if (sources.length === 0) return '';
    const { text, failed } = await scrapeEngineMetrics(sources, ENGINE_METRICS_TIMEOUT_MS);
    for (const model of failed) this.engineMetricsFailures.inc({ model });
    return text;
  }

  constructor(private readonly sources: GatewayMetricsSources) {
    const models = () => sources.models();
    collectDefaultMetrics({ register: this.registry, prefix: 'switchyard_' });
    new Gauge({
      name: 'switchyard_queue_depth',
      help: 'Requests waiting for a model slot (embedding inputs waiting for a batch).',
      labelNames: ['model'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const entry of models()) this.set({ model: entry.id }, (entry.scheduler?.queueDepth ?? 0) + (entry.embeddingBatcher?.queuedInputs ?? 0));
      },
    });
    new Gauge({
      name: 'switchyard_active_sequences',
      help: 'Requests running on a model (llama.cpp sequences in use).',
      labelNames: ['model'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const entry of models()) this.set({ model: entry.id }, entry.scheduler?.activeCount ?? 0);
      },
    });
    new Gauge({
      name: 'switchyard_model_ready',
      help: '1 when a model is loaded and serving, 0 otherwise.',
      labelNames: ['model', 'status'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const entry of models()) this.set({ model: entry.id, status: entry.status }, entry.status === 'ready' ? 1 : 0);
      },
    });
  }
}

/** One key-labelled counter in Prometheus text, with the series of `key` alone. */
async function seriesOfKey(counter: Counter<'model' | 'key'>, key: string | undefined): Promise<string> {
  const { name, help, values } = await counter.get();
  const lines = [`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} counter`];
  for (const { labels, value } of values) {
    if (key === undefined || labels.key !== key) continue;
    const labelText = Object.entries(labels)
      .map(([label, labelValue]) => `${label}="${escapeLabelValue(String(labelValue))}"`)
      .join(',');
    lines.push(`${name}{${labelText}} ${value}`);
  }
  return `${lines.join('\n')}\n`;
}

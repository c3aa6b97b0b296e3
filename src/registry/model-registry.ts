// Owns model lifecycles: one entry per [api.models.ID], its status, its loaded engine instance
// and its scheduler. Routes ask it for a model by id or alias; it never speaks HTTP.
import path from 'node:path';
import type { BackendName, Config, ModelConfig } from '../config/schema.js';
import type { BackendFactories } from '../backends/index.js';
import type { EmbeddingBatchResult, EmbeddingInput, LoadedModel, ModelType } from '../backends/types.js';
import { errors } from '../errors.js';
import type { Logger } from '../logger.js';
import { SlotScheduler } from '../scheduler/slot-scheduler.js';
import { inferBackend } from './backend-inference.js';
import { EmbeddingBatcher } from '../scheduler/embedding-batcher.js';

export interface EmbeddingSubmitter {
  submit(inputs: EmbeddingInput[], options: { truncate: boolean; signal?: AbortSignal }): Promise<EmbeddingBatchResult>;
  dispose?(): void | Promise<void>;
}

export type ModelStatus = 'unloaded' | 'loading' | 'ready' | 'unavailable';

export interface ModelEntry {
  readonly id: string;
  readonly config: ModelConfig;
  readonly type: ModelType;
  readonly resolvedPath: string;
  backend?: BackendName;
  status: ModelStatus;
  /** Why the model is unavailable, in words an operator can act on. */
  reason?: string;
  /** Unix seconds when the entry was created (OpenAI's `created`). */
  readonly created: number;
  loadSeconds?: number;
  loaded?: LoadedModel;
  scheduler?: SlotScheduler;
  /** Merges concurrent embedding requests into engine batches (embedding models only). */
  embeddingBatcher?: EmbeddingSubmitter;
  loading?: Promise<void>;
}

export interface ModelRegistryOptions {
  config: Config;
  /** Relative model paths resolve against this folder (the config file's). */
  baseDirectory: string;
  logger: Logger;
  factories: BackendFactories;
}

/** The time a client should wait before retrying while a model loads. */
const LOADING_RETRY_MS = 5_000;

export class ModelRegistry {
  private readonly entries = new Map<string, ModelEntry>();
  private readonly names = new Map<string, string>();
  private readonly logger: Logger;
  private readonly factories: BackendFactories;

  private constructor(options: ModelRegistryOptions) {
    this.logger = options.logger;
    this.factories = options.factories;
    const created = Math.floor(Date.now() / 1000);
    for (const [id, config] of Object.entries(options.config.api.models)) {
      const resolvedPath = path.resolve(options.baseDirectory, config.path);
      this.entries.set(id, { id, config, type: config.type, resolvedPath, backend: config.backend, status: 'unloaded', created });
      this.names.set(id, id);
      for (const alias of config.aliases) this.names.set(alias, id);
    }
  }

  /** Creates the registry and checks every model's path; loading starts with `loadStartupModels`. */
  static async create(options: ModelRegistryOptions): Promise<ModelRegistry> {
    const registry = new ModelRegistry(options);
    await Promise.all([...registry.entries.values()].map((entry) => registry.inspect(entry)));
    return registry;
  }

  private async inspect(entry: ModelEntry): Promise<void> {
    const inference = await inferBackend(entry.config, entry.resolvedPath);
    entry.backend = inference.backend;
    if (inference.problem) this.markUnavailable(entry, inference.problem);
  }

  private markUnavailable(entry: ModelEntry, reason: string): void {
    entry.status = 'unavailable';
    entry.reason = reason;
    this.logger.warn({ model: entry.id, reason }, 'model unavailable');
  }

  list(): ModelEntry[] {
    return [...this.entries.values()];
  }

  /** The entry for an id or alias, or undefined. */
  find(name: string): ModelEntry | undefined {
    const id = this.names.get(name);
    return id === undefined ? undefined : this.entries.get(id);
  }

  /** Loads every `load = "startup"` model, one at a time (a model's load uses all cores). */
  async loadStartupModels(): Promise<void> {
    for (const entry of this.entries.values()) {
      if (entry.config.load === 'startup' && entry.status === 'unloaded') {
        entry.status = 'loading';
      }
    }
    for (const entry of this.entries.values()) {
      if (entry.config.load === 'startup' && entry.status === 'loading') await this.load(entry);
    }
  }

  /** True when every startup model has finished loading, successfully or not. */
  startupSettled(): boolean {
    return this.list().every((entry) => entry.config.load !== 'startup' || (entry.status !== 'loading' && entry.status !== 'unloaded'));
  }

  private load(entry: ModelEntry): Promise<void> {
    if (entry.loading) return entry.loading;
    entry.status = 'loading';
    entry.loading = this.loadNow(entry).finally(() => {
      entry.loading = undefined;
    });
    return entry.loading;
  }

  private async loadNow(entry: ModelEntry): Promise<void> {
    const factory = entry.backend ? this.factories[entry.backend] : undefined;
    if (!factory) {
      this.markUnavailable(entry, `no backend can load ${entry.resolvedPath}`);
      return;
    }
    const started = performance.now();
    const logger = this.logger.child({ model: entry.id, backend: entry.backend });
    logger.info({ path: entry.resolvedPath }, 'loading model');
    try {
      const loaded = await factory({ id: entry.id, config: entry.config, resolvedPath: entry.resolvedPath, logger });
      entry.loaded = loaded;
      entry.scheduler = new SlotScheduler({
        model: entry.id,
        slots: loaded.parallelism,
        maxQueue: entry.config.max_queue,
        queueTimeoutMs: entry.config.queue_timeout * 1000,
      });
      if (loaded.embedding) {
        entry.embeddingBatcher = new EmbeddingBatcher(loaded.embedding, {
          maxBatchSize: entry.config.max_batch_size,
          maxBatchTokens: entry.config.max_batch_tokens,
          enabled: entry.config.batching,
        });
      }
      entry.loadSeconds = (performance.now() - started) / 1000;
      entry.status = 'ready';
      entry.reason = undefined;
      logger.info({ seconds: Number(entry.loadSeconds.toFixed(3)), device: loaded.info.device }, 'model ready');
    } catch (error) {
      this.markUnavailable(entry, `failed to load: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /**
   * The ready model behind `name`, loading it first when it is lazy. Throws the GatewayError a
   * client should see: 404 unknown, 503 loading or unavailable.
   */
  async acquire(name: string): Promise<{ entry: ModelEntry; model: LoadedModel; scheduler: SlotScheduler }> {
    const entry = this.find(name);
    if (!entry) throw errors.modelNotFound(name);
    if (entry.status === 'unloaded' && entry.config.load === 'lazy') await this.load(entry);
    if (entry.status === 'loading') throw errors.unavailable(`Model '${entry.id}' is loading; retry shortly.`, LOADING_RETRY_MS, 'model_loading');
    if (entry.status !== 'ready' || !entry.loaded || !entry.scheduler) {
      throw errors.unavailable(`Model '${entry.id}' is unavailable: ${entry.reason ?? 'not loaded'}.`, 30_000, 'model_unavailable');
    }
    return { entry, model: entry.loaded, scheduler: entry.scheduler };
  }

  /** Disposes every loaded model, in reverse order of the config. */
  async dispose(): Promise<void> {
    for (const entry of [...this.entries.values()].reverse()) {
      await entry.loading?.catch(() => undefined);
      entry.scheduler?.close();
      await entry.embeddingBatcher?.dispose?.();
      entry.embeddingBatcher = undefined;
      const loaded = entry.loaded;
      entry.loaded = undefined;
      entry.scheduler = undefined;
      if (entry.status === 'ready') entry.status = 'unloaded';
      await loaded?.dispose().catch((error: unknown) => this.logger.warn({ model: entry.id, err: error }, 'dispose failed'));
    }
  }
}

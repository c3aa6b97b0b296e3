// Owns model lifecycles: one entry per [api.models.ID] with its status, its engine instance and
// its scheduler. Routes lease a model by id or alias and give the lease back when their response
// is over; that count is what lets a reload or an unload wait for requests in flight. It never
// speaks HTTP.
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { BackendName, Config, EnginesConfig, ModelConfig } from '../config/schema.js';
import type { BackendFactories } from '../backends/index.js';
import type { EngineProcessState, LoadedModel, ModelType } from '../engine/contract.js';
import { EngineUnavailableError } from '../engine/errors.js';
import type { Logger } from '../logger.js';
import { EmbeddingBatcher } from '../scheduler/embedding-batcher.js';
import { SlotScheduler } from '../scheduler/slot-scheduler.js';
import { inferBackend } from './backend-inference.js';
import { ModelLoadingError, ModelNotFoundError, ModelUnavailableError, ModelUnloadingError } from './model-errors.js';

/** `restarting`: loaded, but its engine's process stopped unexpectedly and is being started again. */
export type ModelStatus = 'unloaded' | 'loading' | 'ready' | 'restarting' | 'unloading' | 'unavailable';

/** One instance of a configured model. A reload that changes a model makes a new entry. */
export interface ModelEntry {
  readonly id: string;
  readonly config: ModelConfig;
  readonly type: ModelType;
  readonly resolvedPath: string;
  /** The folder of the config file that configured it: other paths among its keys resolve against it. */
  readonly configDirectory: string;
  backend?: BackendName;
  status: ModelStatus;
  /** Why the model is unavailable or restarting, in words an operator can act on (paths included: admins and logs only). */
  reason?: string;
  /** The kind of failure behind `reason`, with no path or file content: what others may read. */
  reasonSummary?: string;
  /** The last log lines of an engine process that failed for good (they may hold paths: admins only). */
  logTail?: string[];
  /** While `restarting`: how long until the engine's next start. */
  restartInMs?: number;
  /** Unix seconds when the entry was created (OpenAI's `created`). */
  readonly created: number;
  loadSeconds?: number;
  loaded?: LoadedModel;
  scheduler?: SlotScheduler;
  /** Merges concurrent embedding requests into engine batches, within the model's queue limits (local embedding models only). */
  embeddingBatcher?: EmbeddingBatcher;
  loading?: Promise<void>;
  /** True while a load was asked for by a request (it waits) rather than by startup (503). */
  loadingOnDemand?: boolean;
  /** Leases not yet given back. */
  inFlight: number;
  lastUsed: number;
  idle?: () => void;
}

export interface ModelLease {
  entry: ModelEntry;
  model: LoadedModel;
  scheduler: SlotScheduler;
  release(): void;
}

export interface RegistryEvents {
  onLoaded?(entry: ModelEntry): void;
  onBatch?(entry: ModelEntry, size: number, paddedTokens: number): void;
}

export interface ModelRegistryOptions {
  config: Config;
  /** Relative model paths resolve against this folder (the config file's). */
  baseDirectory: string;
  logger: Logger;
  factories: BackendFactories;
  events?: RegistryEvents;
  /** Prepares a model's file before it loads (downloads a missing `source`). */
  prepare?: (entry: ModelEntry) => Promise<void>;
}

export interface ReloadSummary {
  added: string[];
  removed: string[];
  changed: string[];
  unchanged: string[];
  /**
   * Added or changed models that could not be loaded (or whose files are missing), with the full
   * reason. A changed model whose previous instance was serving keeps serving on it.
   */
  failed: Array<{ id: string; reason: string }>;
}

/** The time a client should wait before retrying while a model loads at startup. */
const LOADING_RETRY_MS = 5_000;
/** A model that failed to load stays so until an operator acts: clients need not retry soon. */
const UNAVAILABLE_RETRY_MS = 30_000;
const IDLE_SWEEP_MS = 1_000;
/** The public summary of a model path that is missing or not a model (see backend-inference.ts). */
const FILE_PROBLEM = 'model files missing or not recognised';
/** What a client waits at least while an engine restarts: the start itself takes about a second. */
const RESTART_RETRY_MS = 1_000;

/**
 * The [engines] table a backend reads its settings from ("llama-server" → [engines.llama_server]):
 * a change there reloads that backend's models.
 */
function engineTableOf(backend: string | undefined): string | undefined {
  return backend?.replaceAll('-', '_');
}

export class ModelRegistry {
  private readonly current = new Map<string, ModelEntry>();
  private names = new Map<string, string>();
  private readonly retiring = new Set<ModelEntry>();
  private readonly logger: Logger;
  private readonly factories: BackendFactories;
  private readonly events: RegistryEvents;
  private readonly prepare?: (entry: ModelEntry) => Promise<void>;
  private reloads: Promise<unknown> = Promise.resolve();
  private idleSweeper?: NodeJS.Timeout;
  private engines: EnginesConfig | undefined;
  private disposed = false;
  private startupLoadFinished = false;

  private constructor(options: ModelRegistryOptions) {
    this.logger = options.logger;
    this.factories = options.factories;
    this.events = options.events ?? {};
    this.prepare = options.prepare;
    this.engines = options.config.engines;
    this.idleSweeper = setInterval(() => this.unloadIdleModels(), IDLE_SWEEP_MS);
    this.idleSweeper.unref();
  }

  /** Creates the registry and checks every model's path; loading starts with `loadStartupModels`. */
  static async create(options: ModelRegistryOptions): Promise<ModelRegistry> {
    const registry = new ModelRegistry(options);
    const entries = Object.entries(options.config.api.models).map(([id, config]) => registry.newEntry(id, config, options.baseDirectory));
    await Promise.all(entries.map((entry) => registry.inspect(entry)));
    for (const entry of entries) registry.current.set(entry.id, entry);
    registry.rebuildNames();
    return registry;
  }

  private newEntry(id: string, config: ModelConfig, baseDirectory: string): ModelEntry {
    return {
      id,
      config,
      type: config.type,
      // Plugin backends (a remote server) may need no path.
      resolvedPath: config.path === undefined ? '' : path.resolve(baseDirectory, config.path),
      configDirectory: baseDirectory,
      backend: config.backend,
      status: 'unloaded',
      created: Math.floor(Date.now() / 1000),
      inFlight: 0,
      lastUsed: Date.now(),
    };
  }

  private rebuildNames(): void {
    const names = new Map<string, string>();
    for (const entry of this.current.values()) {
      names.set(entry.id, entry.id);
      for (const alias of entry.config.aliases) names.set(alias, entry.id);
    }
    this.names = names;
  }

  private async inspect(entry: ModelEntry): Promise<void> {
    const inference = await inferBackend(entry.config, entry.resolvedPath);
    entry.backend = inference.backend;
    // A missing file with a `source` is fetched when the model loads.
    if (inference.problem && !(entry.config.source && this.prepare)) this.markUnavailable(entry, FILE_PROBLEM, inference.problem);
  }

  private markUnavailable(entry: ModelEntry, summary: string, reason: string): void {
    entry.status = 'unavailable';
    entry.reason = reason;
    entry.reasonSummary = summary;
    this.logger.warn({ model: entry.id, reason }, 'model unavailable');
  }

  /** The serving entry of every configured model, in config order. */
  list(): ModelEntry[] {
    return [...this.current.values()];
  }

  /** The serving entry for an id or alias, or undefined. */
  find(name: string): ModelEntry | undefined {
    const id = this.names.get(name);
    return id === undefined ? undefined : this.current.get(id);
  }

  /** Loads every `load = "startup"` model, one at a time (a model's load uses all cores). */
  async loadStartupModels(): Promise<void> {
    const startup = this.list().filter((entry) => entry.config.load === 'startup' && entry.status === 'unloaded');
    for (const entry of startup) entry.status = 'loading';
    for (const entry of startup) if (entry.status === 'loading' && !entry.loading) await this.load(entry, false);
    this.startupLoadFinished = true;
  }

  /**
   * Whether the first load of the startup models has finished (each is ready or unavailable): the
   * one "startup done" of /health and /ready, both 503 only before it. Loads after it (on demand
   * after an unload, or of a model a reload adds or changes) do not count: they must not take a
   * serving replica out of rotation, nor look like a dead process to a liveness probe.
   */
  startupDone(): boolean {
    return this.startupLoadFinished;
  }

  private load(entry: ModelEntry, onDemand: boolean): Promise<void> {
    if (entry.loading) return entry.loading;
    entry.status = 'loading';
    entry.loadingOnDemand = onDemand;
    entry.loading = this.loadNow(entry).finally(() => {
      entry.loading = undefined;
      entry.loadingOnDemand = undefined;
    });
    return entry.loading;
  }

  private async loadNow(entry: ModelEntry): Promise<void> {
    if (entry.config.source && this.prepare) {
      try {
        await this.prepare(entry);
      } catch (error) {
        this.markUnavailable(entry, 'download failed', `download failed: ${error instanceof Error ? error.message : String(error)}`);
        return;
      }
      const inference = await inferBackend(entry.config, entry.resolvedPath);
      entry.backend = inference.backend;
      if (inference.problem) {
        this.markUnavailable(entry, FILE_PROBLEM, inference.problem);
        return;
      }
    }
    const factory = entry.backend ? this.factories[entry.backend] : undefined;
    if (!factory) {
      this.markUnavailable(entry, 'no backend for this model', `no backend can load ${entry.resolvedPath}`);
      return;
    }
    const started = performance.now();
    const logger = this.logger.child({ model: entry.id, backend: entry.backend });
    logger.info({ path: entry.resolvedPath }, 'loading model');
    try {
      let instance: LoadedModel | undefined;
      const loaded = await factory({
        id: entry.id,
        config: entry.config,
        resolvedPath: entry.resolvedPath,
        configDirectory: entry.configDirectory,
        engines: this.engines,
        logger,
        // Only the instance this load made speaks for the entry: a disposed one has nothing to say.
        onEngineState: (state) => {
          if (instance !== undefined && entry.loaded === instance) this.engineStateChanged(entry, state);
        },
      });
      instance = loaded;
      entry.loaded = loaded;
      entry.scheduler = new SlotScheduler({
        model: entry.id,
        slots: loaded.parallelism,
        maxQueue: entry.config.max_queue,
        queueTimeoutMs: entry.config.queue_timeout * 1000,
        // Half the slots, rounded up: a request with many choices still runs them side by side,
        // and the other half stays free for everyone else.
        maxSlotsPerRequest: entry.config.max_slots_per_request ?? Math.ceil(loaded.parallelism / 2),
        maxRunMs: entry.config.max_generation_seconds * 1000,
      });
      // An engine that batches on its own side (a remote server) gets its calls through the slots instead.
      if (loaded.embedding && !loaded.embedding.takesConcurrentCalls) {
        entry.embeddingBatcher = new EmbeddingBatcher(loaded.embedding, {
          model: entry.id,
          maxQueue: entry.config.max_queue,
          queueTimeoutMs: entry.config.queue_timeout * 1000,
          maxBatchSize: entry.config.max_batch_size,
          maxBatchTokens: entry.config.max_batch_tokens,
          enabled: entry.config.batching,
          onBatch: (size, paddedTokens) => this.events.onBatch?.(entry, size, paddedTokens),
        });
      }
      entry.loadSeconds = (performance.now() - started) / 1000;
      entry.status = 'ready';
      entry.reason = undefined;
      entry.reasonSummary = undefined;
      entry.logTail = undefined;
      entry.lastUsed = Date.now();
      logger.info({ seconds: Number(entry.loadSeconds.toFixed(3)), device: loaded.info.device }, 'model ready');
      this.events.onLoaded?.(entry);
    } catch (error) {
      this.markUnavailable(entry, 'failed to load', `failed to load: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /**
   * What an engine that runs its own process reports: a crash makes the model `restarting` (new
   * requests get a 503 with Retry-After), a restart makes it `ready` again, and a failure for good
   * makes it `unavailable` until an admin or a reload loads it again. Other models are untouched.
   */
  private engineStateChanged(entry: ModelEntry, state: EngineProcessState): void {
    const loaded = entry.status === 'ready' || entry.status === 'restarting';
    if (state.status === 'serving') {
      if (entry.status !== 'restarting') return;
      entry.status = 'ready';
      entry.reason = entry.reasonSummary = entry.restartInMs = undefined;
      this.logger.info({ model: entry.id }, 'model serving again');
    } else if (state.status === 'restarting') {
      if (!loaded) return;
      entry.status = 'restarting';
      // The reason holds no path: anyone with a key may read it.
      entry.reason = entry.reasonSummary = state.reason;
      entry.restartInMs = state.retryAfterMs;
      this.logger.warn({ model: entry.id, reason: state.reason }, 'model restarting');
    } else if (loaded) {
      void this.failEngine(entry, state);
    }
  }

  /** Drops the instance whose engine failed for good: queued requests fail, requests in flight end as their connection did. */
  private async failEngine(entry: ModelEntry, state: Extract<EngineProcessState, { status: 'failed' }>): Promise<void> {
    const loaded = entry.loaded;
    entry.scheduler?.close();
    const batcher = entry.embeddingBatcher;
    entry.loaded = entry.scheduler = entry.embeddingBatcher = entry.restartInMs = undefined;
    entry.logTail = state.logTail;
    this.markUnavailable(entry, state.summary, state.reason);
    await batcher?.dispose?.();
    await loaded?.dispose().catch((error: unknown) => this.logger.warn({ model: entry.id, err: error }, 'dispose failed'));
  }

  /**
   * Leases the ready model behind `name`, loading it first when it is not loaded (a lazy model,
   * or one unloaded for idleness). Throws a ModelNotFoundError, or ModelLoadingError (loading at
   * startup), ModelUnloadingError or ModelUnavailableError (src/registry/model-errors.ts). The
   * lease must be released.
   */
  async acquire(name: string): Promise<ModelLease> {
    const entry = this.find(name);
    if (!entry) throw new ModelNotFoundError(name);
    if (entry.status === 'unloaded') await this.load(entry, true);
    else if (entry.status === 'loading' && entry.loadingOnDemand) await entry.loading;
    if (entry.status === 'loading') throw new ModelLoadingError(entry.id, LOADING_RETRY_MS);
    if (entry.status === 'unloading') throw new ModelUnloadingError(entry.id, LOADING_RETRY_MS);
    if (entry.status === 'restarting') {
      throw new EngineUnavailableError(
        `Model '${entry.id}' is restarting: its engine process stopped unexpectedly; retry shortly.`,
        Math.max(RESTART_RETRY_MS, (entry.restartInMs ?? 0) + RESTART_RETRY_MS),
      );
    }
    if (entry.status !== 'ready' || !entry.loaded || !entry.scheduler)
      throw new ModelUnavailableError(entry.id, entry.reasonSummary ?? 'not loaded', UNAVAILABLE_RETRY_MS);
    entry.inFlight++;
    entry.lastUsed = Date.now();
    let released = false;
    return {
      entry,
      model: entry.loaded,
      scheduler: entry.scheduler,
      release: () => {
        if (released) return;
        released = true;
        entry.inFlight--;
        entry.lastUsed = Date.now();
        if (entry.inFlight === 0) entry.idle?.();
      },
    };
  }

  private drained(entry: ModelEntry): Promise<void> {
    if (entry.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      entry.idle = () => {
        entry.idle = undefined;
        resolve();
      };
    });
  }

  /** Waits for the entry's requests in flight, then frees its engine. */
  private async unloadEntry(entry: ModelEntry, reason: string): Promise<void> {
    await entry.loading?.catch(() => undefined);
    if (!entry.loaded) return;
    entry.status = 'unloading';
    await this.drained(entry);
    entry.scheduler?.close();
    await entry.embeddingBatcher?.dispose?.();
    const loaded = entry.loaded;
    entry.loaded = undefined;
    entry.scheduler = undefined;
    entry.embeddingBatcher = undefined;
    entry.status = 'unloaded';
    await loaded.dispose().catch((error: unknown) => this.logger.warn({ model: entry.id, err: error }, 'dispose failed'));
    this.logger.info({ model: entry.id, reason }, 'model unloaded');
  }

  /** Admin: loads a model now (and waits for it). */
  async loadModel(name: string): Promise<ModelEntry> {
    const entry = this.find(name);
    if (!entry) throw new ModelNotFoundError(name);
    if (entry.status === 'unavailable') {
      // Try again: the file may have appeared since.
      entry.status = 'unloaded';
      entry.reason = undefined;
      entry.reasonSummary = undefined;
      entry.logTail = undefined;
      await this.inspect(entry);
    }
    if (entry.status === 'unloaded') await this.load(entry, true);
    else await entry.loading;
    return entry;
  }

  /** Admin: unloads a model once its requests in flight are done; the next request loads it again. */
  async unloadModel(name: string): Promise<ModelEntry> {
    const entry = this.find(name);
    if (!entry) throw new ModelNotFoundError(name);
    await this.unloadEntry(entry, 'asked by an admin');
    return entry;
  }

  private unloadIdleModels(): void {
    const now = Date.now();
    for (const entry of this.current.values()) {
      const idleFor = entry.config.idle_unload_after;
      if (idleFor === undefined || entry.status !== 'ready' || entry.inFlight > 0) continue;
      if (now - entry.lastUsed >= idleFor * 1000) void this.unloadEntry(entry, `idle for ${idleFor} s`);
    }
  }

  /**
   * Applies a new config: new models load, removed ones finish their requests and unload,
   * changed ones load anew and take over once ready (requests in flight finish on the old
   * instance), unchanged ones are left alone. Reloads run one after another, so rapid edits
   * never leave two instances of a model behind.
   */
  applyConfig(config: Config, baseDirectory: string): Promise<ReloadSummary> {
    const run = this.reloads.then(() => this.applyNow(config, baseDirectory));
    this.reloads = run.catch(() => undefined);
    return run;
  }

  private async applyNow(config: Config, baseDirectory: string): Promise<ReloadSummary> {
    const summary: ReloadSummary = { added: [], removed: [], changed: [], unchanged: [], failed: [] };
    const enginesBefore = this.engines;
    this.engines = config.engines;
    const engineChanged = (backend: string | undefined) => {
      const table = engineTableOf(backend) as keyof EnginesConfig | undefined;
      return table !== undefined && !isDeepStrictEqual(enginesBefore?.[table], config.engines?.[table]);
    };
    const wanted = new Map(Object.entries(config.api.models));
    for (const [id, entry] of this.current) {
      if (wanted.has(id)) continue;
      summary.removed.push(id);
      this.current.delete(id);
      void this.retire(entry, 'removed from the config');
    }
    const takeovers: Array<Promise<void>> = [];
    const order: string[] = [];
    for (const [id, modelConfig] of wanted) {
      order.push(id);
      const existing = this.current.get(id);
      const candidate = this.newEntry(id, modelConfig, baseDirectory);
      if (
        existing &&
        isDeepStrictEqual(existing.config, modelConfig) &&
        existing.resolvedPath === candidate.resolvedPath &&
        existing.configDirectory === candidate.configDirectory &&
        !engineChanged(existing.backend)
      ) {
        summary.unchanged.push(id);
        continue;
      }
      await this.inspect(candidate);
      if (!existing) {
        summary.added.push(id);
        this.current.set(id, candidate);
        // Requests for a model a reload added wait for its load rather than get a 503.
        if (candidate.config.load === 'startup' && candidate.status === 'unloaded') takeovers.push(this.load(candidate, true));
        continue;
      }
      summary.changed.push(id);
      takeovers.push(this.takeOver(existing, candidate, summary));
    }
    this.rebuildNames();
    await Promise.all(takeovers);
    for (const id of [...summary.added, ...summary.changed]) {
      const entry = this.current.get(id);
      if (entry?.status !== 'unavailable' || summary.failed.some((failure) => failure.id === id)) continue;
      summary.failed.push({ id, reason: entry.reason ?? 'failed to load' });
    }
    // Keep config order for listings.
    const ordered = order.map((id) => this.current.get(id)).filter((entry): entry is ModelEntry => entry !== undefined);
    this.current.clear();
    for (const entry of ordered) this.current.set(entry.id, entry);
    this.rebuildNames();
    return summary;
  }

  private async takeOver(existing: ModelEntry, candidate: ModelEntry, summary: ReloadSummary): Promise<void> {
    const loadNow = candidate.status === 'unloaded' && (candidate.config.load === 'startup' || existing.status === 'ready');
    if (loadNow) await this.load(candidate, false);
    if (candidate.status === 'unavailable' && existing.status === 'ready') {
      summary.failed.push({ id: candidate.id, reason: candidate.reason ?? 'failed to load' });
      this.logger.error({ model: candidate.id, reason: candidate.reason }, 'changed model failed to load; the previous instance keeps serving');
      return;
    }
    this.current.set(candidate.id, candidate);
    this.rebuildNames();
    void this.retire(existing, 'replaced by a changed config');
  }

  private async retire(entry: ModelEntry, reason: string): Promise<void> {
    this.retiring.add(entry);
    try {
      await this.unloadEntry(entry, reason);
    } finally {
      this.retiring.delete(entry);
    }
  }

  /** Instances still finishing requests after a reload replaced or removed them. */
  retiringCount(): number {
    return this.retiring.size;
  }

  /** Disposes every loaded model, in reverse order of the config. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    clearInterval(this.idleSweeper);
    await this.reloads.catch(() => undefined);
    for (const entry of [...this.retiring, ...[...this.current.values()].reverse()]) {
      await entry.loading?.catch(() => undefined);
      entry.inFlight = 0;
      await this.unloadEntry(entry, 'shutdown');
    }
  }
}

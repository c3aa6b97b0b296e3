// The one schema of config.toml. Defaults live here and nowhere else; the config types are
// inferred from it. Objects are strict so that an operator's typo is an error, never ignored.
import { z } from 'zod';
import { builtInBackends } from '../backends/index.js';
import { llamaModelOptionsSchema } from '../backends/llama/options.js';
import { llamaServerModelOptionsSchema } from '../backends/llama-server/options.js';
import { onnxModelOptionsSchema } from '../backends/onnx/options.js';
import { backendClaiming, type BackendDescriptor } from '../engine/backend-descriptor.js';
import { describeValue } from './value-description.js';

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();

/** "host:port", "[v6]:port" or a bare port. */
export const addressSchema = z.string().regex(/^(?:(?:\[[0-9a-fA-F:.]+\]|[^\s:\[\]]+):)?\d{1,5}$/, 'an address such as "127.0.0.1:8080"');

export const modelTypes = ['chat', 'completion', 'embedding', 'rerank'] as const;

/**
 * The keys of one [api.models.ID] table that every model has, whatever its backend: what the
 * gateway itself reads (routes, registry, scheduler, batcher) and what any engine may report.
 * Each backend adds its own keys (see src/backends/index.ts and a plugin's `registerBackend`).
 * `path` and `backend` are checked by `modelSchemaFor`: `path` is required unless the model's
 * backend needs none, and `backend` must name a built-in backend or one a plugin registered.
 */
export const commonModelSchema = z.strictObject({
  /** A .gguf file (llama.cpp) or a folder with an .onnx file and tokenizer.json (ONNX Runtime). */
  path: z.string().min(1).optional(),
  type: z.enum(modelTypes),
  /** Inferred from `path` and `type` when absent: a .gguf chat or completion model is llama-server's, a .gguf embedding or rerank model llama's, anything else onnx's. */
  backend: z.string().min(1).optional(),
  /** Other names clients may use for this model. */
  aliases: z.array(z.string().min(1)).default([]),
  /** "startup" loads before the gateway reports ready; "lazy" on first use. */
  load: z.enum(['startup', 'lazy']).default('startup'),
  /** Seconds without requests after which the model is unloaded; the next request loads it again. */
  idle_unload_after: z.number().positive().optional(),
  /** Where to fetch the model file from when `path` is missing (http or https). */
  source: z
    .string()
    .regex(/^https?:\/\//, 'an http:// or https:// URL')
    .optional(),
  /** Expected SHA-256 of the file fetched from `source`. */
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, '64 hexadecimal digits')
    .optional(),

  // Generation
  /** Tokens of context per sequence (llama), or the longest input (onnx); reported by every backend. */
  context_length: positiveInt.optional(),
  default_temperature: z.number().min(0).max(2).default(0.7),
  /** Used when a request gives no max_tokens; capped by what the context leaves. */
  default_max_tokens: positiveInt.optional(),

  // Scheduling
  /** Requests that may wait for a slot; beyond it a 429. */
  max_queue: nonNegativeInt.default(64),
  /** Seconds a request may wait for a slot before a 503. */
  queue_timeout: z.number().positive().default(30),
  /**
   * Slots one request's n choices may hold at once (the rest take turns), so that a request with
   * n = 16 leaves slots to others. Default: half of the model's slots, rounded up.
   */
  max_slots_per_request: positiveInt.optional(),
  /**
   * Seconds one generation (one choice) may hold its slot; beyond it the request ends with a 504
   * `generation_timeout`. Five minutes leaves a long completion on a CPU room (4,096 tokens at
   * 15 tokens/s is 270 s) and bounds how long a costly grammar can slow the model's other requests.
   */
  max_generation_seconds: z.number().positive().default(300),

  // Embeddings and reranking
  /** Expected vector length, checked at load. */
  dimensions: positiveInt.optional(),
  /** Inputs longer than the model's maximum are cut (true) or refused with a 400 (false). */
  truncate: z.boolean().default(true),
  max_inputs: positiveInt.default(2048),
  max_batch_size: positiveInt.default(32),
  max_batch_tokens: positiveInt.default(16384),
  /** Dynamic batching of concurrent embedding requests. */
  batching: z.boolean().default(true),
});

/**
 * Every key a model may have, each built-in backend's with its defaults. Its output type is what
 * engines read (`ModelConfig`: a model's object holds the keys of its own backend only), and tests
 * build an engine's config from it; the config file validates each model against the common keys
 * and its own backend's (`modelSchemaFor`).
 */
export const modelSchema = commonModelSchema
  .extend(llamaModelOptionsSchema.shape)
  .extend(llamaServerModelOptionsSchema.shape)
  .extend(onnxModelOptionsSchema.shape);

/** A backend a plugin registered, as the config schema needs to know it. */
export interface PluginBackendSchema {
  /** The plugin that registered it (its [plugins.NAME] key), named in messages. */
  plugin: string;
  backend: BackendDescriptor;
}

/** What loaded plugins add to the schema. */
export interface ConfigExtension {
  backends: readonly PluginBackendSchema[];
  /** Backends of first-party plugins that are not enabled: named in the hint of an unknown `backend`. */
  knownPluginBackends?: Readonly<Record<string, string>>;
}

/**
 * The backend that serves a model: the one it names, or the first of `claimOrder` that claims its
 * path (plugin backends come before the built-in ones: onnx claims every path that is not a .gguf
 * file).
 */
function backendOf(
  model: { backend?: string; path?: string; type: (typeof modelTypes)[number] },
  claimOrder: readonly BackendDescriptor[],
): { backend?: BackendDescriptor; inferred: boolean } {
  if (model.backend !== undefined) return { backend: claimOrder.find((backend) => backend.name === model.backend), inferred: false };
  return { backend: backendClaiming(model.path, model.type, claimOrder), inferred: true };
}

/** The keys of `backend` that `fields` holds, for its own schema. */
function ownKeys(backend: BackendDescriptor, fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(backend.modelOptionsSchema?.shape ?? {}).map((key) => [key, fields[key]]));
}

/**
 * The model schema of a config file: the common keys, plus the keys of every backend (built-in
 * and plugin ones), each allowed only on its own backend's models and validated by that
 * backend's schema. A model that names no backend gets the one its path says before its keys are
 * checked, and the parsed model names it. A key no backend declares stays an unknown key.
 */
export function modelSchemaFor(extension: ConfigExtension = { backends: [] }) {
  const pluginOf = new Map(extension.backends.map(({ plugin, backend }) => [backend.name, plugin]));
  const pluginBackends = extension.backends.map(({ backend }) => backend);
  const backends = [...builtInBackends, ...pluginBackends];
  const claimOrder = [...pluginBackends, ...builtInBackends];
  const owners = new Map<string, string[]>();
  for (const backend of backends) {
    for (const key of Object.keys(backend.modelOptionsSchema?.shape ?? {})) owners.set(key, [...(owners.get(key) ?? []), backend.name]);
  }
  // Each backend's keys are checked by its own schema below; at this level they are only allowed
  // (and typed as the common keys alone).
  const base = commonModelSchema.extend(
    Object.fromEntries([...owners.keys()].map((key) => [key, z.unknown().optional()])),
  ) as unknown as typeof commonModelSchema;
  const choices = backends
    .map((backend) => (pluginOf.has(backend.name) ? `${backend.name} (from plugin ${pluginOf.get(backend.name)})` : backend.name))
    .join(', ');
  return base
    .superRefine((model, context) => {
      const fields = model as Record<string, unknown>;
      if (model.backend !== undefined && !backends.some((backend) => backend.name === model.backend)) {
        const plugin = extension.knownPluginBackends?.[model.backend];
        const hint = plugin === undefined ? '' : ` (enable the plugin that provides it with [plugins.${plugin}])`;
        context.addIssue({
          code: 'custom',
          path: ['backend'],
          message: `expected one of ${choices}, found ${describeValue(model.backend)}${hint}`,
          input: model.backend,
        });
        return;
      }
      const { backend, inferred } = backendOf(model, claimOrder);
      // Without a backend, the path is what would name one.
      if (model.path === undefined && (backend === undefined || backend.requiresPath === true)) {
        context.addIssue({ code: 'custom', path: ['path'], message: 'expected a string, found nothing', input: undefined });
      }
      const found =
        backend === undefined
          ? 'no backend'
          : inferred
            ? `no backend (its path and type make it ${/^[aeiou]/.test(backend.name) ? 'an' : 'a'} ${backend.name} model)`
            : `backend = "${backend.name}"`;
      for (const [key, names] of owners) {
        const value = fields[key];
        if (value === undefined || (backend !== undefined && names.includes(backend.name))) continue;
        context.addIssue({
          code: 'custom',
          path: [key],
          message: `applies only to models with ${names.map((name) => `backend = "${name}"`).join(' or ')}, found ${found}`,
          input: value,
        });
      }
      const result = backend?.modelOptionsSchema?.safeParse(ownKeys(backend, fields), { reportInput: true });
      if (result && !result.success) for (const issue of result.error.issues) context.addIssue({ ...issue } as never);
    })
    .transform((model): ModelConfig => {
      // Valid by now: this applies the backend's defaults and records which backend it is.
      const { backend } = backendOf(model, claimOrder);
      const own = backend?.modelOptionsSchema?.parse(ownKeys(backend, model)) ?? {};
      return { ...model, ...own, backend: backend?.name } as ModelConfig;
    });
}

const modelIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:\/-]*$/, 'a model id of letters, digits and . _ : / -');

function modelsSchema(model: ReturnType<typeof modelSchemaFor>) {
  return z.record(modelIdSchema, model).default({});
}

/** One client key: its secret (literal, from the environment, or only its SHA-256), models and limits. */
export const keySchema = z.strictObject({
  /** Shown in logs and metrics instead of the key. */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a name of letters, digits and . _ -'),
  key: z.string().min(8).optional(),
  key_env: z.string().min(1).optional(),
  /** Hex SHA-256 of the key (`printf %s "$KEY" | sha256sum`), so the config holds no secret. */
  key_sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, '64 hexadecimal digits')
    .optional(),
  /** Model ids, aliases or globs ("stories-*") this key may use. */
  models: z.array(z.string().min(1)).default(['*']),
  /** Overrides of the [api] defaults; 0 = unlimited. */
  max_requests_per_minute: nonNegativeInt.optional(),
  max_tokens_per_minute: nonNegativeInt.optional(),
  max_concurrent_requests: nonNegativeInt.optional(),
  /** "admin" keys may also call the admin endpoints. */
  role: z.enum(['user', 'admin']).default('user'),
});

export const rateLimitSchema = z.strictObject({
  /** "redis" shares limits across replicas; "memory" keeps them per process. */
  store: z.enum(['memory', 'redis']).default('memory'),
  redis_url: z
    .string()
    .regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL')
    .optional(),
  /** Prefix of every Redis key switchyard writes. */
  key_prefix: z.string().min(1).default('switchyard'),
  /** Completion tokens reserved up front when a request's max_tokens is larger (the rest is charged after the run). */
  max_reserved_completion_tokens: positiveInt.default(4096),
});

/**
 * [api.responses]: where the Responses API keeps the responses it stores (`store: true`, the
 * default), which `previous_response_id`, GET and DELETE /v1/responses/{id} read back. Which store
 * and its Redis settings may be left unset: they follow [api.rate_limit] (see
 * src/config/response-store-settings.ts), because replicas that share limits share a Redis and must
 * share stored responses too.
 */
export const responsesSchema = z.strictObject({
  /**
   * "sqlite": a database file on this machine (survives restarts); "redis": shared by every replica;
   * "memory": this process only, lost on restart (tests, ephemeral use). Unset: "redis" when
   * [api.rate_limit] store = "redis", else "sqlite".
   */
  store: z.enum(['sqlite', 'redis', 'memory']).optional(),
  /**
   * The SQLite file, relative to the config file's folder; its folder is created when missing.
   * Unset: responses.sqlite in $SWITCHYARD_DATA_DIR when set (the image's writable volume), else
   * data/responses.sqlite beside the config file.
   */
  path: z.string().min(1).optional(),
  /** A stored response is deleted this many hours after it was made (OpenAI keeps them 30 days). */
  retention_hours: z.number().positive().default(720),
  /**
   * Most responses kept by the sqlite and memory stores; past it the oldest go first. Unset: 100000.
   * Redis is bounded by its own maxmemory with a volatile-* policy (every response has a TTL).
   */
  max_stored: positiveInt.optional(),
  /**
   * Largest stored record (a response with the conversation it continues, as JSON): a continuation
   * whose conversation would pass it is refused before generating, naming previous_response_id.
   * Every stored response holds the whole chain before it, so this bounds what a long chain costs.
   */
  max_response_bytes: positiveInt.default(16 * 1024 * 1024),
  /** Unset: [api.rate_limit] redis_url. */
  redis_url: z
    .string()
    .regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL')
    .optional(),
  /** Prefix of the response keys in Redis. Unset: [api.rate_limit] key_prefix. */
  key_prefix: z.string().min(1).optional(),
});

export const apiSchema = z.strictObject({
  enabled: z.boolean().default(true),
  address: addressSchema.default('127.0.0.1:8080'),
  api_key: z.string().min(1).optional(),
  /** Name of an environment variable holding the key, so a config can be committed. */
  api_key_env: z.string().min(1).optional(),
  /** Every /v1 request needs a key. Unset: true when a key is configured (see LoadedConfig.requireAuth). */
  require_auth: z.boolean().optional(),
  /** Accept the key as ?api_key= (it ends up in proxy logs: off by default). */
  allow_query_key: z.boolean().default(false),
  /** Required to listen on a non-loopback address with require_auth = false. */
  allow_unauthenticated: z.boolean().default(false),
  max_requests_per_minute: nonNegativeInt.default(0),
  max_tokens_per_minute: nonNegativeInt.default(0),
  /** Requests one key (or client address) may have running at once; 0 = unlimited. */
  max_concurrent_requests: nonNegativeInt.default(0),
  /**
   * Wrong keys one client address (IPv6: its /64) may present per minute; past it, only keys
   * already used from that address pass until the minute is over. 0 = no limit.
   */
  max_auth_failures_per_minute: nonNegativeInt.default(20),
  keys: z.array(keySchema).default([]),
  rate_limit: rateLimitSchema.default(() => rateLimitSchema.parse({})),
  responses: responsesSchema.default(() => responsesSchema.parse({})),
  cors_enabled: z.boolean().default(false),
  cors_origins: z.array(z.string().min(1)).default([]),
  /** Seconds in-flight requests and streams get to finish on SIGTERM/SIGINT before they are ended. */
  shutdown_grace: z.number().nonnegative().default(30),
  /** Re-read and apply the config file when it changes on disk. */
  watch_config: z.boolean().default(true),
  /** Largest request body in bytes. */
  max_body_bytes: positiveInt.default(4 * 1024 * 1024),
  /** Largest image of a chat message, decoded, in bytes (its base64 data URL is a third larger, within max_body_bytes). */
  max_image_bytes: positiveInt.default(3 * 1024 * 1024),
  /** Most image parts one chat request may carry (each costs the engine an image encoding). */
  max_images_per_request: positiveInt.default(8),
  /**
   * Seconds a stream may wait for a client that reads nothing: generation pauses while the
   * socket's buffer is full, and the stream is ended (its slot freed) after this long.
   */
  stream_stall_timeout: z.number().positive().default(60),
  models: modelsSchema(modelSchemaFor()),
});

export const loggingSchema = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** "auto": readable on a terminal, JSON lines otherwise. */
  format: z.enum(['auto', 'json', 'pretty']).default('auto'),
});

export const metricsSchema = z.strictObject({
  /** Serve Prometheus metrics at GET /metrics. */
  enabled: z.boolean().default(true),
  /** A separate listen address for /metrics (e.g. "0.0.0.0:9090"); absent: the API's own. */
  address: addressSchema.optional(),
  /** Require an API key for /metrics (on the API's address). */
  require_auth: z.boolean().default(false),
});

/** [engines.llama_server]: the llama-server engine's own settings (its models' keys are in [api.models.ID]). */
export const llamaServerEngineSchema = z.strictObject({
  /**
   * The llama-server binary to run (relative to the config file's folder), e.g. an official CUDA
   * build. Absent: the one SWITCHYARD_LLAMA_SERVER names, else the one the install step built.
   */
  binary: z.string().min(1).optional(),
  /**
   * The liveness check: while a model's process serves, its /health is asked every
   * `health_check_interval_seconds`, with `health_check_timeout_seconds` to answer 200; after
   * `health_check_failures` failed checks in a row the process is taken for hung (alive, not
   * answering: a deadlock, a stuck GPU driver), killed with SIGKILL and restarted as after a crash.
   * llama-server answers /health from its HTTP threads, not its generation loop, so a process busy
   * on every slot still passes. Defaults: a hung process is found within about 30 s, while a
   * machine too loaded to answer in 5 s three times running is not taken for hung.
   */
  health_check_interval_seconds: z.number().positive().default(5),
  health_check_timeout_seconds: z.number().positive().default(5),
  health_check_failures: z.number().int().min(1).default(3),
  /**
   * How long a start may take before the process is killed and the start counts as failed.
   * Absent: 60 s plus 1 s per 100 MiB of model file (reading it is what takes the time).
   */
  load_timeout_seconds: z.number().positive().optional(),
});

/** Settings of engines that run outside the gateway's process, one table per engine. */
export const enginesSchema = z.strictObject({
  llama_server: llamaServerEngineSchema.default(() => llamaServerEngineSchema.parse({})),
});

/**
 * One [plugins.NAME] table: `path` for a plugin that is not first-party, and the plugin's own
 * options, which its `optionsSchema` validates (see src/plugins/plugin-loader.ts).
 */
export const pluginTableSchema = z.looseObject({
  /** A JavaScript module exporting the plugin, relative to the config file. First-party plugins need none. */
  path: z.string().min(1).optional(),
});

export const pluginNameSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'a plugin name of lowercase letters, digits, _ and -');

/** The schema of the whole file, with what loaded plugins add (their backends and model keys). */
export function buildConfigSchema(extension?: ConfigExtension) {
  const api = extension ? apiSchema.extend({ models: modelsSchema(modelSchemaFor(extension)) }) : apiSchema;
  return z.strictObject({
    api: api.default(() => api.parse({})),
    logging: loggingSchema.default(() => loggingSchema.parse({})),
    metrics: metricsSchema.default(() => metricsSchema.parse({})),
    engines: enginesSchema.default(() => enginesSchema.parse({})),
    plugins: z.record(pluginNameSchema, pluginTableSchema).default({}),
  });
}

export const configSchema = buildConfigSchema();

export type Config = z.infer<typeof configSchema>;
export type ApiConfig = Config['api'];
export type ModelConfig = z.infer<typeof modelSchema>;
export type KeyConfig = z.infer<typeof keySchema>;
export type EnginesConfig = z.infer<typeof enginesSchema>;
export type RateLimitConfig = z.infer<typeof rateLimitSchema>;
export type ResponsesConfig = z.infer<typeof responsesSchema>;
/** A built-in backend or one a plugin registered: names are known only once plugins are loaded. */
export type BackendName = string;
export type PluginTableConfig = z.infer<typeof pluginTableSchema>;

// The one schema of config.toml. Defaults live here and nowhere else; the config types are
// inferred from it. Objects are strict so that an operator's typo is an error, never ignored.
import { z } from 'zod';
import { describeValue } from './value-description.js';

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();

/** "host:port", "[v6]:port" or a bare port. */
export const addressSchema = z
  .string()
  .regex(/^(?:(?:\[[0-9a-fA-F:.]+\]|[^\s:\[\]]+):)?\d{1,5}$/, 'an address such as "127.0.0.1:8080"');

export const modelTypes = ['chat', 'completion', 'embedding', 'rerank'] as const;
/** The engines built into switchyard; plugins add more (see `buildConfigSchema`). */
export const backendNames = ['llama', 'onnx'] as const;

/**
 * The keys of one [api.models.ID] table. `path` and `backend` are checked by the refinement in
 * `modelSchemaFor`: `path` is required unless the model's backend is a plugin's that needs none,
 * and `backend` must name a built-in engine or one a plugin registered.
 */
export const modelSchema = z.strictObject({
  /** A .gguf file (llama.cpp) or a folder with an .onnx file and tokenizer.json (ONNX Runtime). */
  path: z.string().min(1).optional(),
  type: z.enum(modelTypes),
  /** Inferred from `path` when absent. */
  backend: z.string().min(1).optional(),
  /** Other names clients may use for this model. */
  aliases: z.array(z.string().min(1)).default([]),
  /** "startup" loads before the gateway reports ready; "lazy" on first use. */
  load: z.enum(['startup', 'lazy']).default('startup'),
  /** Seconds without requests after which the model is unloaded; the next request loads it again. */
  idle_unload_after: z.number().positive().optional(),
  /** Where to fetch the model file from when `path` is missing (http or https). */
  source: z.string().regex(/^https?:\/\//, 'an http:// or https:// URL').optional(),
  /** Expected SHA-256 of the file fetched from `source`. */
  sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, '64 hexadecimal digits').optional(),

  // Generation (llama.cpp)
  context_length: positiveInt.optional(),
  default_temperature: z.number().min(0).max(2).default(0.7),
  /** Used when a request gives no max_tokens; capped by what the context leaves. */
  default_max_tokens: positiveInt.optional(),
  /** "auto" offloads what fits when a GPU is present; a number fixes the layer count. */
  gpu_layers: z.union([z.literal('auto'), z.literal('max'), nonNegativeInt]).default('auto'),
  /** CPU threads for the engine; 0 lets the engine choose. */
  threads: nonNegativeInt.optional(),
  /** Sequences sharing one context: concurrent requests are batched together. */
  parallel: positiveInt.default(4),
  batch_size: positiveInt.optional(),
  /** A Jinja chat template that replaces the one in the GGUF. */
  chat_template: z.string().min(1).optional(),

  // Scheduling
  /** Requests that may wait for a slot; beyond it a 429. */
  max_queue: nonNegativeInt.default(64),
  /** Seconds a request may wait for a slot before a 503. */
  queue_timeout: z.number().positive().default(30),
  /**
   * Slots one request's n choices may hold at once (the rest take turns), so that a request with
   * n = 16 leaves slots to others. Default: half of `parallel`, rounded up.
   */
  max_slots_per_request: positiveInt.optional(),
  /**
   * Seconds one generation (one choice) may hold its slot; beyond it the request ends with a 504
   * `generation_timeout`. Five minutes leaves a long completion on a CPU room (4,096 tokens at
   * 15 tokens/s is 270 s) and bounds how long a costly grammar can slow the model's other requests.
   */
  max_generation_seconds: z.number().positive().default(300),
  /**
   * Seconds one generated token may take (the decode plus this request's own sampling; the first
   * token, which evaluates the prompt, is not timed); a slower one ends the generation with the same
   * 504 `generation_timeout` before another token is asked for. A step cannot be interrupted, so
   * this bounds a grammar whose cost multiplies at each token to about one step past the limit,
   * where `max_generation_seconds` could be overshot by a step of any length. 30 s is far above an
   * honest step on a CPU (about 1 s for a 70B model at 4 bits; 3 to 10 s for an 8B model when another
   * request's 512-token prompt chunk shares the decode). A 70B model on a CPU that evaluates other
   * requests' long prompts while generating needs more.
   */
  max_token_seconds: z.number().positive().default(30),

  // Embeddings and reranking
  dimensions: positiveInt.optional(),
  /** ONNX file name inside the folder when it holds several. */
  file: z.string().min(1).optional(),
  execution_providers: z.array(z.enum(['cuda', 'cpu'])).min(1).default(['cuda', 'cpu']),
  intra_op_threads: nonNegativeInt.optional(),
  inter_op_threads: nonNegativeInt.optional(),
  graph_optimization_level: z.enum(['disabled', 'basic', 'extended', 'all']).default('all'),
  /**
   * ONNX Runtime's worker threads spin while they wait for work (true) or sleep (false). Spinning
   * takes the cores the gateway's own threads need; it pays only when nothing else runs on them.
   */
  allow_spinning: z.boolean().default(false),
  pooling: z.enum(['mean', 'cls', 'last']).default('mean'),
  normalize: z.boolean().default(true),
  /** Inputs longer than the model's maximum are cut (true) or refused with a 400 (false). */
  truncate: z.boolean().default(true),
  max_inputs: positiveInt.default(2048),
  max_batch_size: positiveInt.default(32),
  max_batch_tokens: positiveInt.default(16384),
  /** Dynamic batching of concurrent embedding requests. */
  batching: z.boolean().default(true),
  /** Rerank scores through a sigmoid (0..1) rather than raw logits. */
  sigmoid: z.boolean().default(true),
});

/** A backend a plugin registered, as the config schema needs to know it. */
export interface PluginBackendSchema {
  /** The `backend` value models use. */
  name: string;
  /** The plugin that registered it (its [plugins.NAME] key), named in messages. */
  plugin: string;
  /** The model-level keys it adds to [api.models.ID], validated for its models only. */
  modelOptions?: z.ZodObject;
  /** Whether its models need `path`. */
  requiresPath: boolean;
}

/** What loaded plugins add to the schema. */
export interface ConfigExtension {
  backends: readonly PluginBackendSchema[];
  /** Backends of first-party plugins that are not enabled: named in the hint of an unknown `backend`. */
  knownPluginBackends?: Readonly<Record<string, string>>;
}

/**
 * The model schema with the keys of plugin backends added (each optional at this level) and the
 * checks that depend on the backend: its name, whether `path` is needed, and the plugin's own
 * schema for its keys. Plugin keys on a model of another backend are errors naming the backend.
 */
export function modelSchemaFor(extension: ConfigExtension = { backends: [] }) {
  const owners = new Map<string, string[]>();
  for (const backend of extension.backends) {
    for (const key of Object.keys(backend.modelOptions?.shape ?? {})) owners.set(key, [...(owners.get(key) ?? []), backend.name]);
  }
  const extraKeys = Object.fromEntries([...owners.keys()].map((key) => [key, z.unknown().optional()]));
  // The extra keys are only additive: the inferred type stays the built-in one, and a plugin
  // reads its keys through its own schema.
  const base = (owners.size > 0 ? modelSchema.extend(extraKeys) : modelSchema) as unknown as typeof modelSchema;
  const choices = [...backendNames, ...extension.backends.map((backend) => `${backend.name} (from plugin ${backend.plugin})`)].join(', ');
  return base.superRefine((model, context) => {
    const fields = model as Record<string, unknown>;
    const backendName = model.backend;
    const pluginBackend = extension.backends.find((backend) => backend.name === backendName);
    if (backendName !== undefined && !pluginBackend && !(backendNames as readonly string[]).includes(backendName)) {
      const plugin = extension.knownPluginBackends?.[backendName];
      const hint = plugin === undefined ? '' : ` (enable the plugin that provides it with [plugins.${plugin}])`;
      context.addIssue({ code: 'custom', path: ['backend'], message: `expected one of ${choices}, found ${describeValue(backendName)}${hint}`, input: backendName });
      return;
    }
    if (model.path === undefined && (pluginBackend?.requiresPath ?? true)) {
      context.addIssue({ code: 'custom', path: ['path'], message: 'expected a string, found nothing', input: undefined });
    }
    for (const [key, backends] of owners) {
      if (fields[key] === undefined || (backendName !== undefined && backends.includes(backendName))) continue;
      context.addIssue({
        code: 'custom',
        path: [key],
        message: `applies only to models with ${backends.map((name) => `backend = "${name}"`).join(' or ')}, found ${backendName === undefined ? 'no backend' : `backend = "${backendName}"`}`,
        input: fields[key],
      });
    }
    if (pluginBackend?.modelOptions) {
      const own = Object.fromEntries(Object.keys(pluginBackend.modelOptions.shape).map((key) => [key, fields[key]]));
      const result = pluginBackend.modelOptions.safeParse(own, { reportInput: true });
      if (!result.success) for (const issue of result.error.issues) context.addIssue({ ...issue } as never);
    }
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
  key_sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, '64 hexadecimal digits').optional(),
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
  redis_url: z.string().regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL').optional(),
  /** Prefix of every Redis key switchyard writes. */
  key_prefix: z.string().min(1).default('switchyard'),
  /** Completion tokens reserved up front when a request's max_tokens is larger (the rest is charged after the run). */
  max_reserved_completion_tokens: positiveInt.default(4096),
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
  cors_enabled: z.boolean().default(false),
  cors_origins: z.array(z.string().min(1)).default([]),
  /** Seconds in-flight requests and streams get to finish on SIGTERM/SIGINT before they are ended. */
  shutdown_grace: z.number().nonnegative().default(30),
  /** Re-read and apply the config file when it changes on disk. */
  watch_config: z.boolean().default(true),
  /** Largest request body in bytes. */
  max_body_bytes: positiveInt.default(4 * 1024 * 1024),
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
    plugins: z.record(pluginNameSchema, pluginTableSchema).default({}),
  });
}

export const configSchema = buildConfigSchema();

export type Config = z.infer<typeof configSchema>;
export type ApiConfig = Config['api'];
export type ModelConfig = z.infer<typeof modelSchema>;
export type KeyConfig = z.infer<typeof keySchema>;
export type RateLimitConfig = z.infer<typeof rateLimitSchema>;
export type BuiltInBackendName = (typeof backendNames)[number];
/** A built-in backend or one a plugin registered. */
export type BackendName = string;
export type PluginTableConfig = z.infer<typeof pluginTableSchema>;

// The one schema of config.toml. Defaults live here and nowhere else; the config types are
// inferred from it. Objects are strict so that an operator's typo is an error, never ignored.
import { z } from 'zod';

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();

/** "host:port", "[v6]:port" or a bare port. */
export const addressSchema = z
  .string()
  .regex(/^(?:(?:\[[0-9a-fA-F:.]+\]|[^\s:\[\]]+):)?\d{1,5}$/, 'an address such as "127.0.0.1:8080"');

export const modelTypes = ['chat', 'completion', 'embedding', 'rerank'] as const;
export const backendNames = ['llama', 'onnx'] as const;

export const modelSchema = z.strictObject({
  /** A .gguf file (llama.cpp) or a folder with an .onnx file and tokenizer.json (ONNX Runtime). */
  path: z.string().min(1),
  type: z.enum(modelTypes),
  /** Inferred from `path` when absent. */
  backend: z.enum(backendNames).optional(),
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

  // Embeddings and reranking
  dimensions: positiveInt.optional(),
  /** ONNX file name inside the folder when it holds several. */
  file: z.string().min(1).optional(),
  execution_providers: z.array(z.enum(['cuda', 'cpu'])).min(1).default(['cuda', 'cpu']),
  intra_op_threads: nonNegativeInt.optional(),
  inter_op_threads: nonNegativeInt.optional(),
  graph_optimization_level: z.enum(['disabled', 'basic', 'extended', 'all']).default('all'),
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
  require_auth: z.boolean().default(false),
  /** Accept the key as ?api_key= (it ends up in proxy logs: off by default). */
  allow_query_key: z.boolean().default(false),
  /** Required to listen on a non-loopback address with require_auth = false. */
  allow_unauthenticated: z.boolean().default(false),
  max_requests_per_minute: nonNegativeInt.default(0),
  max_tokens_per_minute: nonNegativeInt.default(0),
  /** Requests one key (or client address) may have running at once; 0 = unlimited. */
  max_concurrent_requests: nonNegativeInt.default(0),
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
  models: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:\/-]*$/, 'a model id of letters, digits and . _ : / -'), modelSchema).default({}),
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

export const configSchema = z.strictObject({
  api: apiSchema.default(() => apiSchema.parse({})),
  logging: loggingSchema.default(() => loggingSchema.parse({})),
  metrics: metricsSchema.default(() => metricsSchema.parse({})),
});

export type Config = z.infer<typeof configSchema>;
export type ApiConfig = Config['api'];
export type ModelConfig = z.infer<typeof modelSchema>;
export type KeyConfig = z.infer<typeof keySchema>;
export type RateLimitConfig = z.infer<typeof rateLimitSchema>;
export type BackendName = (typeof backendNames)[number];

// Reads config.toml, validates it against the one schema, resolves secrets from the environment,
// and turns every problem into a message naming the file, the line and the key path.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import TOML from '@iarna/toml';
import { closest } from 'fastest-levenshtein';
import { z } from 'zod';
import { locateLlamaServer } from '../backends/llama-server/binary.js';
import { llamaServerConfigProblems } from '../backends/llama-server/config-checks.js';
import { readSecret } from '../environment.js';
import { locateKey } from './key-location.js';
import { applyEngineFallback, type ConfigNotice } from './engine-fallback.js';
import { resolveResponseStoreSettings, type ResponseStoreSettings } from './response-store-settings.js';
import { buildConfigSchema, configSchema, loggingSchema, type Config, type ConfigExtension } from './schema.js';
import { describeValue, isSecretKey } from './value-description.js';

/**
 * An `*_env` value as an error may show it: a variable's name, or, when it does not look like one
 * (a key pasted into the wrong field), a redacted placeholder instead.
 */
function environmentVariableName(value: string): string {
  // Upper case, as variables are named by convention: a key of letters and digits is not echoed either.
  return /^[A-Z_][A-Z0-9_]{0,63}$/.test(value) ? value : `named by ${describeValue(value, { secret: true })}`;
}

export interface ConfigProblem {
  /** Dotted key path, e.g. `api.models.my-chat-model.context_length`; empty for syntax errors. */
  keyPath: string;
  line?: number;
  column?: number;
  message: string;
}

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    super(problems.map((problem) => formatProblem(file, problem)).join('\n'));
    this.name = 'ConfigError';
  }
}

/** A client key as the gateway holds it: only its SHA-256, never the key itself. */
export interface ResolvedKey {
  name: string;
  sha256: Buffer;
  /** Model ids, aliases or globs. */
  models: string[];
  role: 'user' | 'admin';
  maxRequestsPerMinute: number;
  maxTokensPerMinute: number;
  maxConcurrentRequests: number;
}

export interface LoadedConfig {
  config: Config;
  /** Absolute path of the file; relative model paths resolve against its folder. */
  file: string;
  /** Every key: `api_key`/`api_key_env` (named "default", an admin key) and each [[api.keys]]. */
  keys: ResolvedKey[];
  /**
   * Whether every /v1 request needs a key: `require_auth`, or when it is unset, whether a key is
   * configured (as llama.cpp's server with --api-key). Either way a presented key that matches no
   * configured key is refused; with no key configured, any presented key is anonymous.
   */
  requireAuth: boolean;
  /** What an operator should read about this config at every load (logged, per model). */
  notices: ConfigNotice[];
  /** [api.responses] with its unset keys filled from [api.rate_limit] and its path resolved. */
  responseStore: ResponseStoreSettings;
}

export function sha256Of(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

function formatProblem(file: string, problem: ConfigProblem): string {
  const where = problem.line === undefined ? file : `${file}:${problem.line}${problem.column === undefined ? '' : `:${problem.column}`}`;
  return problem.keyPath ? `${where}: ${problem.keyPath}: ${problem.message}` : `${where}: ${problem.message}`;
}

/** Walks the schema to the object at `path` to list the keys it allows (for did-you-mean). */
function allowedKeysAt(root: z.core.$ZodType, path: readonly PropertyKey[]): string[] {
  let schema: z.core.$ZodType | undefined = root;
  const unwrap = (candidate: z.core.$ZodType): z.core.$ZodType => {
    let current = candidate;
    for (;;) {
      const def = current._zod.def as { type: string; innerType?: z.core.$ZodType; in?: z.core.$ZodType };
      if ((def.type === 'default' || def.type === 'optional' || def.type === 'prefault') && def.innerType) current = def.innerType;
      // A model's schema ends in a transform (its backend's defaults): its keys are those of its input.
      else if (def.type === 'pipe' && def.in) current = def.in;
      else return current;
    }
  };
  for (const part of path) {
    if (!schema) return [];
    const def = unwrap(schema)._zod.def as { type: string; shape?: Record<string, z.core.$ZodType>; valueType?: z.core.$ZodType; element?: z.core.$ZodType };
    if (def.type === 'object' && def.shape) schema = def.shape[String(part)];
    else if (def.type === 'record') schema = def.valueType;
    else if (def.type === 'array') schema = def.element;
    else return [];
  }
  if (!schema) return [];
  const def = unwrap(schema)._zod.def as { type: string; shape?: Record<string, unknown> };
  return def.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}

function expectedOf(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.expected === 'int' ? 'an integer' : `${/^[aeiou]/.test(issue.expected) ? 'an' : 'a'} ${issue.expected}`;
    case 'invalid_value':
      return `one of ${issue.values.map((value) => JSON.stringify(value)).join(', ')}`;
    case 'too_small':
      return issue.origin === 'array'
        ? `at least ${String(issue.minimum)} item(s)`
        : issue.origin === 'string'
          ? 'a non-empty string'
          : `a value ${issue.inclusive ? '>=' : '>'} ${String(issue.minimum)}`;
    case 'too_big':
      return issue.origin === 'array' ? `at most ${String(issue.maximum)} item(s)` : `a value ${issue.inclusive ? '<=' : '<'} ${String(issue.maximum)}`;
    case 'invalid_format':
      return issue.message.replace(/^Invalid string: /, '');
    case 'invalid_union':
      return 'one of the allowed forms (see the README)';
    default:
      return issue.message;
  }
}

/**
 * Turns zod issues into config problems naming the key path and its line. `schema` is the schema
 * the issues came from (for the keys allowed beside an unknown one) and `prefix` the key path it
 * validated (a plugin's options validate the table at ['plugins', NAME]).
 */
export function configProblemsFromIssues(
  source: string,
  issues: z.core.$ZodIssue[],
  options: { schema: z.core.$ZodType; prefix?: readonly string[] },
): ConfigProblem[] {
  const prefix = options.prefix ?? [];
  const problems: ConfigProblem[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const allowed = allowedKeysAt(options.schema, issue.path);
      for (const key of issue.keys) {
        const keyPath = [...prefix, ...issue.path, key];
        const suggestion = allowed.length > 0 ? closest(key, allowed) : undefined;
        const hint = suggestion ? ` (did you mean "${suggestion}"?)` : '';
        problems.push({
          keyPath: keyPath.map(String).join('.'),
          line: locateKey(source, keyPath.map(String)),
          message: `unknown key "${key}"${hint}; allowed here: ${allowed.join(', ')}`,
        });
      }
      continue;
    }
    const keyPath = [...prefix, ...issue.path.map(String)];
    // The key that holds the value, past array indexes (`api_key = ["..."]` is at api_key.0).
    const holder = keyPath.filter((part) => !/^\d+$/.test(part)).at(-1) ?? '';
    const found = 'input' in issue ? describeValue(issue.input, { secret: isSecretKey(holder) }) : 'an invalid value';
    problems.push({
      keyPath: keyPath.join('.'),
      line: locateKey(source, keyPath),
      message: issue.code === 'custom' ? issue.message : `expected ${expectedOf(issue)}, found ${found}`,
    });
  }
  return problems;
}

/** Checks that hold across keys, which the per-key schema cannot express. */
function crossKeyProblems(source: string, config: Config, configDirectory: string, locate: LlamaServerLocator): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const { keyPath, message } of llamaServerConfigProblems(config, configDirectory, locate)) {
    problems.push({ keyPath: keyPath.join('.'), line: locateKey(source, keyPath), message });
  }
  const seen = new Map<string, string>();
  for (const [id, model] of Object.entries(config.api.models)) {
    for (const name of [id, ...model.aliases]) {
      const owner = seen.get(name);
      if (owner !== undefined && owner !== id) {
        const keyPath = ['api', 'models', id, 'aliases'];
        problems.push({ keyPath: keyPath.join('.'), line: locateKey(source, keyPath), message: `the name "${name}" is already used by model "${owner}"` });
      }
      seen.set(name, id);
    }
  }
  if (config.api.api_key !== undefined && config.api.api_key_env !== undefined) {
    const keyPath = ['api', 'api_key_env'];
    problems.push({ keyPath: keyPath.join('.'), line: locateKey(source, keyPath), message: 'set either api_key or api_key_env, not both' });
  }
  return problems;
}

/** Turns the configured keys into digests, reading secrets from the environment. */
function resolveKeys(source: string, config: Config, problems: ConfigProblem[]): ResolvedKey[] {
  const api = config.api;
  const keys: ResolvedKey[] = [];
  const problem = (keyPath: (string | number)[], message: string) =>
    problems.push({ keyPath: keyPath.join('.'), line: locateKey(source, keyPath.map(String)), message });
  const defaults = {
    maxRequestsPerMinute: api.max_requests_per_minute,
    maxTokensPerMinute: api.max_tokens_per_minute,
    maxConcurrentRequests: api.max_concurrent_requests,
  };
  let single = api.api_key;
  if (api.api_key_env !== undefined) {
    single = readSecret(api.api_key_env);
    if (single === undefined)
      problem(
        ['api', 'api_key_env'],
        `expected the environment variable ${environmentVariableName(api.api_key_env)} to hold the API key, found it unset or empty`,
      );
  }
  if (single !== undefined) keys.push({ name: 'default', sha256: sha256Of(single), models: ['*'], role: 'admin', ...defaults });
  const names = new Set(keys.map((key) => key.name));
  api.keys.forEach((key, index) => {
    const at = ['api', 'keys', index];
    const given = [key.key !== undefined && 'key', key.key_env !== undefined && 'key_env', key.key_sha256 !== undefined && 'key_sha256'].filter(Boolean);
    if (given.length !== 1) {
      problem(
        [...at, 'name'],
        given.length === 0
          ? 'expected one of key, key_env or key_sha256, found none'
          : `expected one of key, key_env or key_sha256, found ${given.join(' and ')}`,
      );
      return;
    }
    if (names.has(key.name)) problem([...at, 'name'], `the key name "${key.name}" is used twice`);
    names.add(key.name);
    let sha256: Buffer | undefined;
    if (key.key !== undefined) sha256 = sha256Of(key.key);
    else if (key.key_sha256 !== undefined) sha256 = Buffer.from(key.key_sha256, 'hex');
    else if (key.key_env !== undefined) {
      const secret = readSecret(key.key_env);
      if (secret === undefined)
        problem([...at, 'key_env'], `expected the environment variable ${environmentVariableName(key.key_env)} to hold the key, found it unset or empty`);
      else sha256 = sha256Of(secret);
    }
    if (!sha256) return;
    keys.push({
      name: key.name,
      sha256,
      models: key.models,
      role: key.role,
      maxRequestsPerMinute: key.max_requests_per_minute ?? defaults.maxRequestsPerMinute,
      maxTokensPerMinute: key.max_tokens_per_minute ?? defaults.maxTokensPerMinute,
      maxConcurrentRequests: key.max_concurrent_requests ?? defaults.maxConcurrentRequests,
    });
  });
  if (api.require_auth === true && keys.length === 0 && problems.length === 0) {
    problem(['api', 'require_auth'], 'require_auth is true but no key is configured: set api_key, api_key_env or [[api.keys]]');
  }
  if (config.metrics.require_auth && config.metrics.address === undefined && keys.length === 0 && problems.length === 0) {
    problem(['metrics', 'require_auth'], 'require_auth is true but no key is configured: set [api] api_key, api_key_env or [[api.keys]]');
  }
  if (api.rate_limit.store === 'redis' && api.rate_limit.redis_url === undefined) {
    problem(['api', 'rate_limit', 'store'], 'store = "redis" needs redis_url');
  }
  return keys;
}

/** Parses TOML text, or throws a ConfigError with the line and column of the syntax error. */
export function parseToml(source: string, file: string): Record<string, unknown> {
  try {
    return TOML.parse(source) as Record<string, unknown>;
  } catch (error) {
    const syntax = error as { line?: number; col?: number; message?: string };
    // @iarna/toml positions are 0-based; editors count from 1.
    const message = (syntax.message ?? String(error)).split('\n')[0].replace(/ at row \d+, col \d+, pos \d+:?$/, '');
    throw new ConfigError(file, [
      {
        keyPath: '',
        line: syntax.line === undefined ? undefined : syntax.line + 1,
        column: syntax.col === undefined ? undefined : syntax.col + 1,
        message: `invalid TOML: ${message}`,
      },
    ]);
  }
}

/** The [api.models.ID] tables as written (valid by now: the schema accepted them). */
function modelTablesOf(data: Record<string, unknown>): Record<string, unknown> {
  const api = data.api as { models?: Record<string, unknown> } | undefined;
  return api?.models ?? {};
}

/** Where the llama-server binary is (src/backends/llama-server/binary.ts); tests pass their own. */
type LlamaServerLocator = typeof locateLlamaServer;

/**
 * Parses and validates config text; `file` is only used in messages and to resolve paths.
 * `extension` is what loaded plugins add (their backends and model keys; see src/plugins/).
 */
export function parseConfig(source: string, file: string, extension?: ConfigExtension, locate: LlamaServerLocator = locateLlamaServer): LoadedConfig {
  const data = parseToml(source, file);
  const schema = extension ? buildConfigSchema(extension) : configSchema;
  const result = schema.safeParse(data, { reportInput: true });
  if (!result.success) throw new ConfigError(file, configProblemsFromIssues(source, result.error.issues, { schema }));
  const config = result.data;
  const configDirectory = path.dirname(path.resolve(file));
  const notices = applyEngineFallback(config, modelTablesOf(data), configDirectory, locate);
  const problems = crossKeyProblems(source, config, configDirectory, locate);
  const keys = resolveKeys(source, config, problems);
  const responseStore = resolveResponseStoreSettings(config, configDirectory);
  for (const { keyPath, message } of responseStore.problems) problems.push({ keyPath: keyPath.join('.'), line: locateKey(source, keyPath), message });
  if (problems.length > 0) throw new ConfigError(file, problems);
  return {
    config,
    file: path.resolve(file),
    keys,
    requireAuth: config.api.require_auth ?? keys.length > 0,
    notices,
    responseStore: responseStore.settings,
  };
}

/**
 * The [logging] settings of config text, or the defaults when the text or the table is invalid
 * (full validation reports that): the process logger exists before plugins load.
 */
export function loggingSettingsOf(source: string): { level: Config['logging']['level']; format: Config['logging']['format'] } {
  let logging: unknown;
  try {
    logging = parseToml(source, '').logging;
  } catch {
    // Invalid TOML: the full validation that follows reports it, with its line.
    logging = undefined;
  }
  const result = loggingSchema.safeParse(logging ?? {});
  return result.success ? result.data : loggingSchema.parse({});
}

/** Reads the config file's text, or throws a ConfigError saying why it cannot. */
export async function readConfigSource(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory, expected a file' : String(error);
    throw new ConfigError(file, [{ keyPath: '', message: `cannot read the config file: ${reason}` }]);
  }
}

export async function loadConfigFile(file: string, extension?: ConfigExtension): Promise<LoadedConfig> {
  return parseConfig(await readConfigSource(file), file, extension);
}

// Loads the plugins named in [plugins.NAME] tables: imports each module (first-party ones by name,
// others from `path`), validates its options with its own schema, runs its `setup`, and only then
// validates the rest of the config, so that models may use the backends and keys plugins add.
// Every problem is a ConfigError naming the file, the line and the key (`plugins.NAME.path: ...`).
//
// Plugins load once, when the gateway starts: a reload validates the new file against the
// plugins already running, and a changed [plugins] table takes effect at the next start.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { closest } from 'fastest-levenshtein';
import { z } from 'zod';
import { backendNames } from '../backends/index.js';
import { modelSchema, pluginNameSchema, pluginTableSchema } from '../config/schema.js';
import { ConfigError, configProblemsFromIssues, parseConfig, parseToml, type ConfigProblem, type LoadedConfig } from '../config/load-config.js';
import { locateKey } from '../config/key-location.js';
import { errors, GatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import { jsonBody } from '../http/json-body.js';
import type { PluginContext, SwitchyardPlugin } from './plugin-api.js';
import { PluginHost } from './plugin-host.js';

/** Plugins shipped in plugins/, enabled by name alone. */
export const firstPartyPlugins = ['remote', 'audit-log'] as const;

/** Backends first-party plugins provide, for the hint when a model names one that is not enabled. */
const firstPartyBackends: Record<string, string> = { remote: 'remote' };

const pluginTablesSchema = z.record(pluginNameSchema, pluginTableSchema);

/** The body size limit plugin routes parse with (the [api] default; plugins see no reloads). */
const PLUGIN_BODY_LIMIT = 4 * 1024 * 1024;

function moduleUrl(name: string, table: { path?: string }, configDirectory: string): string | undefined {
  if (table.path !== undefined) return pathToFileURL(path.resolve(configDirectory, table.path)).href;
  if ((firstPartyPlugins as readonly string[]).includes(name)) return new URL(`../../plugins/${name}/index.js`, import.meta.url).href;
  return undefined;
}

function isPlugin(candidate: unknown): candidate is SwitchyardPlugin {
  const plugin = candidate as Partial<SwitchyardPlugin> | undefined;
  return typeof plugin === 'object' && plugin !== null && typeof plugin.name === 'string' && typeof plugin.setup === 'function';
}

interface PendingPlugin {
  name: string;
  plugin: SwitchyardPlugin;
  options: unknown;
}

/**
 * Imports, validates and sets up the plugins of a config file's text. Throws a ConfigError
 * listing every problem; a plugin whose setup fails closes the ones set up before it.
 */
export async function loadPlugins(options: { source: string; file: string; logger: Logger }): Promise<PluginHost> {
  const { source, file, logger } = options;
  const configDirectory = path.dirname(path.resolve(file));
  const data = parseToml(source, file);
  const problems: ConfigProblem[] = [];
  const problem = (keyPath: string[], message: string) => problems.push({ keyPath: keyPath.join('.'), line: locateKey(source, keyPath), message });

  const tables = pluginTablesSchema.safeParse(data.plugins ?? {}, { reportInput: true });
  if (!tables.success) throw new ConfigError(file, configProblemsFromIssues(source, tables.error.issues, { schema: pluginTablesSchema, prefix: ['plugins'] }));

  const pending: PendingPlugin[] = [];
  for (const [name, table] of Object.entries(tables.data)) {
    const at = ['plugins', name];
    const url = moduleUrl(name, table, configDirectory);
    if (url === undefined) {
      const suggestion = closest(name, [...firstPartyPlugins]);
      problem(
        at,
        `unknown plugin "${name}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}: first-party plugins are ${firstPartyPlugins.join(', ')}; any other needs path = "./its-module.js"`,
      );
      continue;
    }
    let module: Record<string, unknown>;
    try {
      module = (await import(url)) as Record<string, unknown>;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const reason =
        code === 'ERR_MODULE_NOT_FOUND' && table.path !== undefined
          ? `file not found: ${path.resolve(configDirectory, table.path)}`
          : error instanceof Error
            ? error.message.split('\n')[0]
            : String(error);
      problem(table.path === undefined ? at : [...at, 'path'], `cannot load the plugin: ${reason}`);
      continue;
    }
    const plugin = isPlugin(module.default) ? module.default : isPlugin(module) ? module : undefined;
    if (!plugin) {
      problem(table.path === undefined ? at : [...at, 'path'], 'the module does not export a plugin: expected { name, setup } as its default export');
      continue;
    }
    const { path: _path, ...given } = table;
    if (plugin.optionsSchema) {
      const parsed = plugin.optionsSchema.safeParse(given, { reportInput: true });
      if (!parsed.success) {
        problems.push(...configProblemsFromIssues(source, parsed.error.issues, { schema: plugin.optionsSchema, prefix: at }));
        continue;
      }
      pending.push({ name, plugin, options: parsed.data });
    } else {
      for (const key of Object.keys(given)) problem([...at, key], `unknown key "${key}": plugin "${name}" takes no options`);
      pending.push({ name, plugin, options: {} });
    }
  }
  if (problems.length > 0) throw new ConfigError(file, problems);

  const host = new PluginHost(logger, firstPartyBackends);
  const builtInModelKeys = new Set(Object.keys(modelSchema.shape));
  for (const { name, plugin, options: pluginOptions } of pending) {
    const pluginLogger = logger.child({ plugin: name });
    const context: PluginContext = {
      name,
      options: pluginOptions,
      logger: pluginLogger,
      configDirectory,
      errors,
      GatewayError,
      registerBackend(backend) {
        if (backendNames.includes(backend.name)) throw new Error(`backend "${backend.name}" is built in`);
        const owner = host.backends.get(backend.name);
        if (owner) throw new Error(`backend "${backend.name}" is already registered by plugin "${owner.plugin}"`);
        const clashes = Object.keys(backend.modelOptionsSchema?.shape ?? {}).filter((key) => builtInModelKeys.has(key));
        if (clashes.length > 0) throw new Error(`backend "${backend.name}" declares model keys that are built in: ${clashes.join(', ')}`);
        host.backends.set(backend.name, { plugin: name, backend: backend as never });
      },
      addHooks(hooks) {
        host.hooks.push({ plugin: name, hooks, logger: pluginLogger });
      },
      addRoutes(router) {
        host.routers.push({ plugin: name, router });
      },
      jsonBody: () => jsonBody(() => PLUGIN_BODY_LIMIT),
      onClose(close) {
        host.addCloser(name, close);
      },
    };
    try {
      await plugin.setup(context);
    } catch (error) {
      await host.close();
      throw new ConfigError(file, [
        {
          keyPath: name ? `plugins.${name}` : 'plugins',
          line: locateKey(source, ['plugins', name]),
          message: `the plugin's setup failed: ${error instanceof Error ? error.message : String(error)}`,
        },
      ]);
    }
    host.names.push(name);
    logger.info({ plugin: name, backends: [...host.backends].filter(([, entry]) => entry.plugin === name).map(([backend]) => backend) }, 'plugin loaded');
  }
  return host;
}

/** Validates config text with its plugins: they load first, then the config is checked against what they add. */
export async function parseConfigWithPlugins(source: string, file: string, logger: Logger): Promise<{ loaded: LoadedConfig; plugins: PluginHost }> {
  const plugins = await loadPlugins({ source, file, logger });
  try {
    return { loaded: parseConfig(source, file, plugins.configExtension), plugins };
  } catch (error) {
    await plugins.close();
    throw error;
  }
}

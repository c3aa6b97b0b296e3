// What the loaded plugins registered: backends, request hooks, routes and their close handlers.
// Created by the plugin loader at startup, read by the gateway, closed last at shutdown.
import type Router from '@koa/router';
import type { BackendFactories } from '../backends/index.js';
import type { BackendFactory } from '../engine/contract.js';
import type { ConfigExtension } from '../config/schema.js';
import type { Logger } from '../logger.js';
import type { PluginBackend, RequestHooks } from './plugin-api.js';

export interface RegisteredBackend {
  plugin: string;
  backend: PluginBackend;
}

export interface RegisteredHooks {
  plugin: string;
  hooks: RequestHooks;
  logger: Logger;
}

export class PluginHost {
  /** Plugin names in config order. */
  readonly names: string[] = [];
  readonly backends = new Map<string, RegisteredBackend>();
  readonly hooks: RegisteredHooks[] = [];
  readonly routers: Array<{ plugin: string; router: Router }> = [];
  private readonly closers: Array<{ plugin: string; close: () => void | Promise<void> }> = [];
  private closing?: Promise<void>;

  constructor(
    /** The gateway's logger. */
    readonly logger: Logger,
    /** Backends of first-party plugins not enabled, named in the hint of an unknown `backend`. */
    private readonly knownPluginBackends: Readonly<Record<string, string>> = {},
  ) {}

  /** What the config schema needs: the backends' names, their model keys, whether they need `path`. */
  get configExtension(): ConfigExtension {
    const enabled = new Set(this.backends.keys());
    return {
      backends: [...this.backends.entries()].map(([name, { plugin, backend }]) => ({
        name,
        plugin,
        modelOptions: backend.modelOptionsSchema,
        requiresPath: backend.requiresPath ?? false,
      })),
      knownPluginBackends: Object.fromEntries(Object.entries(this.knownPluginBackends).filter(([backend]) => !enabled.has(backend))),
    };
  }

  /** One factory per plugin backend, giving `load` the model's own keys parsed by the backend's schema. */
  backendFactories(): BackendFactories {
    const factories: Record<string, BackendFactory> = {};
    for (const [name, { backend }] of this.backends) {
      const schema = backend.modelOptionsSchema;
      factories[name] = async (context) => {
        const fields = context.config as Record<string, unknown>;
        // Already validated at config load; this applies the schema's defaults.
        const modelOptions = schema ? schema.parse(Object.fromEntries(Object.keys(schema.shape).map((key) => [key, fields[key]]))) : {};
        return backend.load({ ...context, modelOptions });
      };
    }
    return factories;
  }

  addCloser(plugin: string, close: () => void | Promise<void>): void {
    this.closers.push({ plugin, close });
  }

  /** Runs the plugins' close handlers, last registered first; a failing one is logged. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const { plugin, close } of [...this.closers].reverse()) {
        try {
          await close();
        } catch (error) {
          this.logger.warn({ plugin, err: error }, 'plugin close failed');
        }
      }
    })();
    return this.closing;
  }
}

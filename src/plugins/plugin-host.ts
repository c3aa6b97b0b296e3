// What the loaded plugins registered: backends, request hooks, routes and their close handlers.
// Created by the plugin loader at startup, read by the gateway, closed last at shutdown.
import type Router from '@koa/router';
import type { BackendFactories } from '../backends/index.js';
import { backendFactory } from '../engine/backend-descriptor.js';
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

  /** What the config schema needs: the backends (their names, model keys, paths) and who registered them. */
  get configExtension(): ConfigExtension {
    const enabled = new Set(this.backends.keys());
    return {
      backends: [...this.backends.values()],
      knownPluginBackends: Object.fromEntries(Object.entries(this.knownPluginBackends).filter(([backend]) => !enabled.has(backend))),
    };
  }

  /** One factory per plugin backend, made as the built-in backends' are. */
  backendFactories(): BackendFactories {
    return Object.fromEntries([...this.backends].map(([name, { backend }]) => [name, backendFactory(backend)]));
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

// Starts and stops the whole gateway: what it is made of (gateway-wiring.ts), its HTTP servers
// (http-servers.ts) and the config file watch. Created by an async factory; closing stops
// accepting first, lets requests finish, then disposes everything in reverse order of creation.
import type http from 'node:http';
import type { BackendFactories } from '../backends/index.js';
import type { LoadedConfig } from '../config/load-config.js';
import { watchConfigFile } from '../config/config-watcher.js';
import type { GatewayState } from '../http/gateway-state.js';
import type { Logger } from '../logger.js';
import type { PluginHost } from '../plugins/plugin-host.js';
import type { ModelEntry, ModelRegistry, ReloadSummary } from '../registry/model-registry.js';
import { checkNetworkExposure, parseAddress } from './address.js';
import { createApp, createMetricsApp } from './app.js';
import { DisposalStack } from './disposal-stack.js';
import { wireGateway } from './gateway-wiring.js';
import { HttpServers } from './http-servers.js';

export interface GatewayOptions {
  loaded: LoadedConfig;
  logger: Logger;
  /** Overrides `[api] address` (the CLI's --address). */
  address?: string;
  /** Engine adapters; tests of the HTTP layer may pass stand-ins. */
  factories?: BackendFactories;
  /** Resolves once startup models have loaded; default false (load in the background). */
  waitForModels?: boolean;
  /** Prepares a model's file before it is inspected (downloads a missing `source`). */
  prepareModel?: (entry: ModelEntry, logger: Logger) => Promise<void>;
  /** The plugins the config was validated with (src/plugins/plugin-loader.ts); the gateway closes them. */
  plugins?: PluginHost;
}

export interface Gateway {
  readonly url: string;
  readonly port: number;
  readonly metricsUrl?: string;
  readonly registry: ModelRegistry;
  readonly server: http.Server;
  readonly state: GatewayState;
  /** Resolves when every startup model has loaded or failed. */
  readonly modelsSettled: Promise<void>;
  /** Re-reads the config file and applies what changed; rejects (keeping the running config) when it is invalid. */
  reload(): Promise<ReloadSummary>;
  /** Graceful: stop accepting, let requests finish within the grace period, end the rest, dispose. */
  close(options?: { graceMs?: number }): Promise<void>;
}

async function wireAndListen(options: GatewayOptions, address: string, resources: DisposalStack) {
  const wiring = await wireGateway(options, resources);
  const { metrics } = wiring.running.config;
  const servers = await HttpServers.listen(
    { app: createApp(wiring.state), address },
    metrics.enabled && metrics.address ? { app: createMetricsApp(wiring.state), address: metrics.address } : undefined,
  );
  return { ...wiring, servers };
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { logger, plugins } = options;
  const address = options.address ?? options.loaded.config.api.address;
  checkNetworkExposure(parseAddress(address).host, options.loaded);

  const resources = new DisposalStack();
  // The plugins were loaded before the gateway (the config is validated with them): closed last.
  if (plugins) resources.defer(() => plugins.close());
  const { state, registry, running, reloads, shutdown, servers } = await wireAndListen(options, address, resources).catch(async (error: unknown) => {
    await resources.dispose().catch((disposeError: unknown) => logger.warn({ err: disposeError }, 'disposing a gateway that failed to start failed'));
    throw error;
  });
  logger.info({ url: servers.url, metricsUrl: servers.metricsUrl, models: registry.list().length }, 'listening');

  const watcher = running.config.api.watch_config
    ? watchConfigFile(running.loaded.file, () => {
        reloads.reload().catch(() => undefined);
      })
    : undefined;

  const modelsSettled = registry.loadStartupModels().catch((error: unknown) => logger.error({ err: error }, 'model loading failed'));
  if (options.waitForModels) await modelsSettled;

  let closing: Promise<void> | undefined;
  return {
    url: servers.url,
    port: servers.port,
    metricsUrl: servers.metricsUrl,
    registry,
    server: servers.server,
    state,
    modelsSettled,
    reload: () => reloads.reload(),
    close({ graceMs } = {}) {
      // Reverse order of creation: the watch, the servers (with their grace), the startup loads, then what the wiring made.
      closing ??= (async () => {
        shutdown.begin();
        watcher?.close();
        await servers.close(graceMs ?? running.config.api.shutdown_grace * 1000, () => shutdown.endRunningWork(), logger);
        await modelsSettled;
        await resources.dispose();
        logger.info('stopped');
      })();
      return closing;
    },
  };
}

// Starts and stops the whole gateway: registry, limits, app, HTTP server(s), config reloads.
// Created by an async factory and disposed in reverse order.
import { setMaxListeners } from 'node:events';
import { FailedKeyThrottle } from '../limits/failed-key-throttle.js';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import { backendFactories, type BackendFactories } from '../backends/index.js';
import { loadConfigFile, type LoadedConfig } from '../config/load-config.js';
import { watchConfigFile, type ConfigWatcher } from '../config/config-watcher.js';
import { createLimiterStore, type LimiterStore } from '../limits/limiter-store.js';
import type { Logger } from '../logger.js';
import { GatewayMetrics } from '../metrics/gateway-metrics.js';
import type { PluginHost } from '../plugins/plugin-host.js';
import { ModelRegistry, type ModelEntry, type ReloadSummary } from '../registry/model-registry.js';
import { isLoopback, parseAddress } from './address.js';
import { createApp, createMetricsApp } from './app.js';
import { createKeyRing, type KeyRing } from './middleware/auth.js';
import type { GatewayState } from './gateway-state.js';

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

function keyRingOf(loaded: LoadedConfig): KeyRing {
  const api = loaded.config.api;
  return createKeyRing({
    requireAuth: loaded.requireAuth,
    allowQueryKey: api.allow_query_key,
    keys: loaded.keys,
    anonymousLimits: { maxRequestsPerMinute: api.max_requests_per_minute, maxTokensPerMinute: api.max_tokens_per_minute, maxConcurrentRequests: api.max_concurrent_requests },
  });
}

function checkNetworkExposure(host: string, loaded: LoadedConfig): void {
  const api = loaded.config.api;
  if (!isLoopback(host) && !loaded.requireAuth && !api.allow_unauthenticated) {
    throw new Error(
      `refusing to listen on ${host} without authentication: set require_auth = true with a key, or allow_unauthenticated = true to serve anyone who can reach this address`,
    );
  }
}

async function listen(server: http.Server, address: string): Promise<string> {
  const { host, port } = parseAddress(address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  return `http://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { logger } = options;
  let loaded = options.loaded;
  const address = options.address ?? loaded.config.api.address;
  checkNetworkExposure(parseAddress(address).host, loaded);

  let keyRing = keyRingOf(loaded);
  let limiterStore: LimiterStore = createLimiterStore(loaded.config.api.rate_limit, logger);
  let shuttingDown = false;
  const shutdown = new AbortController();
  // Every request in flight listens on it (see client-abort.ts): thousands are not a leak.
  setMaxListeners(0, shutdown.signal);
  // eslint-disable-next-line prefer-const
  let metrics: GatewayMetrics;
  const plugins = options.plugins;
  const registry = await ModelRegistry.create({
    config: loaded.config,
    baseDirectory: path.dirname(loaded.file),
    logger,
    factories: { ...(options.factories ?? backendFactories), ...plugins?.backendFactories() },
    prepare: options.prepareModel ? (entry) => options.prepareModel!(entry, logger) : undefined,
    events: {
      onLoaded: (entry) => metrics.modelLoadSeconds.set({ model: entry.id }, entry.loadSeconds ?? 0),
      onBatch: (entry, size) => metrics.embeddingBatchSize.observe({ model: entry.id }, size),
    },
  });
  metrics = new GatewayMetrics(() => registry);

  let reloading: Promise<ReloadSummary> | undefined;
  const reload = async (): Promise<ReloadSummary> => {
    // Validate first: an invalid file leaves everything as it is.
    let next: LoadedConfig;
    try {
      next = await loadConfigFile(loaded.file, plugins?.configExtension);
    } catch (error) {
      metrics.reloads.inc({ result: 'failed' });
      logger.error({ err: error instanceof Error ? error.message : String(error) }, 'config reload rejected: the running config stays');
      throw error;
    }
    const previous = loaded;
    loaded = next;
    keyRing = keyRingOf(next);
    if (!isDeepStrictEqual(previous.config.api.rate_limit, next.config.api.rate_limit)) {
      const old = limiterStore;
      limiterStore = createLimiterStore(next.config.api.rate_limit, logger);
      void old.dispose();
    }
    if (previous.config.api.address !== next.config.api.address) logger.warn({ address: next.config.api.address }, 'a new listen address takes effect at the next start');
    if (!isDeepStrictEqual(previous.config.plugins, next.config.plugins)) logger.warn('changes to [plugins] take effect at the next start');
    const summary = await registry.applyConfig(next.config, path.dirname(next.file));
    metrics.reloads.inc({ result: 'succeeded' });
    if (summary.failed.length > 0) logger.warn(summary, 'config reloaded; some models could not be loaded');
    else logger.info(summary, 'config reloaded');
    return summary;
  };
  const serializedReload = () => {
    const run = (reloading ?? Promise.resolve()).catch(() => undefined).then(reload);
    reloading = run;
    return run;
  };

  const state: GatewayState = {
    config: () => loaded.config,
    registry: () => registry,
    keyRing: () => keyRing,
    limiterStore: () => limiterStore,
    failedKeys: new FailedKeyThrottle(() => ({ store: limiterStore, maxFailuresPerMinute: loaded.config.api.max_auth_failures_per_minute })),
    logger,
    metrics,
    shuttingDown: () => shuttingDown,
    shutdownSignal: shutdown.signal,
    reload: serializedReload,
    plugins,
  };

  const app = createApp(state);
  const server = http.createServer(app.callback());
  // Slow clients may not hold a socket forever while sending headers or a body.
  server.headersTimeout = 30_000;
  server.requestTimeout = 120_000;
  server.keepAliveTimeout = 65_000;
  let metricsServer: http.Server | undefined;
  let url: string;
  let metricsUrl: string | undefined;
  try {
    url = await listen(server, address);
    if (loaded.config.metrics.enabled && loaded.config.metrics.address) {
      metricsServer = http.createServer(createMetricsApp(state).callback());
      metricsUrl = await listen(metricsServer, loaded.config.metrics.address);
    }
  } catch (error) {
    server.close();
    await registry.dispose();
    await limiterStore.dispose();
    await plugins?.close();
    throw error;
  }
  logger.info({ url, metricsUrl, models: registry.list().length }, 'listening');

  let watcher: ConfigWatcher | undefined;
  if (loaded.config.api.watch_config) {
    watcher = watchConfigFile(loaded.file, () => {
      serializedReload().catch(() => undefined);
    });
  }

  const modelsSettled = registry.loadStartupModels().catch((error: unknown) => logger.error({ err: error }, 'model loading failed'));
  if (options.waitForModels) await modelsSettled;

  let closing: Promise<void> | undefined;
  return {
    url,
    port: (server.address() as AddressInfo).port,
    metricsUrl,
    registry,
    server,
    state,
    modelsSettled,
    reload: serializedReload,
    close({ graceMs } = {}) {
      closing ??= (async () => {
        shuttingDown = true;
        watcher?.close();
        const grace = graceMs ?? loaded.config.api.shutdown_grace * 1000;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        // Keep-alive connections become idle as their last response ends: close them as they do.
        const idleCloser = setInterval(() => server.closeIdleConnections(), 100);
        server.closeIdleConnections();
        metricsServer?.close();
        metricsServer?.closeAllConnections();
        const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), grace).unref());
        if ((await Promise.race([closed.then(() => 'closed' as const), timer])) === 'timeout') {
          logger.warn({ graceSeconds: grace / 1000 }, 'shutdown grace period over: ending the requests still running');
          shutdown.abort();
          await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
          server.closeAllConnections();
        }
        clearInterval(idleCloser);
        await modelsSettled;
        await registry.dispose();
        await limiterStore.dispose();
        await plugins?.close();
        logger.info('stopped');
      })();
      return closing;
    },
  };
}

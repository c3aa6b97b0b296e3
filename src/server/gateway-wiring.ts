// What one gateway is made of, made in dependency order: the running config (key ring, limiter
// and response stores), the metrics, the model registry (whose loads and batches the metrics count, and whose
// models they then describe), the reload coordinator, and the state the HTTP layer reads. What
// needs disposing goes on `resources` as it is made, so that it is disposed in reverse.
import path from 'node:path';
import { backendFactories } from '../backends/index.js';
import { loadConfigFile } from '../config/load-config.js';
import type { GatewayState } from '../http/gateway-state.js';
import { FailedKeyThrottle } from '../limits/failed-key-throttle.js';
import { GatewayMetrics } from '../metrics/gateway-metrics.js';
import { ModelRegistry } from '../registry/model-registry.js';
import { checkNetworkExposure, parseAddress } from './address.js';
import type { DisposalStack } from './disposal-stack.js';
import type { GatewayOptions } from './gateway.js';
import { ReloadCoordinator } from './reload-coordinator.js';
import { RunningConfig } from './running-config.js';
import { Shutdown } from './shutdown.js';

export interface GatewayWiring {
  state: GatewayState;
  registry: ModelRegistry;
  running: RunningConfig;
  reloads: ReloadCoordinator;
  shutdown: Shutdown;
}

export async function wireGateway(options: GatewayOptions, resources: DisposalStack): Promise<GatewayWiring> {
  const { logger, plugins } = options;
  const running = new RunningConfig(options.loaded, logger);
  resources.defer(() => running.dispose());
  // Read at scrape time only, once the registry (made next: the metrics count its loads) exists.
  const metrics = new GatewayMetrics({ models: () => registry.list() });
  const registry = await ModelRegistry.create({
    config: running.config,
    baseDirectory: path.dirname(running.loaded.file),
    logger,
    factories: { ...(options.factories ?? backendFactories), ...plugins?.backendFactories() },
    prepare: options.prepareModel ? (entry) => options.prepareModel!(entry, logger) : undefined,
    events: {
      onLoaded: (entry) => metrics.modelLoadSeconds.set({ model: entry.id }, entry.loadSeconds ?? 0),
      onBatch: (entry, size) => metrics.embeddingBatchSize.observe({ model: entry.id }, size),
    },
  });
  resources.defer(() => registry.dispose());
  const host = parseAddress(options.address ?? options.loaded.config.api.address).host;
  const load = async (file: string) => {
    const next = await loadConfigFile(file, plugins?.configExtension);
    checkNetworkExposure(host, next);
    return next;
  };
  const reloads = new ReloadCoordinator({ running, load, models: registry, metrics, logger });
  const shutdown = new Shutdown();
  const state: GatewayState = {
    config: () => running.config,
    registry: () => registry,
    keyRing: () => running.keyRing,
    limiterStore: () => running.limiterStore,
    responseStore: () => running.responseStore,
    failedKeys: new FailedKeyThrottle(() => ({ store: running.limiterStore, maxFailuresPerMinute: running.config.api.max_auth_failures_per_minute })),
    logger,
    metrics,
    shuttingDown: () => shutdown.begun,
    shutdownSignal: shutdown.signal,
    reload: () => reloads.reload(),
    plugins,
  };
  return { state, registry, running, reloads, shutdown };
}

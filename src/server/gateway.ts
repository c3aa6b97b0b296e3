// Starts and stops the whole gateway: registry, app, HTTP server. Created by an async factory
// and disposed in reverse order.
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { backendFactories, type BackendFactories } from '../backends/index.js';
import type { LoadedConfig } from '../config/load-config.js';
import type { Logger } from '../logger.js';
import { ModelRegistry } from '../registry/model-registry.js';
import { isLoopback, parseAddress } from './address.js';
import { createLimiterStore } from '../limits/limiter-store.js';
import { createApp } from './app.js';
import { createKeyRing } from './middleware/auth.js';
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
}

export interface Gateway {
  readonly url: string;
  readonly port: number;
  readonly registry: ModelRegistry;
  readonly server: http.Server;
  /** Resolves when every startup model has loaded or failed. */
  readonly modelsSettled: Promise<void>;
  close(): Promise<void>;
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { loaded, logger } = options;
  const registry = await ModelRegistry.create({
    config: loaded.config,
    baseDirectory: path.dirname(loaded.file),
    logger,
    factories: options.factories ?? backendFactories,
  });
  const api = loaded.config.api;
  const { host, port } = parseAddress(options.address ?? api.address);
  if (!isLoopback(host) && !api.require_auth && !api.allow_unauthenticated) {
    throw new Error(
      `refusing to listen on ${host} without authentication: set require_auth = true with a key, or allow_unauthenticated = true to serve anyone who can reach this address`,
    );
  }
  const keyRing = createKeyRing({
    requireAuth: api.require_auth,
    allowQueryKey: api.allow_query_key,
    keys: loaded.keys,
    anonymousLimits: { maxRequestsPerMinute: api.max_requests_per_minute, maxTokensPerMinute: api.max_tokens_per_minute, maxConcurrentRequests: api.max_concurrent_requests },
  });
  const limiterStore = createLimiterStore(api.rate_limit, logger);
  const state: GatewayState = { config: () => loaded.config, registry: () => registry, keyRing: () => keyRing, limiterStore: () => limiterStore, logger };
  const app = createApp(state);
  const server = http.createServer(app.callback());
  // Slow clients may not hold a socket forever while sending headers or a body.
  server.headersTimeout = 30_000;
  server.requestTimeout = 120_000;
  server.keepAliveTimeout = 65_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const urlHost = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  const url = `http://${urlHost}:${bound.port}`;
  logger.info({ url, models: registry.list().length }, 'listening');

  const modelsSettled = registry.loadStartupModels().catch((error: unknown) => logger.error({ err: error }, 'model loading failed'));
  if (options.waitForModels) await modelsSettled;

  let closing: Promise<void> | undefined;
  return {
    url,
    port: bound.port,
    registry,
    server,
    modelsSettled,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        await modelsSettled;
        await registry.dispose();
        await limiterStore.dispose();
      })();
      return closing;
    },
  };
}

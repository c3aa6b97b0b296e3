// What the HTTP layer reads on every request. Getters, not values, so that a reload can swap
// the config, the key ring or the limits without rebuilding the app.
import type { Config } from '../config/schema.js';
import type { FailedKeyThrottle } from '../limits/failed-key-throttle.js';
import type { LimiterStore } from '../limits/limiter-store.js';
import type { Logger } from '../logger.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import type { PluginHost } from '../plugins/plugin-host.js';
import type { ModelRegistry, ReloadSummary } from '../registry/model-registry.js';
import type { KeyRing } from './key-ring.js';
import type { ResponseStore } from '../responses/response-store.js';

export interface GatewayState {
  config(): Config;
  registry(): ModelRegistry;
  keyRing(): KeyRing;
  limiterStore(): LimiterStore;
  /** Where stored Responses API responses live. */
  responseStore(): ResponseStore;
  /** Wrong keys counted per client address, on the API's routes and the public ones alike. */
  failedKeys: FailedKeyThrottle;
  logger: Logger;
  metrics: GatewayMetrics;
  /** True once shutdown began: /ready answers 503 and new work is refused. */
  shuttingDown(): boolean;
  /** Aborted when the shutdown grace period is over: work still running ends. */
  shutdownSignal: AbortSignal;
  /** Re-reads the config file and applies it (admin endpoint, SIGHUP, file watch). */
  reload(): Promise<ReloadSummary>;
  /** What plugins registered (loaded once at start): request hooks, routes, backends. */
  plugins?: PluginHost;
}

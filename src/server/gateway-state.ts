// What the HTTP layer reads on every request. Getters, not values, so that a reload can swap
// the config, the key ring, the limits or the registry without rebuilding the app.
import type { Config } from '../config/schema.js';
import type { LimiterStore } from '../limits/limiter-store.js';
import type { Logger } from '../logger.js';
import type { ModelRegistry } from '../registry/model-registry.js';
import type { KeyRing } from './middleware/auth.js';

export interface GatewayState {
  config(): Config;
  registry(): ModelRegistry;
  keyRing(): KeyRing;
  limiterStore(): LimiterStore;
  logger: Logger;
}

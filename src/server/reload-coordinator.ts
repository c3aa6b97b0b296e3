// Applies a changed config file to a running gateway (admin endpoint, SIGHUP, file watch): the
// file is validated first, so that an invalid one leaves everything as it is; then the key ring
// and the limiter store are swapped and the models reconfigured. Reloads run one at a time, in
// the order they were asked for, however fast they come.
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { LoadedConfig } from '../config/load-config.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../logger.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import type { ReloadSummary } from '../registry/model-registry.js';
import type { RunningConfig } from './running-config.js';

export interface ReloadCoordinatorOptions {
  running: RunningConfig;
  /** Reads and validates a config file (with what the plugins add to the schema). */
  load(file: string): Promise<LoadedConfig>;
  /** Where the models' part of a config is applied (the model registry). */
  models: { applyConfig(config: Config, baseDirectory: string): Promise<ReloadSummary> };
  metrics: Pick<GatewayMetrics, 'reloads'>;
  logger: Logger;
}

export class ReloadCoordinator {
  #last: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: ReloadCoordinatorOptions) {}

  /** Re-reads the config file and applies what changed; rejects (keeping the running config) when it is invalid. */
  reload(): Promise<ReloadSummary> {
    const run = this.#last.catch(() => undefined).then(() => this.#reloadNow());
    this.#last = run;
    return run;
  }

  async #reloadNow(): Promise<ReloadSummary> {
    const { running, metrics, logger } = this.options;
    let next: LoadedConfig;
    let previous: LoadedConfig;
    try {
      next = await this.options.load(running.loaded.file);
      // Throws, changing nothing, when a changed response store cannot be opened.
      previous = running.swap(next);
    } catch (error) {
      metrics.reloads.inc({ result: 'failed' });
      logger.error({ err: error instanceof Error ? error.message : String(error) }, 'config reload rejected: the running config stays');
      throw error;
    }
    if (previous.config.api.address !== next.config.api.address)
      logger.warn({ address: next.config.api.address }, 'a new listen address takes effect at the next start');
    if (!isDeepStrictEqual(previous.config.plugins, next.config.plugins)) logger.warn('changes to [plugins] take effect at the next start');
    const summary = await this.options.models.applyConfig(next.config, path.dirname(next.file));
    metrics.reloads.inc({ result: 'succeeded' });
    if (summary.failed.length > 0) logger.warn(summary, 'config reloaded; some models could not be loaded');
    else logger.info(summary, 'config reloaded');
    return summary;
  }
}

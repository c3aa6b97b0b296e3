// The reload coordinator without an HTTP server: a real config file and loader, the running
// config it swaps, and a stand-in for the model registry that records when it is reconfigured.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfigFile } from '../../src/config/load-config.js';
import type { Config } from '../../src/config/schema.js';
import { createSilentLogger } from '../../src/logger.js';
import { GatewayMetrics } from '../../src/metrics/gateway-metrics.js';
import type { ReloadSummary } from '../../src/registry/model-registry.js';
import { ReloadCoordinator } from '../../src/server/reload-coordinator.js';
import { RunningConfig } from '../../src/server/running-config.js';

const withKey = (key: string, requestsPerMinute = 0) => `[api]\nrequire_auth = true\napi_key = "${key}"\nmax_requests_per_minute = ${requestsPerMinute}\n`;
const noChange: ReloadSummary = { added: [], removed: [], changed: [], unchanged: [], failed: [] } as unknown as ReloadSummary;

/** A model registry stand-in: each applyConfig takes `delayMs`, and records when it ran. */
function recordingModels(delayMs = 0) {
  const runs: Array<{ config: Config; started: number; ended: number }> = [];
  let active = 0;
  let mostAtOnce = 0;
  return {
    runs,
    mostAtOnce: () => mostAtOnce,
    async applyConfig(config: Config): Promise<ReloadSummary> {
      active += 1;
      mostAtOnce = Math.max(mostAtOnce, active);
      const started = performance.now();
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      active -= 1;
      runs.push({ config, started, ended: performance.now() });
      return noChange;
    },
  };
}

async function reloadCounts(metrics: GatewayMetrics): Promise<Record<string, number>> {
  const { values } = await metrics.reloads.get();
  return Object.fromEntries(values.map(({ labels, value }) => [String(labels.result), value]));
}

describe('reload coordinator', () => {
  let directory: string;
  let file: string;

  before(async () => {
    directory = await mkdtemp(path.join(os.tmpdir(), 'switchyard-reload-'));
    file = path.join(directory, 'config.toml');
  });
  after(() => rm(directory, { recursive: true, force: true }));

  async function start(delayMs = 0) {
    await writeFile(file, withKey('sk-first'));
    const running = new RunningConfig(await loadConfigFile(file), createSilentLogger());
    const models = recordingModels(delayMs);
    const metrics = new GatewayMetrics({ models: () => [] });
    const coordinator = new ReloadCoordinator({ running, load: (path) => loadConfigFile(path), models, metrics, logger: createSilentLogger() });
    return { running, models, metrics, coordinator };
  }

  test('an invalid file is rejected and the running config, key ring and limiter store stay', async () => {
    const { running, models, metrics, coordinator } = await start();
    const { loaded, keyRing, limiterStore } = running;
    await writeFile(file, '[api]\nrequire_auth = "yes"\n');
    await assert.rejects(coordinator.reload(), ConfigError);
    assert.equal(running.loaded, loaded);
    assert.equal(running.keyRing, keyRing);
    assert.equal(running.limiterStore, limiterStore);
    assert.ok(running.keyRing.identify('sk-first'), 'the running key still works');
    assert.equal(models.runs.length, 0, 'the models are not touched');
    assert.deepEqual(await reloadCounts(metrics), { failed: 1 });
    await running.dispose();
  });

  test('a valid file swaps the key ring; the limiter store is kept unless [api.rate_limit] changed', async () => {
    const { running, models, metrics, coordinator } = await start();
    const limiterStore = running.limiterStore;
    await writeFile(file, withKey('sk-second', 10));
    await coordinator.reload();
    assert.equal(running.keyRing.identify('sk-first'), undefined);
    assert.ok(running.keyRing.identify('sk-second'));
    assert.equal(running.config.api.max_requests_per_minute, 10);
    assert.equal(running.limiterStore, limiterStore, 'same [api.rate_limit]: the counts survive');
    await writeFile(file, `${withKey('sk-second', 10)}[api.rate_limit]\nkey_prefix = "other"\n`);
    await coordinator.reload();
    assert.notEqual(running.limiterStore, limiterStore, 'a changed [api.rate_limit] gets a new store');
    assert.equal(models.runs.length, 2);
    assert.deepEqual(await reloadCounts(metrics), { succeeded: 2 });
    await running.dispose();
  });

  test('reloads asked for at once run one after another', async () => {
    const { running, models, metrics, coordinator } = await start(50);
    await writeFile(file, withKey('sk-second', 1));
    const first = coordinator.reload();
    const second = coordinator.reload();
    await Promise.all([first, second]);
    assert.equal(models.runs.length, 2);
    assert.equal(models.mostAtOnce(), 1, 'never two at once');
    assert.ok(models.runs[1].started >= models.runs[0].ended, 'the second began after the first ended');

    assert.deepEqual(await reloadCounts(metrics), { succeeded: 2 });
    await running.dispose();
  });

  test('a failed reload does not stop the one asked for at the same time', async () => {
    const { running, metrics } = await start();
    const models = recordingModels(20);
    let loads = 0;
    const load = async (configFile: string) => {
      loads += 1;
      if (loads === 1) {
        await writeFile(configFile, withKey('sk-third'));
        throw new Error('the file could not be read');
      }
      return loadConfigFile(configFile);
    };
    const coordinator = new ReloadCoordinator({ running, load, models, metrics, logger: createSilentLogger() });
    const failing = coordinator.reload();
    const next = coordinator.reload();
    await assert.rejects(failing, /could not be read/);
    await next;
    assert.ok(running.keyRing.identify('sk-third'));
    assert.equal(models.runs.length, 1);
    assert.deepEqual(await reloadCounts(metrics), { failed: 1, succeeded: 1 });
    await running.dispose();
  });
});

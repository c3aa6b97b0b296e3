// Starts a real listening gateway on an ephemeral loopback port from TOML text, for end-to-end
// tests driven by the official openai SDK and raw HTTP.
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import type { BackendFactories } from '../../src/backends/index.js';
import { parseConfigWithPlugins } from '../../src/plugins/plugin-loader.js';
import { pino } from 'pino';
import { startGateway, type Gateway } from '../../src/server/gateway.js';

export interface TestGateway {
  gateway: Gateway;
  url: string;
  client: OpenAI;
  /** Every log record the gateway wrote (access lines included), parsed. */
  logs: Array<Record<string, unknown>>;
  /** The config file the gateway was started from (rewrite it to test reloads). */
  configFile: string;
  close(): Promise<void>;
}

export async function startTestGateway(
  toml: string,
  options: { factories?: BackendFactories; apiKey?: string; waitForModels?: boolean } = {},
): Promise<TestGateway> {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'switchyard-test-'));
  const file = path.join(directory, 'config.toml');
  await writeFile(file, toml);
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  // Plugins ([plugins.NAME]) load first; the config is then checked against what they add.
  const { loaded, plugins } = await parseConfigWithPlugins(toml, file, logger);
  const gateway = await startGateway({
    loaded,
    logger,
    address: '127.0.0.1:0',
    factories: options.factories,
    plugins,
    waitForModels: options.waitForModels ?? true,
  });
  const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: options.apiKey ?? 'sk-test', maxRetries: 0, timeout: 60_000 });
  return { gateway, url: gateway.url, client, logs, configFile: file, close: () => gateway.close({ graceMs: 5_000 }) };
}

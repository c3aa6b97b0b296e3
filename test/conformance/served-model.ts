// How a conformance target serves the model under test: a gateway started in-process from TOML, or
// (the remote backend) a gateway whose model is forwarded over loopback to a second gateway that
// serves the local model. The suites see only the HTTP API, so they hold whatever the engines,
// routes and registry look like inside.
import type OpenAI from 'openai';
import { locateLlamaServer } from '../../src/backends/llama-server/binary.js';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.js';

/** The id every target serves its model under. */
export const MODEL = 'model-under-test';

export interface ServedModel {
  /** The gateway's base URL (without /v1). */
  url: string;
  client: OpenAI;
  model: string;
  close(): Promise<void>;
}

function modelTable(keys: string): string {
  return `[api.models.${MODEL}]\n${keys.trim()}\n`;
}

/** Starts a gateway and checks, through /v1/models, that the model under test loaded. */
async function startReady(toml: string): Promise<TestGateway> {
  const gateway = await startTestGateway(toml);
  const response = await fetch(`${gateway.url}/v1/models/${MODEL}`);
  const metadata = ((await response.json()) as { metadata?: { status?: string; reason?: string } }).metadata;
  if (metadata?.status !== 'ready') {
    await gateway.close();
    throw new Error(`the model under test is ${metadata?.status ?? 'missing'}: ${metadata?.reason ?? `HTTP ${response.status}`}`);
  }
  return gateway;
}

/** One gateway serving the model described by `keys` (the lines of its [api.models.ID] table). */
export async function serveLocal(keys: string): Promise<ServedModel> {
  const gateway = await startReady(modelTable(keys));
  return { url: gateway.url, client: gateway.client, model: MODEL, close: () => gateway.close() };
}

/**
 * A gateway whose model has backend = "remote", forwarding to a second gateway that serves the model
 * described by `upstreamKeys`. `frontKeys` are the remote model's own keys (its type, limits).
 */
export async function serveRemote(upstreamKeys: string, frontKeys: string): Promise<ServedModel> {
  const upstream = await startReady(modelTable(upstreamKeys));
  try {
    const front = await startReady(`
[plugins.remote]
# No periodic checks: a request is what marks the upstream up or down during the suite. A short
# backoff, so that a check failing by marking the upstream down does not fail the checks after it.
health_check_interval = 0
backoff_initial = 0.05
backoff_max = 0.1

${modelTable(`backend = "remote"\nupstreams = ["${upstream.url}/v1"]\n${frontKeys}`)}`);
    return {
      url: front.url,
      client: front.client,
      model: MODEL,
      close: async () => {
        await front.close();
        await upstream.close();
      },
    };
  } catch (error) {
    await upstream.close();
    throw error;
  }
}

/**
 * The targets of the llama-server engine, when a binary can be found (npm ci builds one; see the
 * README): `keys` with `backend = "llama-server"` put first. Without a binary there are none, and
 * the suite says so once.
 */
export function llamaServerTargets<Target extends { name: string; start: () => Promise<ServedModel> }>(target: Target): Target[] {
  if (locateLlamaServer(undefined, process.cwd()) !== undefined) return [target];
  console.log(`# no llama-server binary: the ${target.name} conformance target is left out (set SWITCHYARD_LLAMA_SERVER or run npm ci)`);
  return [];
}

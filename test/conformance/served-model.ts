// How a conformance target serves the model under test: a gateway started in-process from TOML, or
// (the remote backend) a gateway whose model is forwarded over loopback to a second gateway that
// serves the local model. The suites see only the HTTP API, so they hold whatever the engines,
// routes and registry look like inside.
import assert from 'node:assert/strict';
import OpenAI from 'openai';
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

/** A target of a capability suite: one line per backend in that capability's test file. */
export interface ConformanceTarget<Features> {
  name: string;
  features: Features;
  start(): Promise<ServedModel>;
}

function modelTable(keys: string): string {
  return `[api.models.${MODEL}]\n${keys.trim()}\n`;
}

async function startReady(toml: string): Promise<TestGateway> {
  const gateway = await startTestGateway(toml);
  const entry = gateway.gateway.registry.find(MODEL);
  if (entry?.status !== 'ready') {
    await gateway.close();
    throw new Error(`the model under test did not load: ${entry?.reason ?? 'not configured'}`);
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

export interface RawResponse {
  status: number;
  headers: Headers;
  body: unknown;
}

/** POSTs a JSON body with fetch, for what the SDK has no method for or would refuse to send. */
export async function postJson(served: ServedModel, path: string, body: unknown): Promise<RawResponse> {
  const response = await fetch(`${served.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Left as text: the assertion below then shows what came instead of JSON.
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** Asserts a 400 in OpenAI's envelope, optionally with its param and code; returns the error. */
export function assertBadRequest(response: RawResponse, expected: { param?: string; code?: string } = {}): OpenAIErrorBody['error'] {
  const shown = JSON.stringify(response.body);
  assert.equal(response.status, 400, shown);
  const { error } = response.body as OpenAIErrorBody;
  assert.equal(typeof error?.message, 'string', shown);
  assert.ok(error.message.length > 0, shown);
  assert.equal(error.type, 'invalid_request_error', shown);
  assert.ok('param' in error && 'code' in error, `param and code are present, null or not: ${shown}`);
  if (expected.param !== undefined) assert.equal(error.param, expected.param, shown);
  if (expected.code !== undefined) assert.equal(error.code, expected.code, shown);
  return error;
}

/** Whether a test runs: a target without the feature skips it, and the report says why. */
export function skipUnless(target: ConformanceTarget<object>, feature: string, has: boolean): { skip?: string } {
  return has ? {} : { skip: `${target.name} does not support ${feature}` };
}

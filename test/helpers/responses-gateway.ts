// A gateway for the Responses API's end-to-end tests: the tool-capable fixture (`tools`, one
// sequence, a queue of one) and the thinking fixture (`think`, a thought budget) on the in-process
// engine, behind keys. `extraToml` is appended to the config (a [responses] store section, say),
// so that a test can restart a gateway on the same settings.
import OpenAI from 'openai';
import { startTestGateway, type TestGateway } from './test-gateway.js';
import { writeThinkingModel } from './thinking-model.js';
import { writeToolModel } from './tool-model.js';

/** The keys of the config, by name. */
export const RESPONSES_KEYS = {
  alice: 'sk-alice-0000',
  bob: 'sk-bob-1111',
  /** May use `think` only. */
  narrow: 'sk-narrow-2222',
  /** 200 tokens per minute. */
  tokens: 'sk-tokens-3333',
} as const;

export type ResponsesKey = keyof typeof RESPONSES_KEYS;

export const THOUGHT_BUDGET = 6;

export async function responsesGatewayConfig(extraToml = ''): Promise<string> {
  const common = `backend = "llama"\ntype = "chat"\nthreads = 1\nparallel = 1\n`;
  return `
[api]
require_auth = true
api_key = "sk-admin-key-0000"

[[api.keys]]
name = "alice"
key = "${RESPONSES_KEYS.alice}"

[[api.keys]]
name = "bob"
key = "${RESPONSES_KEYS.bob}"

[[api.keys]]
name = "narrow"
key = "${RESPONSES_KEYS.narrow}"
models = ["think"]

[[api.keys]]
name = "tokens"
key = "${RESPONSES_KEYS.tokens}"
max_tokens_per_minute = 200

[api.models.tools]
path = "${await writeToolModel()}"
${common}context_length = 1024
max_queue = 1
queue_timeout = 60

[api.models.think]
path = "${await writeThinkingModel()}"
${common}context_length = 512
max_thinking_tokens = ${THOUGHT_BUDGET}
${extraToml}`;
}

export interface ResponsesGateway {
  gateway: TestGateway;
  /** An SDK client with that key. */
  client(key: ResponsesKey): OpenAI;
  close(): Promise<void>;
}

export async function startResponsesGateway(extraToml = ''): Promise<ResponsesGateway> {
  const gateway = await startTestGateway(await responsesGatewayConfig(extraToml), { apiKey: RESPONSES_KEYS.alice });
  return {
    gateway,
    client: (key) => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: RESPONSES_KEYS[key], maxRetries: 0, timeout: 60_000 }),
    close: () => gateway.close(),
  };
}

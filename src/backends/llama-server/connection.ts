// How a llama-server model's capabilities reach the process that serves it. The supervisor owns the
// process (and restarts it on a new port after a crash); the capabilities only ever ask the
// connection where it is now, so a restart needs nothing from them.
import type { Logger } from '../../logger.js';
import type { OpenAIClient } from '../../upstream/openai-client.js';

export interface LlamaServerConnection {
  /** The model's configured id, for messages and logs. */
  readonly modelId: string;
  /** `http://127.0.0.1:PORT` of the process serving now; throws EngineUnavailableError while there is none. */
  baseUrl(): string;
  /** The shared HTTP client (keep-alive connections, response-header timeout, errors told apart). */
  readonly client: OpenAIClient;
  readonly logger: Logger;
}

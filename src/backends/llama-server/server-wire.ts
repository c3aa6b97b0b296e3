// Requests to a model's llama-server and its failures in the gateway's terms: JSON calls, the
// native /completion event stream, and the one mapping from what the server (or the socket to it)
// said to a domain error. The capabilities (chat.ts, embedding.ts, …) call nothing else.
import type { IncomingMessage } from 'node:http';
import { EngineUnavailableError, InputTooLongError, InvalidImageError, InvalidInputError, UnsupportedFeatureError } from '../../engine/errors.js';
import { networkReason, UpstreamHttpError, UpstreamStreamError, UpstreamTimeoutError } from '../../upstream/openai-client.js';
import { readSseData } from '../../upstream/sse-frames.js';
import type { LlamaServerConnection } from './connection.js';

/**
 * How long a client waits before retrying a model whose process is gone: a restart of a small
 * model takes about a second (spawn, load, health), the supervisor's first backoff about as much.
 */
export const RESTART_RETRY_MS = 1_500;

/** The server's messages are relayed to clients: one line, at most this many characters. */
const MESSAGE_LIMIT = 400;

/** A message of the server fit to relay: control characters out, long ones cut. */
export function relayableMessage(message: string): string {
  const oneLine = message.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return oneLine.length <= MESSAGE_LIMIT ? oneLine : `${oneLine.slice(0, MESSAGE_LIMIT)}…`;
}

interface ServerErrorBody {
  message: string;
  type?: string;
}

/** What the server answers (a 500) when its decoder cannot read an image of a prompt (mtmd-helper's stb_image or ffmpeg). */
const IMAGE_NOT_DECODED = /failed to load image/i;

/** `{"error": {"message", "type"}}`, the server's envelope (also the payload of an in-band error frame). */
function serverErrorOf(body: unknown): ServerErrorBody | undefined {
  const error = (body as { error?: { message?: unknown; type?: unknown } } | undefined)?.error;
  if (error === undefined || error === null || typeof error !== 'object') return undefined;
  return { message: typeof error.message === 'string' ? error.message : 'no message', type: typeof error.type === 'string' ? error.type : undefined };
}

function unavailable(connection: LlamaServerConnection, reason: string): EngineUnavailableError {
  return new EngineUnavailableError(
    `model "${connection.modelId}" is not serving right now (its llama-server process ${reason}); retry shortly`,
    RESTART_RETRY_MS,
  );
}

/**
 * What a failed call means to the gateway. Unreachable, reset or silent: the process crashed or
 * is restarting (EngineUnavailableError). The server's 400s are the client's: a prompt past the
 * context is InputTooLongError, the others InvalidInputError with the server's message; a 501 is a
 * feature this model lacks; an image its decoder could not read is InvalidImageError, the client's
 * fault though the server answers 500. Anything else stays an Error (a 500, its detail in the log).
 */
export function engineErrorOf(connection: LlamaServerConnection, error: unknown, field?: string): Error {
  if (error instanceof DOMException && error.name === 'TimeoutError') return unavailable(connection, `did not answer within ${GET_TIMEOUT_MS / 1000} s`);
  if (error instanceof EngineUnavailableError || error instanceof InvalidInputError || error instanceof InputTooLongError) return error;
  if (error instanceof UpstreamHttpError) {
    const server = serverErrorOf(error.body);
    const message = relayableMessage(server?.message ?? (typeof error.body === 'string' ? error.body : `status ${error.status}`));
    if (server?.type === 'exceed_context_size_error') return new InputTooLongError(message, field ?? 'prompt');
    if (IMAGE_NOT_DECODED.test(message)) return new InvalidImageError(`the image could not be decoded (${message})`, field);
    if (error.status === 501) return new UnsupportedFeatureError(message, field);
    if (error.status === 503) return unavailable(connection, `is not ready: ${message}`);
    if (error.status >= 400 && error.status < 500) return new InvalidInputError(message, field);
    return new Error(`llama-server of model "${connection.modelId}" answered ${error.status}: ${message}`, { cause: error });
  }
  if (error instanceof UpstreamTimeoutError) return unavailable(connection, `did not answer: ${error.message}`);
  // fetch's TypeError: refused (no process on the port), reset or closed (it died mid-request).
  if (error instanceof TypeError) return unavailable(connection, `cannot be reached: ${networkReason(error)}`);
  return error instanceof Error ? error : new Error(String(error));
}

/** A UTF-16 surrogate without its other half: JSON may escape one, but it is no character. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * A request body as llama-server can parse it: a lone surrogate (which JSON.stringify writes as a
 * `\udXXX` escape) makes its JSON parser throw, and the request fail with a 500; it becomes U+FFFD,
 * as the in-process engine's UTF-8 conversion makes it.
 */
export function serverJson(body: unknown): string {
  return JSON.stringify(body, (_key, value: unknown) => (typeof value === 'string' ? value.replace(LONE_SURROGATE, '\ufffd') : value));
}

/** POSTs JSON to the serving process and returns the parsed answer; failures as engineErrorOf says. */
export async function postJson<T>(connection: LlamaServerConnection, path: string, body: unknown, signal?: AbortSignal, field?: string): Promise<T> {
  try {
    const response = await connection.client.post(connection.baseUrl(), path, serverJson(body), signal);
    return (await response.json()) as T;
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw engineErrorOf(connection, error, field);
  }
}

/** The server answers its GETs (properties, slots) from memory: a longer wait means it is stuck. */
const GET_TIMEOUT_MS = 10_000;

/** GETs JSON (the server's /props, /v1/models, /slots). */
export function getJson<T>(connection: LlamaServerConnection, path: string, signal?: AbortSignal): Promise<T> {
  return get(connection, path, (response) => response.json() as Promise<T>, signal);
}

/** GETs text (the server's /metrics). */
export function getText(connection: LlamaServerConnection, path: string, signal?: AbortSignal): Promise<string> {
  return get(connection, path, (response) => response.text(), signal);
}

async function get<T>(connection: LlamaServerConnection, path: string, read: (response: Response) => Promise<T>, signal?: AbortSignal): Promise<T> {
  try {
    const limit = AbortSignal.timeout(GET_TIMEOUT_MS);
    const response = await fetch(`${connection.baseUrl()}${path}`, {
      headers: connection.client.authorization,
      signal: signal ? AbortSignal.any([signal, limit]) : limit,
    });
    // Errors are JSON, whatever the endpoint: a body that is not JSON says nothing more than the status.
    if (!response.ok) throw new UpstreamHttpError(response.status, await response.json().catch(() => null), response.headers);
    return await read(response);
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw engineErrorOf(connection, error);
  }
}

/**
 * POSTs a streaming request and hands each frame's JSON to `onFrame` as it arrives, in order, and
 * resolves after the final frame. A promise from `onFrame` holds the next frame back until it
 * settles (backpressure: the server queues meanwhile). A failure before the first frame throws as
 * postJson does; an in-band error frame throws an Error naming the model; a stream that ends
 * before its final frame (the process died) throws EngineUnavailableError; what `onFrame` throws
 * ends the stream and is thrown as it is. Aborting `signal` closes the connection, which makes
 * llama-server cancel the task, and rejects with its reason.
 *
 * Frames are read through node:http and handed on without a promise each (see
 * OpenAIClient.openStream): this path runs once per generated token.
 */
export async function postStream(
  connection: LlamaServerConnection,
  path: string,
  body: unknown,
  signal: AbortSignal,
  onFrame: (frame: Record<string, unknown>) => void | Promise<void>,
): Promise<void> {
  let response: IncomingMessage;
  try {
    response = await connection.client.openStream(connection.baseUrl(), path, serverJson(body), signal);
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw engineErrorOf(connection, error);
  }
  let ended = false;
  let consumerFailure: { error: unknown } | undefined;
  try {
    await readSseData(response, (data) => {
      const frame = JSON.parse(data) as Record<string, unknown>;
      const error = serverErrorOf(frame);
      if (error !== undefined) throw new UpstreamStreamError(relayableMessage(error.message), frame);
      if (frame.stop === true) ended = true;
      let held: void | Promise<void>;
      try {
        held = onFrame(frame);
      } catch (failure) {
        consumerFailure = { error: failure };
        throw failure;
      }
      if (held === undefined) return;
      return held.catch((failure: unknown) => {
        consumerFailure = { error: failure };
        throw failure;
      });
    });
  } catch (error) {
    if (consumerFailure !== undefined) throw consumerFailure.error;
    if (signal.aborted) throw signal.reason;
    if (error instanceof UpstreamStreamError)
      throw new Error(`llama-server of model "${connection.modelId}" failed mid-generation: ${error.message}`, { cause: error });
    throw engineErrorOf(connection, error);
  }
  if (!ended && !signal.aborted) throw unavailable(connection, 'closed the stream before its end');
}

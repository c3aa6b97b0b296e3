// The Responses API: POST /v1/responses (a translation layer over the chat pipeline: the request
// becomes a chat completion request, answered by answerChat with the Responses wire) and the
// stored responses (GET and DELETE /v1/responses/{id}, GET /v1/responses/{id}/input_items). A
// stored response belongs to the key that made it: another key's id is answered as one that does
// not exist.
import type { Context } from 'koa';
import Router from '@koa/router';
import { errors, GatewayError } from '../../errors.js';
import type { GatewayState } from '../../http/gateway-state.js';
import { principalOf } from '../../http/request-state.js';
import { parseResponsesRequest, type ResponsesRequest } from '../../openai/responses-request.js';
import { responsesToChat } from '../../openai/responses-to-chat.js';
import { responsesWire, type ResponseEcho, type ResponsesWire } from '../../openai/responses-wire.js';
import type { StoredResponse } from '../../responses/response-store.js';
import { imageLimitsOf } from '../../openai/image-parts.js';
import { withWireNames } from '../error-mapping.js';
import { answerChat } from './chat-completions.js';

const ENDPOINT = '/v1/responses';

/** The key a stored response belongs to: its name, '' without auth. */
function ownerOf(ctx: Context): string {
  return principalOf(ctx)?.name ?? '';
}

function responseNotFound(id: string, param: string | null = null): GatewayError {
  return new GatewayError(`No response found with id '${id}'.`, { status: 404, type: 'not_found_error', param, code: 'response_not_found' });
}

/** What the response echoes of its request, as the SDK's Response type has it. */
function echoOf(request: ResponsesRequest): ResponseEcho {
  return {
    instructions: request.instructions ?? null,
    tools: request.tools ?? [],
    tool_choice: request.tool_choice ?? 'auto',
    parallel_tool_calls: request.parallel_tool_calls ?? true,
    temperature: request.temperature ?? null,
    top_p: request.top_p ?? null,
    max_output_tokens: request.max_output_tokens ?? null,
    text: { format: request.text?.format ?? { type: 'text' } },
    reasoning: { effort: request.reasoning?.effort ?? null, summary: request.reasoning?.summary ?? null },
    metadata: request.metadata ?? {},
    previous_response_id: request.previous_response_id ?? null,
    store: request.store !== false,
    user: request.user ?? null,
  };
}

/**
 * The conversation a continuation of `previous` follows: its history, its input and its output.
 * Reasoning items are left out: they are never part of a prompt, and every later response would
 * carry them again.
 */
function historyAfter(previous: StoredResponse | undefined): Array<Record<string, unknown>> {
  if (!previous) return [];
  const output = (previous.response.output as Array<Record<string, unknown>> | undefined) ?? [];
  return [...previous.history, ...previous.inputItems, ...output].filter((item) => item.type !== 'reasoning');
}

/**
 * Refuses, before generating, a response whose stored record would pass [api.responses]
 * max_response_bytes: each record holds the whole conversation before it.
 */
function checkStoredSize(request: ResponsesRequest, history: unknown[], inputItems: unknown[], maxBytes: number): void {
  const bytes = Buffer.byteLength(JSON.stringify(history)) + Buffer.byteLength(JSON.stringify(inputItems));
  if (bytes <= maxBytes) return;
  const param = request.previous_response_id != null ? 'previous_response_id' : 'input';
  throw errors.invalidRequest(
    `The conversation to store is ${bytes} bytes, over this gateway's limit of ${maxBytes} ([api.responses] max_response_bytes): ` +
      (param === 'previous_response_id'
        ? "'previous_response_id' continues a conversation too long to store; start a new one, or send it with store: false."
        : "'input' is too large to store; send it with store: false."),
    param,
    'response_too_large',
  );
}

export async function createResponse(ctx: Context, state: GatewayState): Promise<void> {
  const request = parseResponsesRequest(ctx.request.body);
  const owner = ownerOf(ctx);
  let previous: StoredResponse | undefined;
  if (request.previous_response_id != null) {
    previous = await state.responseStore().load(request.previous_response_id, owner);
    if (!previous) throw responseNotFound(request.previous_response_id, 'previous_response_id');
  }
  const history = historyAfter(previous);
  const api = state.config().api;
  const { chat, wireNames, inputItems } = responsesToChat(request, history, imageLimitsOf(api));
  const echo = echoOf(request);
  if (echo.store) checkStoredSize(request, history, inputItems, api.responses.max_response_bytes);
  let wire: ResponsesWire | undefined;
  await withWireNames(
    wireNames,
    () =>
      answerChat(ctx, state, chat, {
        endpoint: ENDPOINT,
        wireNames,
        wire: (modelId) => (wire = responsesWire(modelId, echo, { encryptedReasoning: request.include?.includes('reasoning.encrypted_content') === true })),
        // Saved before the last frames go out: a client that read response.completed can continue from it.
        // The store is looked up now, not at the start: a reload during the generation may have replaced it.
        onFinished: echo.store
          ? async (choices, usage) => {
              const response = wire!.response(choices, usage);
              await state.responseStore().save({ id: wire!.id, owner, createdAt: response.created_at as number, response, inputItems, history });
            }
          : undefined,
      }),
    { translated: true },
  );
}

/** The query of a stored-response route, with every parameter it names known, or a 400 naming the first it does not know. */
function queryOf(ctx: Context, known: readonly string[]): Record<string, string> {
  const query: Record<string, string> = {};
  for (const [name, value] of Object.entries(ctx.query)) {
    if (!known.includes(name)) throw errors.invalidRequest(`Unknown parameter: '${name}'.`, name, 'unknown_parameter');
    if (typeof value !== 'string') throw errors.invalidRequest(`Invalid '${name}': expected one value.`, name);
    query[name] = value;
  }
  if (query.include !== undefined && query.include !== '')
    throw errors.invalidRequest(
      "'include' is not supported here: the gateway provides none of the extra output it may ask for.",
      'include',
      'unsupported_parameter',
    );
  return query;
}

async function storedResponse(ctx: Context, state: GatewayState, id: string): Promise<StoredResponse> {
  const stored = await state.responseStore().load(id, ownerOf(ctx));
  if (!stored) throw responseNotFound(id);
  return stored;
}

const INPUT_ITEMS_LIMIT = { min: 1, max: 100, default: 20 } as const;

function listLimit(value: string | undefined): number {
  if (value === undefined) return INPUT_ITEMS_LIMIT.default;
  const limit = Number(value);
  if (!/^\d+$/.test(value) || limit < INPUT_ITEMS_LIMIT.min || limit > INPUT_ITEMS_LIMIT.max)
    throw errors.invalidRequest(
      `Invalid 'limit': expected an integer from ${INPUT_ITEMS_LIMIT.min} to ${INPUT_ITEMS_LIMIT.max}, found ${JSON.stringify(value)}.`,
      'limit',
    );
  return limit;
}

async function inputItems(ctx: Context, state: GatewayState): Promise<void> {
  const query = queryOf(ctx, ['limit', 'order', 'after', 'include']);
  const limit = listLimit(query.limit);
  const order = query.order ?? 'desc';
  if (order !== 'asc' && order !== 'desc')
    throw errors.invalidRequest(`Invalid value for 'order': expected "asc" or "desc", found ${JSON.stringify(order)}.`, 'order');
  const stored = await storedResponse(ctx, state, ctx.params.id);
  const items = order === 'asc' ? stored.inputItems : [...stored.inputItems].reverse();
  let start = 0;
  if (query.after !== undefined) {
    const at = items.findIndex((item) => item.id === query.after);
    if (at < 0) throw errors.invalidRequest(`Invalid 'after': response '${stored.id}' has no input item '${query.after}'.`, 'after');
    start = at + 1;
  }
  const data = items.slice(start, start + limit);
  ctx.body = {
    object: 'list',
    data,
    first_id: (data[0]?.id as string | undefined) ?? null,
    last_id: (data.at(-1)?.id as string | undefined) ?? null,
    has_more: start + limit < items.length,
  };
}

/** GET and DELETE /v1/responses/{id}, GET /v1/responses/{id}/input_items. */
export function storedResponseRoutes(state: GatewayState): Router {
  const router = new Router();
  router.get('/v1/responses/:id', async (ctx) => {
    const query = queryOf(ctx, ['stream', 'include', 'starting_after', 'include_obfuscation']);
    for (const name of ['stream', 'starting_after', 'include_obfuscation'])
      if (query[name] !== undefined && query[name] !== 'false')
        throw errors.invalidRequest(`'${name}' is not supported here: a stored response is returned whole, not streamed again.`, name, 'unsupported_parameter');
    ctx.body = (await storedResponse(ctx, state, ctx.params.id)).response;
  });
  router.delete('/v1/responses/:id', async (ctx) => {
    queryOf(ctx, []);
    const id = ctx.params.id;
    if (!(await state.responseStore().delete(id, ownerOf(ctx)))) throw responseNotFound(id);
    ctx.body = { id, object: 'response.deleted', deleted: true };
  });
  router.get('/v1/responses/:id/input_items', (ctx) => inputItems(ctx, state));
  return router;
}

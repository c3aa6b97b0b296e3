// Wire `tools`, `tool_choice`, `parallel_tool_calls` (and the legacy `functions`, `function_call`)
// → the engine's ChatTools. Every problem is a 400 naming the parameter: duplicate names, a choice
// naming no listed tool, a schema that is not a JSON Schema of an object, a choice that demands a
// call with no tools to call, tools beside another output constraint.
import type { ChatTools, ToolChoice, ToolDefinition } from '../engine/contract.js';
import { errors } from '../errors.js';
import type { ChatCompletionRequest } from './generation-request.js';
import { checkJsonSchemaShape } from './json-schema-shape.js';
import { checkJsonSchemaLimits } from './request-limits.js';

/** The schema of a function that takes no arguments (a tool given without `parameters`). */
const NO_PARAMETERS = { type: 'object', properties: {} };

export interface RequestTools {
  /** Undefined: the request lists no tools. */
  tools?: ChatTools;
  /** True when the request spoke the legacy `functions` API: the reply then uses `function_call`. */
  legacy: boolean;
}

type FunctionDefinition = NonNullable<ChatCompletionRequest['functions']>[number];

function definitionOf(definition: FunctionDefinition, param: string): ToolDefinition {
  const parameters = definition.parameters ?? NO_PARAMETERS;
  checkJsonSchemaLimits(parameters, `${param}.parameters`);
  checkJsonSchemaShape(parameters, `${param}.parameters`, { objectRoot: true });
  return {
    name: definition.name,
    ...(definition.description != null ? { description: definition.description } : {}),
    parameters,
    ...(definition.strict != null ? { strict: definition.strict } : {}),
  };
}

function listedDefinitions(request: ChatCompletionRequest): { definitions: ToolDefinition[]; legacy: boolean; param: string } {
  const tools = request.tools ?? [];
  const functions = request.functions ?? [];
  if (tools.length > 0 && functions.length > 0)
    throw errors.invalidRequest("Set either 'tools' or the legacy 'functions', not both.", 'functions', 'invalid_request');
  const legacy = functions.length > 0;
  const param = legacy ? 'functions' : 'tools';
  /** Where function `index` is in the request. */
  const fieldOf = (index: number) => (legacy ? `functions[${index}]` : `tools[${index}].function`);
  const definitions = legacy
    ? functions.map((definition, index) => definitionOf(definition, fieldOf(index)))
    : tools.map((tool, index) => definitionOf(tool.function, fieldOf(index)));
  const seen = new Set<string>();
  definitions.forEach((definition, index) => {
    if (seen.has(definition.name))
      throw errors.invalidRequest(
        `Duplicate function name '${definition.name}' at '${fieldOf(index)}.name': tool names must be unique.`,
        `${fieldOf(index)}.name`,
      );
    seen.add(definition.name);
  });
  return { definitions, legacy, param };
}

function choiceOf(request: ChatCompletionRequest, legacy: boolean): { choice: ToolChoice; param: string } | undefined {
  if (legacy && request.tool_choice != null)
    throw errors.invalidRequest("'tool_choice' goes with 'tools'; with 'functions' use 'function_call'.", 'tool_choice');
  if (!legacy && request.function_call != null)
    throw errors.invalidRequest("'function_call' goes with 'functions'; with 'tools' use 'tool_choice'.", 'function_call');
  const given = legacy ? request.function_call : request.tool_choice;
  const param = legacy ? 'function_call' : 'tool_choice';
  if (given == null) return undefined;
  if (typeof given === 'string') return { choice: { kind: given }, param };
  const name = 'function' in given ? (given.function as { name: string }).name : (given as { name: string }).name;
  return { choice: { kind: 'function', name }, param: legacy ? 'function_call.name' : 'tool_choice.function.name' };
}

/** The request's tools, checked; `legacy` tells the reply's shape. */
export function requestTools(request: ChatCompletionRequest): RequestTools {
  const { definitions, legacy, param } = listedDefinitions(request);
  const chosen = choiceOf(request, legacy);
  if (definitions.length === 0) {
    // tool_choice "none"/"auto" without tools asks for nothing; a call cannot be demanded of no tools.
    if (chosen && (chosen.choice.kind === 'required' || chosen.choice.kind === 'function'))
      throw errors.invalidRequest(`'${chosen.param.split('.')[0]}' demands a function call, but the request lists no '${param}'.`, chosen.param.split('.')[0]);
    return { legacy };
  }
  const choice = chosen?.choice ?? { kind: 'auto' };
  if (choice.kind === 'function' && !definitions.some((definition) => definition.name === choice.name))
    throw errors.invalidRequest(
      `'${chosen!.param}' names the function '${choice.name}', which is not among the request's ${param} (${definitions.map((definition) => definition.name).join(', ')}).`,
      chosen!.param,
    );
  if (choice.kind !== 'none') {
    const other =
      request.response_format && request.response_format.type !== 'text'
        ? 'response_format'
        : request.grammar
          ? 'grammar'
          : request.json_schema
            ? 'json_schema'
            : undefined;
    if (other)
      throw errors.invalidRequest(
        `'${other}' cannot be combined with ${param} the model may call: a reply is either a call or constrained text. Send one, or set ${legacy ? 'function_call' : 'tool_choice'} to "none".`,
        other,
      );
  }
  // The legacy API makes at most one call per reply: `parallel_tool_calls: false` says as much, `true` cannot be honoured.
  if (legacy && request.parallel_tool_calls === true)
    throw errors.invalidRequest(
      "'parallel_tool_calls' goes with 'tools': the legacy 'functions' API makes at most one call per reply. Send 'tools' for parallel calls.",
      'parallel_tool_calls',
    );
  const parallel = legacy ? false : request.parallel_tool_calls !== false;
  return { tools: { definitions, choice, parallel }, legacy };
}

/**
 * How a request with the legacy `functions` spells what the engines name in `tools` terms (a
 * schema the grammar cannot enforce is `tools[i].function.parameters` there): for error-mapping's
 * wire names. None for a request that used `tools`.
 */
export function legacyToolWireNames(request: ChatCompletionRequest): Record<string, string> {
  const functions = request.functions ?? [];
  if (functions.length === 0 || (request.tools ?? []).length > 0) return {};
  return Object.fromEntries([
    ['tools', 'functions'],
    ...functions.map((_, index) => [`tools[${index}].function.parameters`, `functions[${index}].parameters`]),
  ]);
}

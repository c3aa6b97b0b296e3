// A request's tools → the GBNF grammar of a reply made of calls, in the model's call syntax
// (call-syntax.ts), for every engine that constrains calls (the in-process engine compiles it,
// llama-server takes it as `grammar`). Each function's arguments follow its own JSON-schema grammar
// (node-llama-cpp's converter, as for response_format), so a call's arguments always parse and
// match the schema. A schema keyword the grammar cannot enforce is refused, naming the tool.
import type { ChatTools, ToolDefinition } from '../../engine/contract.js';
import { UnsupportedFeatureError } from '../../engine/errors.js';
import { loadJsonSchemaToGbnf } from '../llama/grammar.js';
import { toGrammarJsonSchema } from '../llama/json-schema-conversion.js';
import type { CallSyntax } from './call-syntax.js';

function literal(text: string): string {
  return JSON.stringify(text);
}

/** Renames every rule of a GBNF grammar with a prefix (outside quoted literals and character classes). */
function renameRules(grammar: string, prefix: string): string {
  let out = '';
  for (let at = 0; at < grammar.length;) {
    const char = grammar[at];
    if (char === '"' || char === '[') {
      const close = char === '"' ? '"' : ']';
      let end = at + 1;
      while (end < grammar.length && grammar[end] !== close) end += grammar[end] === '\\' ? 2 : 1;
      out += grammar.slice(at, end + 1);
      at = end + 1;
    } else if (/[a-zA-Z0-9_-]/.test(char)) {
      let end = at;
      while (end < grammar.length && /[a-zA-Z0-9_-]/.test(grammar[end])) end++;
      const word = grammar.slice(at, end);
      // Repetition bounds {m,n} are numbers, not rule names.
      out += /^[0-9]+$/.test(word) ? word : prefix + word;
      at = end;
    } else {
      out += char;
      at += 1;
    }
  }
  return out;
}

/** node-llama-cpp's JSON-schema grammars end with four newlines (its stop trigger); a call's arguments do not. */
const JSON_GRAMMAR_TERMINATOR = / "\\n\\n\\n\\n" \[\\n\]\*$/m;

async function argumentsGrammar(definition: ToolDefinition, index: number): Promise<string> {
  let schema;
  try {
    schema = toGrammarJsonSchema(definition.parameters);
  } catch (error) {
    if (!(error instanceof UnsupportedFeatureError)) throw error;
    throw new UnsupportedFeatureError(
      `tool '${definition.name}': its parameters cannot be enforced: ${error.message.replace(/^json_schema /, '')}`,
      `tools[${index}].function.parameters`,
    );
  }
  const toGbnf = await loadJsonSchemaToGbnf();
  const grammar = toGbnf(schema)
    .split('\n')
    .map((line) => (line.startsWith('root ::=') ? line.replace(JSON_GRAMMAR_TERMINATOR, '') : line))
    .join('\n');
  return renameRules(grammar, `t${index}-`);
}

/**
 * The grammar of a reply that is one call (or, with `parallel` and a wrapper that has parallel
 * calls, one or more), of the chosen function or of any listed one.
 */
export async function toolCallGrammar(syntax: CallSyntax, tools: ChatTools): Promise<string> {
  if (syntax.suffix === '')
    throw new UnsupportedFeatureError(
      "this model's chat template writes tool calls with nothing after their arguments (Functionary's syntax), so where a call ends cannot be read: tools are not supported with it; set the model's chat_template to one whose calls have a closing marker",
      'tools',
    );
  const choice = tools.choice;
  const callable = tools.definitions
    .map((definition, index) => ({ definition, index }))
    .filter(({ definition }) => choice.kind !== 'function' || definition.name === choice.name);
  const rules: string[] = [];
  const alternatives: string[] = [];
  for (const { definition, index } of callable) {
    rules.push(await argumentsGrammar(definition, index));
    alternatives.push(`${literal(definition.name)} ${literal(syntax.paramsPrefix)} t${index}-root`);
  }
  const call = `call ::= ${literal(syntax.prefix)} (${alternatives.join(' | ')}) ${literal(syntax.suffix)}`;
  const several = tools.parallel && choice.kind !== 'function' && syntax.betweenCalls !== undefined;
  const root = several
    ? `root ::= ${literal(syntax.sectionPrefix)} call (${literal(syntax.betweenCalls!)} call)*`
    : `root ::= ${literal(syntax.sectionPrefix)} call`;
  return [root, call, ...rules].join('\n');
}

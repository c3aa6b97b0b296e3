// Output constraints → llama.cpp grammars. Compiling is cheap but not free and clients tend to send
// the same schema on every call, so compiled grammars are kept in a small cache per model.
import { LlamaText, type Llama, type LlamaGrammar } from 'node-llama-cpp';
import type { OutputConstraint } from '../../engine/contract.js';
import { InvalidInputError, UnsupportedFeatureError } from '../../engine/errors.js';
import { checkGrammar } from './grammar-checks.js';
import { toGrammarJsonSchema } from './json-schema-conversion.js';

const CACHE_SIZE = 32;

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export type JsonSchemaToGbnf = (schema: unknown) => string;
let jsonSchemaToGbnf: Promise<JsonSchemaToGbnf> | undefined;

/**
 * node-llama-cpp's JSON schema → GBNF generator. Its public LlamaJsonSchemaGrammar generates and
 * parses in one synchronous constructor, which would leave no moment to measure the grammar before
 * llama.cpp parses it on the event loop; the generator itself is not exported, so it is loaded from
 * the package's files (the grammar tests fail if an upgrade moves it).
 */
export function loadJsonSchemaToGbnf(): Promise<JsonSchemaToGbnf> {
  jsonSchemaToGbnf ??= import(new URL('./utils/gbnfJson/getGbnfGrammarForGbnfJsonSchema.js', import.meta.resolve('node-llama-cpp')).href).then(
    (module: { getGbnfGrammarForGbnfJsonSchema: JsonSchemaToGbnf }) => module.getGbnfGrammarForGbnfJsonSchema,
  );
  return jsonSchemaToGbnf;
}

/**
 * Refuses a grammar llama.cpp would refuse or crash on (`invalid`: llama.cpp would print it raw to
 * stderr) and one that would stall the model (see grammar-checks.ts).
 */
function assertGrammarAcceptable(grammar: string, param: 'grammar' | 'constraint', source: string, invalid: string): void {
  const verdict = checkGrammar(grammar, param === 'grammar' ? 'gbnf' : 'json_schema');
  if (verdict.kind === 'invalid') throw new UnsupportedFeatureError(`${invalid}: ${verdict.reason}`, param);
  if (verdict.kind === 'too-costly') throw new InvalidInputError(`${source} refused: ${verdict.reason}.`, param);
}

export class GrammarCompiler {
  readonly #llama: Llama;
  readonly #cache = new Map<string, Promise<LlamaGrammar>>();

  constructor(llama: Llama) {
    this.#llama = llama;
  }

  /** The grammar for a constraint; UnsupportedFeatureError when it cannot be compiled. */
  compile(constraint: OutputConstraint): Promise<LlamaGrammar> {
    const key =
      constraint.kind === 'json_object'
        ? 'json_object'
        : constraint.kind === 'gbnf'
          ? `gbnf:${constraint.grammar}`
          : `json_schema:${JSON.stringify(constraint.schema)}`;
    return this.#cached(key, () => this.#compileUncached(constraint));
  }

  /**
   * The grammar of a tool-call reply (../tool-calls/tool-call-grammar.ts builds it from schemas that passed the
   * same JSON-schema conversion as response_format), cached like the others: clients send the
   * same tools on every turn.
   */
  compileToolCalls(grammar: string): Promise<LlamaGrammar> {
    return this.#cached(`tools:${grammar}`, async () => {
      try {
        return await this.#llama.createGrammar({ grammar });
      } catch (error) {
        throw new UnsupportedFeatureError(`the tools' parameters could not be compiled to a grammar: ${reasonOf(error)}`, 'tools');
      }
    });
  }

  #cached(key: string, compile: () => Promise<LlamaGrammar>): Promise<LlamaGrammar> {
    const cached = this.#cache.get(key);
    if (cached !== undefined) {
      // Refresh its place: the cache evicts the least recently used.
      this.#cache.delete(key);
      this.#cache.set(key, cached);
      return cached;
    }
    const compiled = compile();
    this.#cache.set(key, compiled);
    compiled.catch(() => this.#cache.delete(key));
    if (this.#cache.size > CACHE_SIZE) this.#cache.delete(this.#cache.keys().next().value as string);
    return compiled;
  }

  async #compileUncached(constraint: OutputConstraint): Promise<LlamaGrammar> {
    if (constraint.kind === 'json_object') return await this.#llama.getGrammarFor('json');
    if (constraint.kind === 'json_schema') {
      const schema = toGrammarJsonSchema(constraint.schema);
      const toGbnf = await loadJsonSchemaToGbnf();
      let grammar: string;
      try {
        grammar = toGbnf(schema);
      } catch (error) {
        throw new UnsupportedFeatureError(`json_schema could not be compiled to a grammar: ${reasonOf(error)}`, 'constraint');
      }
      assertGrammarAcceptable(grammar, 'constraint', 'The grammar made from this json_schema was', 'json_schema could not be compiled to a grammar');
      try {
        // The settings LlamaJsonSchemaGrammar gives its grammars.
        return await this.#llama.createGrammar({ grammar, stopGenerationTriggers: [LlamaText(['\n'.repeat(4)])], trimWhitespaceSuffix: true });
      } catch (error) {
        throw new UnsupportedFeatureError(`json_schema could not be compiled to a grammar: ${reasonOf(error)}`, 'constraint');
      }
    }
    if (!/^\s*root\s*::=/m.test(constraint.grammar)) {
      throw new UnsupportedFeatureError('invalid GBNF grammar: it has no "root ::= ..." rule', 'grammar');
    }
    assertGrammarAcceptable(constraint.grammar, 'grammar', 'The grammar was', 'invalid GBNF grammar');
    try {
      return await this.#llama.createGrammar({ grammar: constraint.grammar });
    } catch (error) {
      // llama.cpp logs the parser's detail (a line number, an undefined rule) rather than returning it.
      throw new UnsupportedFeatureError(
        `invalid GBNF grammar: ${reasonOf(error)} (check rule names, quoting and that every referenced rule is defined)`,
        'grammar',
      );
    }
  }
}

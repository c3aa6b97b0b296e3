// Output constraints → llama.cpp grammars. Compiling is cheap but not free and clients tend to send
// the same schema on every call, so compiled grammars are kept in a small cache per model.
import type { Llama, LlamaGrammar } from 'node-llama-cpp';
import { UnsupportedFeatureError, type OutputConstraint } from '../types.js';
import { gbnfSyntaxProblem } from './gbnf-syntax.js';
import { toGrammarJsonSchema } from './json-schema-conversion.js';

const CACHE_SIZE = 32;

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class GrammarCompiler {
  readonly #llama: Llama;
  readonly #cache = new Map<string, Promise<LlamaGrammar>>();

  constructor(llama: Llama) {
    this.#llama = llama;
  }

  /** The grammar for a constraint; UnsupportedFeatureError when it cannot be compiled. */
  compile(constraint: OutputConstraint): Promise<LlamaGrammar> {
    const key = constraint.kind === 'json_object' ? 'json_object'
      : constraint.kind === 'gbnf' ? `gbnf:${constraint.grammar}`
        : `json_schema:${JSON.stringify(constraint.schema)}`;
    const cached = this.#cache.get(key);
    if (cached !== undefined) {
      // Refresh its place: the cache evicts the least recently used.
      this.#cache.delete(key);
      this.#cache.set(key, cached);
      return cached;
    }
    const compiled = this.#compileUncached(constraint);
    this.#cache.set(key, compiled);
    compiled.catch(() => this.#cache.delete(key));
    if (this.#cache.size > CACHE_SIZE) this.#cache.delete(this.#cache.keys().next().value as string);
    return compiled;
  }

  async #compileUncached(constraint: OutputConstraint): Promise<LlamaGrammar> {
    if (constraint.kind === 'json_object') return await this.#llama.getGrammarFor('json');
    if (constraint.kind === 'json_schema') {
      const schema = toGrammarJsonSchema(constraint.schema);
      try {
        return await this.#llama.createGrammarForJsonSchema(schema as never);
      } catch (error) {
        throw new UnsupportedFeatureError(`json_schema could not be compiled to a grammar: ${reasonOf(error)}`, 'response_format');
      }
    }
    if (!/^\s*root\s*::=/m.test(constraint.grammar)) {
      throw new UnsupportedFeatureError('invalid GBNF grammar: it has no "root ::= ..." rule', 'grammar');
    }
    // llama.cpp would print a grammar it cannot parse raw to stderr: it must never see one.
    const problem = gbnfSyntaxProblem(constraint.grammar);
    if (problem !== undefined) throw new UnsupportedFeatureError(`invalid GBNF grammar: ${problem}`, 'grammar');
    try {
      return await this.#llama.createGrammar({ grammar: constraint.grammar });
    } catch (error) {
      // llama.cpp logs the parser's detail (a line number, an undefined rule) rather than returning it.
      throw new UnsupportedFeatureError(`invalid GBNF grammar: ${reasonOf(error)} (check rule names, quoting and that every referenced rule is defined)`, 'grammar');
    }
  }
}

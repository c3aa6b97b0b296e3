// Every check a GBNF grammar passes before llama.cpp sees it, over one parse (gbnf-grammar.ts):
// what llama.cpp would refuse or crash on (syntax, left recursion) makes a grammar invalid; what
// would stall the model (size, repetitions, ambiguity) makes it too costly.
import { nullableRules, recursiveComponents } from './gbnf-analysis.js';
import { ambiguityProblem } from './gbnf-ambiguity.js';
import { GbnfSyntaxError, MAX_GROUP_NESTING, parseGbnf, positionIn } from './gbnf-grammar.js';
import { assertNoLeftRecursion } from './gbnf-left-recursion.js';
import { grammarComplexityProblem, MAX_GRAMMAR_CHARACTERS } from './grammar-complexity.js';

export type GrammarVerdict =
  | { kind: 'accepted' }
  /** llama.cpp would refuse it ("expecting \")\" at line 2, column 7"); the reason never quotes the grammar beyond a rule name. */
  | { kind: 'invalid'; reason: string }
  /** It would cost the model too much; the reason names the limit. */
  | { kind: 'too-costly'; reason: string };

/** `origin`: a client's GBNF, or the grammar made from a JSON schema (see grammarComplexityProblem). */
export function checkGrammar(text: string, origin: 'gbnf' | 'json_schema' = 'gbnf'): GrammarVerdict {
  if (text.length > MAX_GRAMMAR_CHARACTERS)
    return { kind: 'too-costly', reason: `the grammar is ${text.length} characters long; the limit is ${MAX_GRAMMAR_CHARACTERS}` };
  try {
    const grammar = parseGbnf(text);
    const nullable = nullableRules(grammar);
    assertNoLeftRecursion(grammar, nullable);
    const problem = grammarComplexityProblem(grammar, origin === 'gbnf') ?? ambiguityProblem(grammar, nullable, recursiveComponents(grammar));
    return problem === undefined ? { kind: 'accepted' } : { kind: 'too-costly', reason: problem };
  } catch (error) {
    if (error instanceof GbnfSyntaxError) return { kind: 'invalid', reason: `${error.what} ${positionIn(text, error.index)}` };
    // Rule references chained thousands deep: llama.cpp's own parser and sampler recurse as deep.
    if (error instanceof RangeError)
      return { kind: 'too-costly', reason: `the grammar nests groups (limit ${MAX_GROUP_NESTING} levels) or rule references too deeply` };
    throw error;
  }
}

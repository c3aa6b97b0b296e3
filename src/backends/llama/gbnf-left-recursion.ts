// No rule may reach itself before consuming input (left recursion). llama.cpp's own check misses
// left recursion through a part that can be empty (`expr ::= ws expr "a" | "b"` with
// `ws ::= [ ]*`): building such a grammar allocated until the process aborted (std::bad_alloc),
// taking every model down with it.
import { cyclesOf, itemNullable } from './gbnf-analysis.js';
import { GbnfSyntaxError, type GbnfGrammar, type GbnfItem } from './gbnf-grammar.js';

/** Throws a GbnfSyntaxError naming a left-recursive rule, if there is one. */
export function assertNoLeftRecursion(grammar: GbnfGrammar, nullable: ReadonlySet<string>): void {
  // The rules each rule can start with: those it references before anything that consumes input.
  const leftmost = (alternatives: ReadonlyArray<readonly GbnfItem[]>, into: Set<string>): void => {
    for (const items of alternatives) {
      for (const item of items) {
        let inner = item;
        while (inner.kind === 'repeat') inner = inner.item;
        if (inner.kind === 'ref') into.add(inner.name);
        else if (inner.kind === 'group') leftmost(inner.alternatives, into);
        if (!itemNullable(item, nullable)) break;
      }
    }
  };
  const edges = new Map<string, string[]>();
  for (const [name, rule] of grammar.rules) {
    const starts = new Set<string>();
    leftmost(rule.alternatives, starts);
    edges.set(name, [...starts]);
  }
  const cycles = cyclesOf(edges);
  // The first rule, in the grammar's order, on a cycle of those edges.
  for (const [name, rule] of grammar.rules) {
    if (cycles.has(name))
      throw new GbnfSyntaxError(
        `left recursion: rule "${name.slice(0, 40)}" can reach itself before matching any input (rewrite it to consume input first)`,
        rule.at,
      );
  }
}

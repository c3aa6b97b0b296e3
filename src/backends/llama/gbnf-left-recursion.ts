// No rule may reach itself before consuming input (left recursion). llama.cpp's own check misses
// left recursion through a part that can be empty (`expr ::= ws expr "a" | "b"` with
// `ws ::= [ ]*`): building such a grammar allocated until the process aborted (std::bad_alloc),
// taking every model down with it.
import { itemNullable } from './gbnf-analysis.js';
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
  const edges = new Map<string, Set<string>>();
  for (const [name, rule] of grammar.rules) {
    const starts = new Set<string>();
    leftmost(rule.alternatives, starts);
    edges.set(name, starts);
  }
  // A cycle among those edges, found without recursion (a grammar may hold thousands of rules).
  const state = new Map<string, 'open' | 'done'>();
  for (const start of edges.keys()) {
    if (state.has(start)) continue;
    const stack: Array<[string, Iterator<string>]> = [[start, edges.get(start)!.values()]];
    state.set(start, 'open');
    while (stack.length > 0) {
      const [name, next] = stack[stack.length - 1];
      const step = next.next();
      if (step.done) {
        state.set(name, 'done');
        stack.pop();
        continue;
      }
      const target = step.value;
      if (state.get(target) === 'open') {
        throw new GbnfSyntaxError(`left recursion: rule "${target.slice(0, 40)}" can reach itself before matching any input (rewrite it to consume input first)`, grammar.rules.get(target)?.at ?? 0);
      }
      if (!state.has(target)) {
        state.set(target, 'open');
        stack.push([target, (edges.get(target) ?? new Set<string>()).values()]);
      }
    }
  }
}

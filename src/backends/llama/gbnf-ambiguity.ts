// Ambiguity that multiplies llama.cpp's parse stacks with every character.
//
// llama.cpp's sampler keeps one parse stack per way of reading the text so far; a stack is the list
// of places to return to once the current rule ends (a reference in tail position pushes none).
// When a recursive rule can read the same character down two paths that each enter the recursion
// again with a different place to return to, every such character doubles the stacks:
// `x ::= "a" x "b" | "a" x "c" | "d"` (44 bytes) passed every other check, and per-token time grew
// about 4-5× a token: 1 s at token 11, 23 s at 13, 386 s at 15, each inside one native step that
// cannot be interrupted. Refused here, in a rule of a recursive cycle:
// - two alternatives (of the rule or of a group in it) that can start with the same character
//   (their leading strings not differing) and each reference the cycle in a non-tail position;
// - a part that may be skipped or repeated (`x?`, `x*`, `x{m,n}`, a rule that can match nothing)
//   and what follows it in the sequence, when both can start with the same character and both
//   reference the cycle: `x ::= ("a" x)* ("a" x)*`.
// Not seen (documented in the README): overlaps only visible through what follows a rule elsewhere
// (FOLLOW sets), overlaps that appear after the first character, and ambiguity among rules that
// are not recursive, whose stacks multiply only as deep as the grammar is long.
import { FirstCharacters, itemNullable } from './gbnf-analysis.js';
import { overlap, unionOf, type CharRanges, type GbnfGrammar, type GbnfItem } from './gbnf-grammar.js';

/** The strings an alternative begins with, joined: two alternatives whose strings differ part early. */
function leadingText(items: readonly GbnfItem[]): string {
  let text = '';
  for (const item of items) {
    if (item.kind !== 'terminal' || item.text === undefined) break;
    text += item.text;
  }
  return text;
}

function diverge(left: readonly GbnfItem[], right: readonly GbnfItem[]): boolean {
  const [a, b] = [leadingText(left), leadingText(right)];
  const common = Math.min(a.length, b.length);
  return a.slice(0, common) !== b.slice(0, common);
}

/**
 * Pairs of alternatives whose first characters overlap are compared further (their leading
 * strings); past this many the rule is refused rather than compared on: comparing every pair of a
 * 60 KB rule's 5,000 alternatives blocked the event loop 430 ms.
 */
const MAX_OVERLAP_COMPARISONS = 100_000;

/**
 * Two alternatives that can start with the same character and whose leading strings do not part
 * (true), more such candidate pairs than can be compared ('too many'), or none (false). A sweep over
 * their first characters' ranges sorted by start, so alternatives that start differently, the usual
 * case, cost n log n, not n².
 */
function overlappingPair(candidates: ReadonlyArray<{ items: readonly GbnfItem[]; first: CharRanges }>): boolean | 'too many' {
  const ranges = candidates.flatMap(({ first }, index) => first.map(([low, high]) => ({ low, high, index })));
  ranges.sort((left, right) => left.low - right.low);
  const active: typeof ranges = [];
  let comparisons = 0;
  for (const range of ranges) {
    // Ranges that ended before this one starts close, compacted in place (no array per step).
    let kept = 0;
    for (const open of active) if (open.high >= range.low) active[kept++] = open;
    active.length = kept;
    for (const open of active) {
      if (open.index === range.index) continue;
      if (++comparisons > MAX_OVERLAP_COMPARISONS) return 'too many';
      if (!diverge(candidates[open.index].items, candidates[range.index].items)) return true;
    }
    active.push(range);
  }
  return false;
}

/**
 * Why the grammar's stacks would multiply with each character (naming the rule), or undefined.
 * `cycles` maps each recursive rule to the rules of its cycle (gbnf-analysis.ts).
 */
export function ambiguityProblem(grammar: GbnfGrammar, nullable: ReadonlySet<string>, cycles: ReadonlyMap<string, ReadonlySet<string>>): string | undefined {
  const first = new FirstCharacters(grammar, nullable);
  for (const [name, cycle] of cycles) {
    // Whether items reference the cycle where returning from it leaves something to do. In tail
    // position (`tail`) the last item's reference pushes nothing; a repeated item is never in tail
    // position (llama.cpp makes `x*` a rule `r ::= x r | ""`).
    const recurses = (items: readonly GbnfItem[], tail: boolean): boolean =>
      items.some((item, index) => {
        const itemTail = tail && index === items.length - 1;
        switch (item.kind) {
          case 'terminal':
            return false;
          case 'ref':
            return cycle.has(item.name) && !itemTail;
          case 'group':
            return item.alternatives.some((alternative) => recurses(alternative, itemTail));
          case 'repeat':
            return recurses([item.item], itemTail && item.max === 1);
        }
      });
    const problem = (what: string) =>
      `rule "${name.slice(0, 40)}" is ambiguous in a way that doubles llama.cpp's parse stacks with each character (${what}); every token would cost the model longer than the last`;
    const checkAlternatives = (alternatives: ReadonlyArray<readonly GbnfItem[]>, tail: boolean): string | undefined => {
      const candidates = alternatives.filter((items) => recurses(items, tail)).map((items) => ({ items, first: first.ofSequence(items) }));
      const clash = overlappingPair(candidates);
      if (clash === 'too many') return problem(`more than ${MAX_OVERLAP_COMPARISONS} pairs of its alternatives start alike and each recurse before they end`);
      if (clash) return problem('two of its alternatives can start with the same character and each recurse before they end');
      for (const items of alternatives) {
        const found = checkSequence(items, tail);
        if (found !== undefined) return found;
      }
      return undefined;
    };
    const checkSequence = (items: readonly GbnfItem[], tail: boolean): string | undefined => {
      // What the rest of the sequence after each item can start with, and whether it recurses,
      // gathered from the end (a sequence may hold thousands of items).
      const restFirst: CharRanges[] = new Array<CharRanges>(items.length + 1).fill([]);
      const restRecurses: boolean[] = new Array<boolean>(items.length + 1).fill(false);
      for (let index = items.length - 1; index >= 0; index--) {
        const item = items[index];
        restRecurses[index] = restRecurses[index + 1] || recurses([item], tail && index === items.length - 1);
        restFirst[index] = itemNullable(item, nullable) ? unionOf(first.ofItem(item), restFirst[index + 1]) : first.ofItem(item);
      }
      for (let index = 0; index < items.length; index++) {
        const item = items[index];
        const optional = itemNullable(item, nullable) || (item.kind === 'repeat' && item.max !== item.min);
        if (optional && restRecurses[index + 1] && recurses([item], false) && overlap(first.ofItem(item), restFirst[index + 1])) {
          return problem('a part that may be skipped or repeated and what follows it can start with the same character and both recurse');
        }
        let inner = item;
        let innerTail = tail && index === items.length - 1;
        while (inner.kind === 'repeat') {
          innerTail &&= inner.max === 1;
          inner = inner.item;
        }
        if (inner.kind === 'group') {
          const found = checkAlternatives(inner.alternatives, innerTail);
          if (found !== undefined) return found;
        }
      }
      return undefined;
    };
    const found = checkAlternatives(grammar.rules.get(name)!.alternatives, true);
    if (found !== undefined) return found;
  }
  return undefined;
}

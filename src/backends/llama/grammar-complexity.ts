// What a GBNF grammar will cost llama.cpp, measured before llama.cpp sees it.
//
// llama.cpp parses a grammar on the calling thread (the gateway's event loop) and rewrites every
// bounded repetition `x{m,n}` into m copies of x and a chain of n - m optional rules. The sampler
// then keeps one parse stack per way the text so far can be read, and advances every stack at every
// token, inside the decode step that all of the model's requests share. Repetitions that can read
// the same text multiply those stacks: `"a"{0,1999}` 400 times (4.8 KB) expanded to ~800,000 rules,
// took 3 s to parse and made each token cost seconds, stalling every request on the model. Measured
// on 2 cores with a 512-token vocabulary: 10 × `"a"{0,100}` costs at most 33 ms a token, 20 × 96 ms,
// 40 × 1.3 s; the cost grows faster than the sum of the repetitions.
//
// Two figures are computed, each with its limit:
// - elements: the size of the grammar after llama.cpp's expansion (parse time and memory);
// - repetition weight: the positions repetitions open (each repetition's copies times the positions
//   inside the repeated unit, so nested repetitions and repeated rule references multiply), counted
//   once more for every other optional repetition beside it in its sequence (see sequenceOf). An
//   estimate of the parse stacks the sampler advances at each token, the driver of its cost.
// Both are computed over the parsed grammar (gbnf-grammar.ts).
import type { GbnfGrammar, GbnfItem } from './gbnf-grammar.js';

/** Longest grammar text accepted, in characters. */
export const MAX_GRAMMAR_CHARACTERS = 65_536;
/** Most grammar elements after llama.cpp expands repetitions (about 35 ms of parsing on one core). */
export const MAX_GRAMMAR_ELEMENTS = 65_536;
/** Largest repetition weight (see above): keeps a token's grammar work under ~100 ms (measured). */
export const MAX_GRAMMAR_REPETITION_WEIGHT = 32_768;

export interface GrammarComplexity {
  characters: number;
  elements: number;
  repetitionWeight: number;
}

/** What an item, a sequence or a whole rule costs. */
interface Item {
  /** Elements a repetition of this item copies. */
  elements: number;
  /** Elements defined once however often the item repeats (a group's own rule). */
  shared: number;
  /** Summed once every rule is known (a list, not nested closures: a long rule must not recurse deeply). */
  positions: Array<() => number>;
  /** A repetition that may match nothing (`x?`, `x*`, `x{0,n}`). */
  optional: boolean;
}

function emptyItem(): Item {
  return { elements: 0, shared: 0, positions: [], optional: false };
}

function positionsOfItem(item: Item): number {
  let total = 0;
  for (const part of item.positions) total += part();
  return total;
}

/**
 * A sequence of items. Adjacent optional repetitions can each take the next character, and llama.cpp
 * advances every stack through all of them, so a run of k of them counts its positions k times:
 * 20 × `"a"{0,100}` then weighs 40,000 (96 ms a token measured), 40 × 160,000 (1.3 s).
 */
function sequenceOf(items: readonly Item[]): Item {
  const total = emptyItem();
  let run: Item[] = [];
  const closeRun = (): void => {
    if (run.length === 0) return;
    const members = run;
    total.positions.push(() => members.reduce((sum, member) => sum + positionsOfItem(member), 0) * members.length);
    run = [];
  };
  for (const item of items) {
    total.elements += item.elements;
    total.shared += item.shared;
    if (item.optional) {
      run.push(item);
      continue;
    }
    closeRun();
    for (const part of item.positions) total.positions.push(part);
  }
  closeRun();
  return total;
}

/** Adds `right` to `left` (which is changed and returned). */
function join(left: Item, right: Item): Item {
  left.elements += right.elements;
  left.shared += right.shared;
  for (const part of right.positions) left.positions.push(part);
  return left;
}

/**
 * `x{min,max}` as llama.cpp rewrites it: min copies of x, then max - min optional rules (one
 * recursive rule when unbounded), each holding x again. Positions: every copy of x can hold the
 * parse, each with the positions inside x; fixed copies of a plain terminal open none.
 */
function repeated(unit: Item, min: number, max: number | undefined): Item {
  const optionalRules = max === undefined ? 1 : max - min;
  const copies = min + optionalRules;
  return {
    elements: Math.max(0, min - 1) * unit.elements + optionalRules * (unit.elements + 3) + (min === 0 ? 1 : unit.elements + 1),
    shared: unit.shared,
    optional: min === 0,
    positions: [
      () => {
        const inner = positionsOfItem(unit);
        return optionalRules === 0 && inner === 0 ? 0 : copies * Math.max(1, inner);
      },
    ],
  };
}

/** The grammar's figures. */
export function measureGrammar(grammar: GbnfGrammar): GrammarComplexity {
  const resolved = new Map<string, number>();
  const resolving = new Set<string>();
  const costs = new Map<string, Item>();
  // A rule's positions with those of the rules it references; recursion adds nothing more.
  const positionsOf = (name: string): number => {
    const known = resolved.get(name);
    if (known !== undefined) return known;
    const rule = costs.get(name);
    if (rule === undefined || resolving.has(name)) return 0;
    resolving.add(name);
    const positions = positionsOfItem(rule);
    resolving.delete(name);
    resolved.set(name, positions);
    return positions;
  };
  const costOfItem = (item: GbnfItem): Item => {
    switch (item.kind) {
      case 'terminal':
        return { elements: item.elements, shared: 0, positions: [], optional: false };
      case 'ref':
        return { elements: 1, shared: 0, positions: [() => positionsOf(item.name)], optional: false };
      case 'group': {
        // A group becomes a rule of its own; the sequence holds one reference to it.
        const group = costOfAlternatives(item.alternatives);
        return { elements: 1, shared: group.elements + group.shared, positions: group.positions, optional: false };
      }
      case 'repeat':
        return repeated(costOfItem(item.item), item.min, item.max);
    }
  };
  // `a | b | c`: one ALT or END element per alternative.
  const costOfAlternatives = (alternatives: ReadonlyArray<readonly GbnfItem[]>): Item => {
    const total = emptyItem();
    for (const items of alternatives) {
      join(total, sequenceOf(items.map(costOfItem)));
      total.elements++;
    }
    return total;
  };
  for (const [name, rule] of grammar.rules) costs.set(name, costOfAlternatives(rule.alternatives));
  let elements = 0;
  for (const rule of costs.values()) elements += rule.elements + rule.shared;
  return { characters: grammar.characters, elements, repetitionWeight: positionsOf('root') };
}

/** Why the grammar is refused, naming the limit; undefined when it is within every limit. */
/**
 * `weighRepetitions`: false for grammars made from a JSON schema, whose repetitions are always
 * closed by a delimiter (a quote, a comma, a bracket), so they never read the same text two ways;
 * the weight multiplies nested bounds all the same, and refused ordinary schemas (100 items of 10
 * tags: weight 54,905, yet 5 ms a token at most). Their size is bounded by the schema limits.
 */
export function grammarComplexityProblem(grammar: GbnfGrammar, weighRepetitions = true): string | undefined {
  const measured = measureGrammar(grammar);
  if (measured.elements > MAX_GRAMMAR_ELEMENTS) {
    return `the grammar expands to about ${measured.elements} elements once its repetitions are unrolled; the limit is ${MAX_GRAMMAR_ELEMENTS} (lower the repetition bounds)`;
  }
  if (weighRepetitions && measured.repetitionWeight > MAX_GRAMMAR_REPETITION_WEIGHT) {
    return `the grammar's repetition weight is about ${measured.repetitionWeight} (the bounds of its repetitions x{m,n}, multiplied when nested or side by side); the limit is ${MAX_GRAMMAR_REPETITION_WEIGHT}, beyond which every token costs the model too long`;
  }
  return undefined;
}

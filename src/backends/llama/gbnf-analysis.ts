// Facts about a parsed GBNF grammar that several checks need: which rules and items can match
// nothing, what their first character can be, and which rules are recursive.
import { unionOfAll, type CharRanges, type GbnfGrammar, type GbnfItem } from './gbnf-grammar.js';

/** Rules that can match the empty string (a fixed point: a rule is nullable through others). */
export function nullableRules(grammar: GbnfGrammar): Set<string> {
  const nullable = new Set<string>();
  for (let changed = true; changed;) {
    changed = false;
    for (const [name, rule] of grammar.rules) {
      if (!nullable.has(name) && rule.alternatives.some((items) => sequenceNullable(items, nullable))) {
        nullable.add(name);
        changed = true;
      }
    }
  }
  return nullable;
}

export function itemNullable(item: GbnfItem, nullable: ReadonlySet<string>): boolean {
  switch (item.kind) {
    case 'terminal':
      return item.text === '';
    case 'ref':
      return nullable.has(item.name);
    case 'group':
      return item.alternatives.some((items) => sequenceNullable(items, nullable));
    case 'repeat':
      return item.min === 0 || itemNullable(item.item, nullable);
  }
}

export function sequenceNullable(items: readonly GbnfItem[], nullable: ReadonlySet<string>): boolean {
  return items.every((item) => itemNullable(item, nullable));
}

/**
 * The characters each item can start with. Rules are followed through their leftmost references,
 * which form no cycle once left recursion is refused; a chain thousands of rules long overflows
 * the stack (a RangeError, refused by the caller).
 */
export class FirstCharacters {
  readonly #rules = new Map<string, CharRanges>();

  constructor(
    private readonly grammar: GbnfGrammar,
    private readonly nullable: ReadonlySet<string>,
  ) {}

  ofItem(item: GbnfItem): CharRanges {
    switch (item.kind) {
      case 'terminal':
        return item.first;
      case 'ref':
        return this.ofRule(item.name);
      case 'group':
        return this.ofAlternatives(item.alternatives);
      case 'repeat':
        return item.max === 0 ? [] : this.ofItem(item.item);
    }
  }

  ofSequence(items: readonly GbnfItem[]): CharRanges {
    const parts: CharRanges[] = [];
    for (const item of items) {
      parts.push(this.ofItem(item));
      if (!itemNullable(item, this.nullable)) break;
    }
    return unionOfAll(parts);
  }

  ofAlternatives(alternatives: ReadonlyArray<readonly GbnfItem[]>): CharRanges {
    return unionOfAll(alternatives.map((items) => this.ofSequence(items)));
  }

  ofRule(name: string): CharRanges {
    let first = this.#rules.get(name);
    if (first === undefined) {
      this.#rules.set(name, []);
      first = this.ofAlternatives(this.grammar.rules.get(name)?.alternatives ?? []);
      this.#rules.set(name, first);
    }
    return first;
  }
}

/** The rule names an item refers to, groups and repetitions included. */
export function referencesOf(items: readonly GbnfItem[], into = new Set<string>()): Set<string> {
  for (const item of items) {
    if (item.kind === 'ref') into.add(item.name);
    else if (item.kind === 'group') for (const alternative of item.alternatives) referencesOf(alternative, into);
    else if (item.kind === 'repeat') referencesOf([item.item], into);
  }
  return into;
}

/** Each recursive rule's cycle in the reference graph (see cyclesOf). */
export function recursiveComponents(grammar: GbnfGrammar): Map<string, ReadonlySet<string>> {
  const edges = new Map<string, string[]>();
  for (const [name, rule] of grammar.rules) {
    const targets = new Set<string>();
    for (const alternative of rule.alternatives) referencesOf(alternative, targets);
    edges.set(name, [...targets]);
  }
  return cyclesOf(edges);
}

/**
 * Each rule on a cycle of `edges`, with the rules of its cycle: the ones it can reach and that reach
 * it back (a strongly connected component, found by Tarjan's algorithm without recursion, since a
 * grammar may hold thousands of rules). Rules in no cycle are absent.
 */
export function cyclesOf(edges: ReadonlyMap<string, readonly string[]>): Map<string, ReadonlySet<string>> {
  const order = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components = new Map<string, ReadonlySet<string>>();
  for (const start of edges.keys()) {
    if (order.has(start)) continue;
    const work: Array<[string, number]> = [[start, 0]];
    while (work.length > 0) {
      const frame = work[work.length - 1];
      const [name, next] = frame;
      if (next === 0) {
        order.set(name, order.size);
        low.set(name, order.get(name)!);
        stack.push(name);
        onStack.add(name);
      }
      const targets = edges.get(name) ?? [];
      if (next < targets.length) {
        frame[1]++;
        const target = targets[next];
        if (!order.has(target)) work.push([target, 0]);
        else if (onStack.has(target)) low.set(name, Math.min(low.get(name)!, order.get(target)!));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined) low.set(parent[0], Math.min(low.get(parent[0])!, low.get(name)!));
      if (low.get(name) !== order.get(name)) continue;
      const members = new Set<string>();
      for (let member = stack.pop()!; ; member = stack.pop()!) {
        onStack.delete(member);
        members.add(member);
        if (member === name) break;
      }
      if (members.size > 1 || targets.includes(name)) for (const member of members) components.set(member, members);
    }
  }
  return components;
}

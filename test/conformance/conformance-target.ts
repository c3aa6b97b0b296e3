// A target of a capability suite (one backend serving the model under test) and how each check is
// registered for it: skipped, with the reason, where the target lacks a feature; marked todo, with
// the reason, where it is a known failure. Nothing is left out silently.
import { after, before, test } from 'node:test';
import type { ServedModel } from './served-model.js';

export interface ConformanceTarget<Features> {
  name: string;
  features: Features;
  start(): Promise<ServedModel>;
  /** Checks this target is known to fail, by title, with why: they run and are reported as todo. */
  knownFailures?: Record<string, string>;
}

/** The feature a check needs and whether the target has it. */
export interface Needs {
  feature: string;
  has: boolean;
}

type CheckBody = () => Promise<void>;

export interface CheckRegistry {
  /** Registers one check, run by every target (or, with `needs`, by the targets that have the feature). */
  check(title: string, body: CheckBody): void;
  check(title: string, needs: Needs, body: CheckBody): void;
  /** Fails when a known failure names no check, so that a renamed check cannot hide one. */
  verifyKnownFailures(): void;
}

export function checksFor(target: ConformanceTarget<object>): CheckRegistry {
  const titles = new Set<string>();
  return {
    check(title: string, needsOrBody: Needs | CheckBody, body?: CheckBody) {
      titles.add(title);
      const needs = typeof needsOrBody === 'function' ? undefined : needsOrBody;
      const skip = needs && !needs.has ? `${target.name} does not support ${needs.feature}` : undefined;
      test(title, { skip, todo: target.knownFailures?.[title] }, body ?? (needsOrBody as CheckBody));
    },
    verifyKnownFailures() {
      const unknown = Object.keys(target.knownFailures ?? {}).filter((title) => !titles.has(title));
      test('every known failure names a check of this suite', () => {
        if (unknown.length > 0) throw new Error(`no check is titled: ${unknown.map((title) => JSON.stringify(title)).join(', ')}`);
      });
    },
  };
}

/**
 * The target's model, served for the suite this is called in: started before its first check,
 * closed after its last. A view whose fields are read inside the checks (they exist once the
 * suite's `before` has run).
 */
export function serveDuringSuite(target: ConformanceTarget<object>): ServedModel {
  let started: ServedModel | undefined;
  before(async () => {
    started = await target.start();
  });
  after(() => started?.close());
  const current = (): ServedModel => {
    if (started === undefined) throw new Error(`the model of ${target.name} is not served (yet)`);
    return started;
  };
  return {
    get url() {
      return current().url;
    },
    get client() {
      return current().client;
    },
    get model() {
      return current().model;
    },
    close: () => current().close(),
  };
}

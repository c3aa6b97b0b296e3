// What the model-call API's calls throw, in one place for its callers: the registry's errors
// (which model, may it serve), the admission's (queue, wait, run time) and the context budget's.
// Engine errors come from src/engine/errors.ts.
export * from '../registry/model-errors.js';
export * from '../scheduler/admission-errors.js';
export { ContextLengthError } from './context-budget.js';

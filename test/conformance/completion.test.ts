// The text-completion conformance suite over every backend that serves /v1/completions. Adding an
// engine: one line in TARGETS, with the features it has.
import { models } from '../helpers/paths.js';
import { completionConformance, type CompletionFeatures } from './completion-conformance.js';
import type { ConformanceTarget } from './conformance-target.js';
import { llamaServerTargets, serveLocal, serveRemote } from './served-model.js';

const LLAMA_COMPLETION = `
path = "${models.stories}"
type = "completion"
context_length = 256
threads = 1
parallel = 2
`;

// stories260k has no fill-in-the-middle tokens.
const LLAMA_FEATURES: CompletionFeatures = { contextLength: 256, stop: true, echo: true, fillInTheMiddle: false };

const TARGETS: Array<ConformanceTarget<CompletionFeatures>> = [
  { name: 'llama', features: LLAMA_FEATURES, start: () => serveLocal(`backend = "llama"${LLAMA_COMPLETION}`) },
  ...llamaServerTargets({ name: 'llama-server', features: LLAMA_FEATURES, start: () => serveLocal(`backend = "llama-server"${LLAMA_COMPLETION}`) }),
  { name: 'remote (to llama)', features: LLAMA_FEATURES, start: () => serveRemote(`backend = "llama"${LLAMA_COMPLETION}`, 'type = "completion"') },
];

for (const target of TARGETS) completionConformance(target);

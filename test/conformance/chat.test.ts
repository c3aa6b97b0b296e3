// The chat conformance suite over every backend that serves chat. Adding an engine: one line in
// TARGETS, with the features it has.
import { models } from '../helpers/paths.js';
import { chatConformance, type ChatFeatures } from './chat-conformance.js';
import type { ConformanceTarget } from './conformance-target.js';
import { llamaServerTargets, serveLocal, serveRemote } from './served-model.js';

// One sequence: a generation that outlived its client would hold it, and the next request would wait.
const LLAMA_CHAT = `
path = "${models.storiesChatml}"
type = "chat"
context_length = 512
threads = 1
parallel = 1
queue_timeout = 10
`;

const EVERYTHING: ChatFeatures = { contextLength: 512, n: true, seed: true, stop: true, jsonSchema: true, logprobs: true };

const TARGETS: Array<ConformanceTarget<ChatFeatures>> = [
  { name: 'llama', features: EVERYTHING, start: () => serveLocal(`backend = "llama"${LLAMA_CHAT}`) },
  ...llamaServerTargets({ name: 'llama-server', features: EVERYTHING, start: () => serveLocal(`backend = "llama-server"${LLAMA_CHAT}`) }),
  { name: 'remote (to llama)', features: EVERYTHING, start: () => serveRemote(`backend = "llama"${LLAMA_CHAT}`, 'type = "chat"') },
];

for (const target of TARGETS) chatConformance(target);

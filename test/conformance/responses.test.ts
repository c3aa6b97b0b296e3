// The Responses API conformance suite over every engine that serves chat with tools. Adding an
// engine: one line in TARGETS.
import { writeToolModel } from '../helpers/tool-model.js';
import { responsesConformance, type ResponsesTarget } from './responses-conformance.js';
import { llamaServerTargets, serveLocal, serveRemote } from './served-model.js';

// A .gguf chat model that names no backend runs on llama-server: each target names the engine it means.
const toolChat = (backend: string, file: string) => `
backend = "${backend}"
path = "${file}"
type = "chat"
context_length = 2048
threads = 1
parallel = 1
queue_timeout = 10
`;

const TARGETS: ResponsesTarget[] = [
  { name: 'llama', features: {}, start: async () => serveLocal(toolChat('llama', await writeToolModel())) },
  ...llamaServerTargets({ name: 'llama-server', features: {}, start: async () => serveLocal(toolChat('llama-server', await writeToolModel())) }),
  { name: 'remote (to llama)', features: {}, start: async () => serveRemote(toolChat('llama', await writeToolModel()), 'type = "chat"') },
];

for (const target of TARGETS) responsesConformance(target);

// The tool conformance suite over every backend that serves tool calls. Adding an engine: one line
// in TARGETS, with the features it has.
import { writeToolModel } from '../helpers/tool-model.js';
import { llamaServerTargets, serveLocal, serveRemote } from './served-model.js';
import { toolConformance, type ToolTarget } from './tool-conformance.js';

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

const TARGETS: ToolTarget[] = [
  {
    name: 'llama',
    features: { parallelCalls: true },
    start: async () => serveLocal(toolChat('llama', await writeToolModel())),
    startWith: async (template) => serveLocal(toolChat('llama', await writeToolModel(template))),
  },
  ...llamaServerTargets({
    name: 'llama-server',
    features: { parallelCalls: true },
    start: async () => serveLocal(toolChat('llama-server', await writeToolModel())),
    startWith: async (template: string) => serveLocal(toolChat('llama-server', await writeToolModel(template))),
  }),
  {
    name: 'remote (to llama)',
    features: { parallelCalls: true },
    start: async () => serveRemote(toolChat('llama', await writeToolModel()), 'type = "chat"'),
    startWith: async (template) => serveRemote(toolChat('llama', await writeToolModel(template)), 'type = "chat"'),
  },
];

for (const target of TARGETS) toolConformance(target);

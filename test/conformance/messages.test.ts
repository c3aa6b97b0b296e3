// The Anthropic Messages conformance suite over every backend that serves chat. Adding an engine:
// one line in TARGETS, with the features it has.
import { writeToolModel } from '../helpers/tool-model.js';
import { messagesConformance, type MessagesFeatures } from './messages-conformance.js';
import type { ConformanceTarget } from './conformance-target.js';
import { llamaServerTargets, serveLocal, serveRemote } from './served-model.js';

const toolChat = (backend: string, file: string) => `
backend = "${backend}"
path = "${file}"
type = "chat"
context_length = 1024
threads = 1
parallel = 1
queue_timeout = 10
`;

const TARGETS: Array<ConformanceTarget<MessagesFeatures>> = [
  { name: 'llama', features: { reportsStopSequence: true, exactTokenCount: true }, start: async () => serveLocal(toolChat('llama', await writeToolModel())) },
  ...llamaServerTargets({
    name: 'llama-server',
    features: { reportsStopSequence: true, exactTokenCount: true },
    start: async () => serveLocal(toolChat('llama-server', await writeToolModel())),
  }),
  {
    name: 'remote (to llama)',
    features: { reportsStopSequence: false, exactTokenCount: false },
    start: async () => serveRemote(toolChat('llama', await writeToolModel()), 'type = "chat"'),
  },
];

for (const target of TARGETS) messagesConformance(target);

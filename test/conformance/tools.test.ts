// The tool conformance suite over every backend that serves tool calls. Adding an engine: one line
// in TARGETS, with the features it has.
import { writeToolModel } from '../helpers/tool-model.js';
import type { ConformanceTarget } from './conformance-target.js';
import { serveLocal } from './served-model.js';
import { toolConformance, type ToolFeatures } from './tool-conformance.js';

const toolChat = (file: string) => `
path = "${file}"
type = "chat"
context_length = 2048
threads = 1
parallel = 1
queue_timeout = 10
`;

const TARGETS: Array<ConformanceTarget<ToolFeatures>> = [
  { name: 'llama', features: { parallelCalls: true }, start: async () => serveLocal(`${toolChat(await writeToolModel())}backend = "llama"\n`) },
];

for (const target of TARGETS) toolConformance(target);
